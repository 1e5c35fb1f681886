package etcd_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/terminus-project/terminus/internal/storage"
	"github.com/terminus-project/terminus/internal/storage/embedded"
	"github.com/terminus-project/terminus/internal/storage/etcd"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// newServer starts an embedded etcd in a fresh directory, stopped when the
// test ends.
func newServer(t testing.TB) *embedded.Server {
	t.Helper()
	return newServerWith(t, embedded.Config{})
}

func newServerWith(t testing.TB, cfg embedded.Config) *embedded.Server {
	t.Helper()
	cfg.DataDir = t.TempDir()
	srv, err := embedded.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close etcd: %v", err)
		}
	})
	return srv
}

// TestConformance gives every subtest its own server: they run in
// parallel and some compact, which is server-wide. A server starts in
// about 40 ms, so isolation is cheap.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		srv := newServer(t)
		s, err := etcd.New(etcd.Config{Client: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// BenchmarkCreate measures parallel creates of distinct keys through the
// in-process client of an embedded etcd, one watch open, with fsync (the
// default) and without (UnsafeNoFsync, to show what the disk costs).
func BenchmarkCreate(b *testing.B) {
	b.Run("fsync", func(b *testing.B) { benchmarkCreate(b, embedded.Config{}) })
	b.Run("nofsync", func(b *testing.B) { benchmarkCreate(b, embedded.Config{UnsafeNoFsync: true}) })
}

func benchmarkCreate(b *testing.B, cfg embedded.Config) {
	srv := newServerWith(b, cfg)
	s, err := etcd.New(etcd.Config{Client: srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := b.Context()
	ch, err := s.Watch(ctx, "/bench/", 0)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
		}
	}()
	var id atomic.Int64
	value := make([]byte, 512)
	b.SetParallelism(16) // many concurrent writers, as API requests are
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, "/bench/"+strconv.FormatInt(id.Add(1), 10), value); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	s.Close()
	<-done
}
