package imagegc

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/agent/images"
)

const benchImages = 1000

// benchPolicy on a filesystem exactly as big as the images (100% used) frees down to 50%:
// about half the images go.
func benchPolicy() Policy { return Policy{HighThresholdPercent: 85, LowThresholdPercent: 50} }

// BenchmarkGarbageCollect1000 times one pass over a real store of 1,000 tiny images that has
// to remove about half of them. The store is built once; every iteration works on a fresh
// copy of it, made with the timer stopped.
func BenchmarkGarbageCollect1000(b *testing.B) {
	ctx := context.Background()
	clk := testclock.NewFakeClock(t0)
	golden := filepath.Join(b.TempDir(), "golden")
	s, err := images.Open(golden, images.Options{Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchImages {
		buildImage(b, ctx, s, fmt.Sprintf("example.com/bench/img%04d:v1", i), 512, uint64(i+1))
		clk.Step(time.Second)
	}
	clk.Step(time.Hour)
	imgs, err := s.List()
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, im := range imgs {
		total += im.Size
	}

	work := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(work, fmt.Sprint(i))
		if err := os.CopyFS(dir, os.DirFS(golden)); err != nil {
			b.Fatal(err)
		}
		store, err := images.Open(dir, images.Options{Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		c, err := New(Config{Store: store, Policy: benchPolicy(), Stats: CapacityStats(total, store), Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		res, err := c.GarbageCollect(ctx)

		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if n := len(res.Removed); n < benchImages*4/10 || n > benchImages*6/10 {
			b.Fatalf("removed %d of %d images, want about half", n, benchImages)
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkPolicy1000 times the collector's own work in a pass over 1,000 images, about half
// of which go, with an in-memory store.
func BenchmarkPolicy1000(b *testing.B) {
	var imgs []images.Image
	for i := range benchImages {
		// Every third image never used; the rest used at scattered times.
		var lastUsed time.Duration
		if i%3 != 0 {
			lastUsed = -time.Duration((i*7919)%benchImages) * time.Second
		}
		imgs = append(imgs, img(fmt.Sprintf("sha256:%064x", i), 1000, -2*time.Hour+time.Duration(i)*time.Second, lastUsed))
	}
	golden := newFakeStore(imgs...)
	for i := 0; i < benchImages; i += 50 {
		golden.use(imgs[i].ID, fmt.Sprintf("/run/containers/c%d", i))
	}
	var total int64
	for _, im := range imgs {
		total += im.Size
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store := &fakeStore{images: maps.Clone(golden.images), inUse: golden.inUse}
		c, err := New(Config{Store: store, Policy: benchPolicy(), Stats: fixedStats(total, 0), Clock: testclock.NewFakeClock(t0)})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		res, err := c.GarbageCollect(context.Background())

		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if n := len(res.Removed); n != benchImages/2 {
			b.Fatalf("removed %d images, want %d", n, benchImages/2)
		}
		b.StartTimer()
	}
}
