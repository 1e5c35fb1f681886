package memory_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/terminus-project/terminus/internal/storage"
	"github.com/terminus-project/terminus/internal/storage/memory"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := memory.New(memory.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestWatchOverflowEndsTheWatch(t *testing.T) {
	s := memory.New(memory.Options{WatchBuffer: 4})
	defer s.Close()
	ctx := t.Context()
	ch, err := s.Watch(ctx, "/o/", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads: the writers must still complete.
	for i := range 10 {
		if _, err := s.Create(ctx, fmt.Sprintf("/o/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	var evs []storage.Event
	for ev := range ch {
		evs = append(evs, ev)
	}
	if len(evs) != 5 {
		t.Fatalf("got %d events, want 4 and the error", len(evs))
	}
	for i, ev := range evs[:4] {
		if ev.Type != storage.EventPut || ev.KV.Key != fmt.Sprintf("/o/%d", i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if last := evs[4]; last.Type != storage.EventError || !errors.Is(last.Err, memory.ErrWatchOverflow) {
		t.Fatalf("last event %+v, want EventError wrapping ErrWatchOverflow", last)
	}
	// Other writes and watches go on.
	if _, err := s.Create(ctx, "/o/after", nil); err != nil {
		t.Fatal(err)
	}
}

func TestWatchBacklogLargerThanBuffer(t *testing.T) {
	s := memory.New(memory.Options{WatchBuffer: 2})
	defer s.Close()
	ctx := t.Context()
	for i := range 50 {
		if _, err := s.Create(ctx, fmt.Sprintf("/b/%02d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := s.Watch(ctx, "/b/", 0+1) // after revision 1: 49 events
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 50; i++ {
		ev := <-ch
		if ev.Type != storage.EventPut || ev.KV.Key != fmt.Sprintf("/b/%02d", i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
}

func TestHistoryRevisionsBoundsHistory(t *testing.T) {
	s := memory.New(memory.Options{HistoryRevisions: 10})
	defer s.Close()
	ctx := t.Context()
	rev, err := s.Create(ctx, "/h/k", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if rev, err = s.Update(ctx, "/h/k", fmt.Append(nil, i), rev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.List(ctx, "/h/", storage.ListOptions{Revision: rev - 10}); err != nil {
		t.Fatalf("list %d revisions back: %v", 10, err)
	}
	if _, err := s.List(ctx, "/h/", storage.ListOptions{Revision: rev - 25}); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("list 25 revisions back: %v, want ErrCompacted", err)
	}
}

func TestListTenThousandKeys(t *testing.T) {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := t.Context()
	const n = 10000
	// Created in reverse order: every create inserts at the front of the
	// sorted index, the worst case.
	for i := n - 1; i >= 0; i-- {
		if _, err := s.Create(ctx, fmt.Sprintf("/big/%05d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	opts := storage.ListOptions{Limit: 500}
	seen := 0
	for {
		res, err := s.List(ctx, "/big/", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range res.KVs {
			if want := fmt.Sprintf("/big/%05d", seen); kv.Key != want {
				t.Fatalf("key %s, want %s", kv.Key, want)
			}
			seen++
		}
		if !res.More {
			break
		}
		opts.Revision, opts.StartKey = res.Revision, res.KVs[len(res.KVs)-1].Key+"\x00"
	}
	if seen != n {
		t.Fatalf("paged %d keys, want %d", seen, n)
	}
}

func TestClosedStore(t *testing.T) {
	s := memory.New(memory.Options{})
	s.Close()
	if _, err := s.Create(t.Context(), "/k", nil); !errors.Is(err, memory.ErrClosed) {
		t.Fatalf("create after close: %v", err)
	}
	if _, err := s.Watch(t.Context(), "/", 0); !errors.Is(err, memory.ErrClosed) {
		t.Fatalf("watch after close: %v", err)
	}
}

// BenchmarkCreate measures parallel creates of distinct keys with one
// watch open (as the registry's watch cache always has).
func BenchmarkCreate(b *testing.B) {
	s := memory.New(memory.Options{HistoryRevisions: 10000})
	defer s.Close()
	ctx := b.Context()
	ch, err := s.Watch(ctx, "/bench/", 0)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range ch {
		}
	}()
	var id atomic.Int64
	value := make([]byte, 512)
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
}

// BenchmarkListPage measures one page of 500 from the middle of 10k keys.
func BenchmarkListPage(b *testing.B) {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := b.Context()
	for i := range 10000 {
		if _, err := s.Create(ctx, fmt.Sprintf("/big/%05d", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.List(ctx, "/big/", storage.ListOptions{Limit: 500, StartKey: "/big/05000"})
		if err != nil || len(res.KVs) != 500 {
			b.Fatal(err, len(res.KVs))
		}
	}
}
