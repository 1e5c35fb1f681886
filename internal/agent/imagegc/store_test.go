package imagegc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/agent/images"
)

// buildImage builds a one-file image whose file holds size pseudo-random (so incompressible)
// bytes derived from seed.
func buildImage(tb testing.TB, ctx context.Context, s *images.Store, tag string, size int, seed uint64) images.Image {
	tb.Helper()
	dir := tb.TempDir()
	data := make([]byte, size)
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	img, err := s.Build(ctx, images.BuildSpec{Dir: dir, Tag: tag, Config: images.Config{Cmd: []string{"/data"}}})
	if err != nil {
		tb.Fatalf("Build %s: %v", tag, err)
	}
	return img
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestGarbageCollectRealStore(t *testing.T) {
	ctx := context.Background()
	clk := testclock.NewFakeClock(t0)
	store, err := images.Open(filepath.Join(t.TempDir(), "images"), images.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}

	// Six images of one 256 KiB file each, a minute apart.
	const unit = 256 << 10
	var imgs []images.Image
	for i := range 6 {
		imgs = append(imgs, buildImage(t, ctx, store, fmt.Sprintf("example.com/img%d:v1", i), unit, uint64(i+1)))
		clk.Step(time.Minute)
	}
	hex := func(i int) string { return strings.TrimPrefix(imgs[i].ID, "sha256:") }

	// img1 and img4 have running containers; img0 had one, since gone.
	containers := t.TempDir()
	for _, i := range []int{0, 1, 4} {
		holder := filepath.Join(containers, fmt.Sprintf("c%d", i))
		if err := os.Mkdir(holder, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := store.Use(imgs[i].ID, holder); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Release(filepath.Join(containers, "c0")); err != nil {
		t.Fatal(err)
	}
	// img1 and img2 are unpacked, which doubles their size.
	for _, i := range []int{1, 2} {
		if _, err := store.RootFS(imgs[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	clk.Step(time.Hour) // past MinAge

	listed, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, im := range listed {
		total += im.Size
	}
	// About 8 units on 8.8: 91% used. Freeing down to 50% means 3.6 units: in eviction
	// order img2 (2 units, never used, oldest), img3, img5 (never used), then img0 (used).
	capacity := total + total/10
	rec := record.NewFakeRecorder(10)
	c, err := New(Config{
		Store:    store,
		Policy:   Policy{HighThresholdPercent: 85, LowThresholdPercent: 50, MinAge: 2 * time.Minute},
		Stats:    CapacityStats(capacity, store),
		Clock:    clk,
		Recorder: rec,
		NodeRef:  nodeRef(),
	})
	if err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(store.Dir(), "blobs", "sha256")
	if n := countFiles(t, blobs); n != 18 {
		t.Fatalf("%d blobs before the pass, want 18 (manifest, config and layer of 6 images)", n)
	}

	res, err := c.GarbageCollect(ctx)
	if err != nil {
		t.Fatalf("GarbageCollect: %v", err)
	}
	var removed []string
	for _, im := range res.Removed {
		removed = append(removed, im.ID)
	}
	want := []string{imgs[2].ID, imgs[3].ID, imgs[5].ID}
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %q, want img2, img3, img5 %q", removed, want)
	}
	if res.Usage != 91 || res.InUse != 2 || res.Images != 6 {
		t.Errorf("Result = %+v", res)
	}
	if res.FreedBytes < res.AmountToFree {
		t.Errorf("freed %d of %d", res.FreedBytes, res.AmountToFree)
	}

	left, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	var leftIDs []string
	for _, im := range left {
		leftIDs = append(leftIDs, im.ID)
	}
	if want := []string{imgs[0].ID, imgs[1].ID, imgs[4].ID}; !slices.Equal(leftIDs, want) {
		t.Errorf("left %q, want img0, img1, img4 %q", leftIDs, want)
	}
	if n := countFiles(t, blobs); n != 9 {
		t.Errorf("%d blobs after the pass, want 9", n)
	}
	for _, i := range []int{2, 3, 5} {
		for _, p := range []string{filepath.Join(blobs, hex(i)), filepath.Join(store.Dir(), "meta", hex(i)+".json"), filepath.Join(store.Dir(), "rootfs", hex(i))} {
			if exists(t, p) {
				t.Errorf("img%d: %s is still there", i, p)
			}
		}
	}
	for _, i := range []int{0, 1, 4} {
		if !exists(t, filepath.Join(blobs, hex(i))) {
			t.Errorf("img%d: config blob is gone", i)
		}
	}
	if !exists(t, filepath.Join(store.Dir(), "rootfs", hex(1))) {
		t.Error("img1: the root filesystem of an image in use is gone")
	}
	wantEvent := fmt.Sprintf("Normal FreedDiskSpace Freed %d bytes from the image filesystem by deleting 3 unused images", res.FreedBytes)
	if got := events(rec); !slices.Equal(got, []string{wantEvent}) {
		t.Errorf("events = %q, want [%q]", got, wantEvent)
	}

	// The container of img4 is removed without a Release (its directory deleted): the
	// stale lease no longer pins the image, and a pass that must free everything takes it,
	// while img1's running container still protects img1.
	if err := os.Remove(filepath.Join(containers, "c4")); err != nil {
		t.Fatal(err)
	}
	clk.Step(5 * time.Minute)
	c2, err := New(Config{
		Store:  store,
		Policy: Policy{HighThresholdPercent: 1, LowThresholdPercent: 0},
		Stats:  CapacityStats(capacity, store),
		Clock:  clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c2.GarbageCollect(ctx)
	var fsErr *FreeSpaceError
	if !errors.As(err, &fsErr) {
		t.Fatalf("GarbageCollect = %v, want a FreeSpaceError (img1 cannot go)", err)
	}
	removed = removed[:0]
	for _, im := range res.Removed {
		removed = append(removed, im.ID)
	}
	if want := []string{imgs[0].ID, imgs[4].ID}; !slices.Equal(removed, want) {
		t.Errorf("second pass removed %q, want img0, img4 %q", removed, want)
	}
}
