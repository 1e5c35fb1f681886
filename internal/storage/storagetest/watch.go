package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/terminus-project/terminus/internal/storage"
)

// next returns the next event of ch, failing the test if ch closes or
// nothing arrives in time.
func next(t *testing.T, ch <-chan storage.Event) storage.Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want an event")
		}
		return ev
	case <-timer.C:
		t.Fatal("no watch event within the deadline")
	}
	panic("unreachable")
}

// waitClosed drains ch until it closes, failing the test past the
// deadline. It returns the events drained.
func waitClosed(t *testing.T, ch <-chan storage.Event) []storage.Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var evs []storage.Event
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-timer.C:
			t.Fatalf("watch channel not closed within the deadline (%d events drained)", len(evs))
		}
	}
}

// want describes an expected event; Prev is checked by value and
// revisions.
type want struct {
	typ     storage.EventType
	key     string
	value   string
	rev     int64
	created bool
	prev    *storage.KeyValue
}

func expect(t *testing.T, ch <-chan storage.Event, w want) {
	t.Helper()
	ev := next(t, ch)
	if ev.Type == storage.EventError {
		t.Fatalf("want %s event for %s at %d, got an error: %v", typeName(w.typ), w.key, w.rev, ev.Err)
	}
	got := fmt.Sprintf("%s %s %q rev=%d created=%v", typeName(ev.Type), ev.KV.Key, ev.KV.Value, ev.KV.ModRevision, ev.Created)
	exp := fmt.Sprintf("%s %s %q rev=%d created=%v", typeName(w.typ), w.key, w.value, w.rev, w.created)
	if got != exp {
		t.Fatalf("event: got %s, want %s", got, exp)
	}
	switch {
	case w.prev == nil && ev.Prev != nil:
		t.Fatalf("event %s: Prev %+v, want nil", exp, *ev.Prev)
	case w.prev != nil && ev.Prev == nil:
		t.Fatalf("event %s: Prev nil, want %+v", exp, *w.prev)
	case w.prev != nil:
		checkKV(t, "event "+exp+" Prev", *ev.Prev, w.prev.Key, string(w.prev.Value), w.prev.CreateRevision, w.prev.ModRevision)
	}
}

func typeName(t storage.EventType) string {
	switch t {
	case storage.EventPut:
		return "PUT"
	case storage.EventDelete:
		return "DELETE"
	case storage.EventError:
		return "ERROR"
	case storage.EventProgress:
		return "PROGRESS"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// sentinel writes a marker key under prefix and expects it as the next
// event: proof that nothing else (no duplicate, no stray key) was queued
// before it.
func sentinel(t *testing.T, ctx context.Context, s storage.Store, ch <-chan storage.Event, prefix string) int64 {
	t.Helper()
	key := prefix + "zz-sentinel"
	rev, err := s.Create(ctx, key, []byte("end"))
	if err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	expect(t, ch, want{typ: storage.EventPut, key: key, value: "end", rev: rev, created: true})
	return rev
}

func testWatchFromRevision(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	must[int64](t, "create before")(s.Create(ctx, "/w/before", []byte("x")))
	start := must[int64](t, "current revision")(s.CurrentRevision(ctx))

	rA := must[int64](t, "create a")(s.Create(ctx, "/w/a", []byte("a1")))
	must[int64](t, "create other")(s.Create(ctx, "/other/a", []byte("o")))
	rA2 := must[int64](t, "update a")(s.Update(ctx, "/w/a", []byte("a2"), rA))
	rB := must[int64](t, "create b")(s.Create(ctx, "/w/b", []byte("b1")))
	rDel, _, err := s.Delete(ctx, "/w/a", rA2)
	if err != nil {
		t.Fatal(err)
	}
	history := []want{
		{typ: storage.EventPut, key: "/w/a", value: "a1", rev: rA, created: true},
		{typ: storage.EventPut, key: "/w/a", value: "a2", rev: rA2, prev: &storage.KeyValue{Key: "/w/a", Value: []byte("a1"), CreateRevision: rA, ModRevision: rA}},
		{typ: storage.EventPut, key: "/w/b", value: "b1", rev: rB, created: true},
		{typ: storage.EventDelete, key: "/w/a", rev: rDel, prev: &storage.KeyValue{Key: "/w/a", Value: []byte("a2"), CreateRevision: rA, ModRevision: rA2}},
	}

	ch := must[<-chan storage.Event](t, "watch")(s.Watch(ctx, "/w/", start))
	for _, w := range history {
		expect(t, ch, w)
	}
	// Live events follow the replayed ones without a gap or a repeat.
	rC := must[int64](t, "create c")(s.Create(ctx, "/w/c", []byte("c1")))
	expect(t, ch, want{typ: storage.EventPut, key: "/w/c", value: "c1", rev: rC, created: true})
	rS := sentinel(t, ctx, s, ch, "/w/")

	// From the middle of the history: only the later events.
	ch2 := must[<-chan storage.Event](t, "watch from the middle")(s.Watch(ctx, "/w/", rA2))
	expect(t, ch2, history[2])
	expect(t, ch2, history[3])
	expect(t, ch2, want{typ: storage.EventPut, key: "/w/c", value: "c1", rev: rC, created: true})
	expect(t, ch2, want{typ: storage.EventPut, key: "/w/zz-sentinel", value: "end", rev: rS, created: true})
	sentinel(t, ctx, s, ch2, "/w/x")
}

func testWatchFromNow(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	must[int64](t, "create before")(s.Create(ctx, "/now/a", []byte("old")))
	ch := must[<-chan storage.Event](t, "watch")(s.Watch(ctx, "/now/", 0))
	rB := must[int64](t, "create b")(s.Create(ctx, "/now/b", []byte("new")))
	expect(t, ch, want{typ: storage.EventPut, key: "/now/b", value: "new", rev: rB, created: true})
	sentinel(t, ctx, s, ch, "/now/")
}

func testWatchFromFuture(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	cur := must[int64](t, "current revision")(s.CurrentRevision(ctx))
	ch := must[<-chan storage.Event](t, "watch")(s.Watch(ctx, "/fut/", cur+2))
	must[int64](t, "create a")(s.Create(ctx, "/fut/a", nil))
	must[int64](t, "create b")(s.Create(ctx, "/fut/b", nil))
	r := must[int64](t, "create c")(s.Create(ctx, "/fut/c", nil))
	expect(t, ch, want{typ: storage.EventPut, key: "/fut/c", rev: r, created: true})
	sentinel(t, ctx, s, ch, "/fut/")
}

func testWatchProgress(t *testing.T, s storage.Store) {
	pr, ok := s.(storage.ProgressRequester)
	if !ok {
		t.Skip("the store does not implement storage.ProgressRequester")
	}
	ctx := ctxFor(t)
	ch := must[<-chan storage.Event](t, "watch")(s.Watch(ctx, "/prog/a/", 0))
	r := must[int64](t, "create elsewhere")(s.Create(ctx, "/prog/b/x", nil))
	if err := pr.RequestProgress(ctx); err != nil {
		t.Fatalf("request progress: %v", err)
	}
	ev := next(t, ch)
	if ev.Type != storage.EventProgress || ev.KV.ModRevision < r {
		t.Fatalf("got %s at %d, want progress at %d or later", typeName(ev.Type), ev.KV.ModRevision, r)
	}
	sentinel(t, ctx, s, ch, "/prog/a/")
}

func testWatchPrefix(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	ch := must[<-chan storage.Event](t, "watch")(s.Watch(ctx, "/wp/a/", 0))
	for _, k := range []string{"/wp/ab/x", "/wp/b/x", "/wp/a", "/wp/", "/wq/a/x"} {
		must[int64](t, "create "+k)(s.Create(ctx, k, nil))
	}
	r := must[int64](t, "create")(s.Create(ctx, "/wp/a/x", []byte("in")))
	expect(t, ch, want{typ: storage.EventPut, key: "/wp/a/x", value: "in", rev: r, created: true})
	sentinel(t, ctx, s, ch, "/wp/a/")
}

// expectCompacted checks that a watch from a compacted revision failed
// with ErrCompacted, at once or as its only event.
func expectCompacted(t *testing.T, ch <-chan storage.Event, err error) {
	t.Helper()
	if err != nil {
		wantErr(t, "watch from a compacted revision", err, storage.ErrCompacted)
		return
	}
	evs := waitClosed(t, ch)
	if len(evs) != 1 || evs[0].Type != storage.EventError {
		t.Fatalf("watch from a compacted revision: got %d events (%v), want one EventError", len(evs), evs)
	}
	wantErr(t, "watch from a compacted revision", evs[0].Err, storage.ErrCompacted)
}

func testCompaction(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	r1 := must[int64](t, "create")(s.Create(ctx, "/c/a", []byte("1")))
	r2 := must[int64](t, "update")(s.Update(ctx, "/c/a", []byte("2"), r1))
	must[int64](t, "create gone")(s.Create(ctx, "/c/gone", nil))
	must[int64](t, "delete gone")(func() (int64, error) { r, _, err := s.Delete(ctx, "/c/gone", 0); return r, err }())
	r3 := must[int64](t, "update")(s.Update(ctx, "/c/a", []byte("3"), r2))
	r4 := must[int64](t, "create b")(s.Create(ctx, "/c/b", []byte("b")))

	// Compact at a create: its event has no Prev to lose (etcd drops the
	// Prev of an event whose previous state is compacted).
	if err := s.Compact(ctx, r4); err != nil {
		t.Fatalf("compact: %v", err)
	}
	_, err := s.List(ctx, "/c/", storage.ListOptions{Revision: r3})
	wantErr(t, "list below the compaction", err, storage.ErrCompacted)
	res := must[storage.ListResult](t, "list at the compaction")(s.List(ctx, "/c/", storage.ListOptions{Revision: r4}))
	if got := keysOf(res.KVs); !equalStrings(got, []string{"/c/a", "/c/b"}) || string(res.KVs[0].Value) != "3" {
		t.Fatalf("list at the compaction revision: %q", got)
	}
	res = must[storage.ListResult](t, "list now")(s.List(ctx, "/c/", storage.ListOptions{}))
	if got := keysOf(res.KVs); !equalStrings(got, []string{"/c/a", "/c/b"}) {
		t.Fatalf("current values after compaction: %q", got)
	}
	checkKV(t, "get after compaction", must[storage.KeyValue](t, "get")(s.Get(ctx, "/c/a")), "/c/a", "3", r1, r3)

	ch, err := s.Watch(ctx, "/c/", r4-2)
	expectCompacted(t, ch, err)
	// afterRevision+1 == the compaction revision is still readable.
	ch = must[<-chan storage.Event](t, "watch from the compaction")(s.Watch(ctx, "/c/", r4-1))
	expect(t, ch, want{typ: storage.EventPut, key: "/c/b", value: "b", rev: r4, created: true})

	wantErr(t, "compact again at the same revision", s.Compact(ctx, r4), storage.ErrCompacted)
	wantErr(t, "compact in the future", s.Compact(ctx, r4+100), storage.ErrFutureRevision)

	// Writes go on after compaction, and the watch opened before sees
	// them with the retained previous state.
	r5 := must[int64](t, "update after compaction")(s.Update(ctx, "/c/a", []byte("5"), r3))
	if r5 <= r4 {
		t.Fatalf("revision after compaction %d, want > %d", r5, r4)
	}
	expect(t, ch, want{typ: storage.EventPut, key: "/c/a", value: "5", rev: r5, prev: &storage.KeyValue{Key: "/c/a", Value: []byte("3"), CreateRevision: r1, ModRevision: r3}})
	if err := s.Compact(ctx, r5); err != nil {
		t.Fatalf("compact at the current revision: %v", err)
	}
	res = must[storage.ListResult](t, "list after compacting everything")(s.List(ctx, "/c/", storage.ListOptions{}))
	if got := keysOf(res.KVs); !equalStrings(got, []string{"/c/a", "/c/b"}) {
		t.Fatalf("current values after a full compaction: %q", got)
	}
	rDel, _, err := s.Delete(ctx, "/c/b", 0)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, ch, want{typ: storage.EventDelete, key: "/c/b", rev: rDel, prev: &storage.KeyValue{Key: "/c/b", Value: []byte("b"), CreateRevision: r4, ModRevision: r4}})
}

func testWatchCancel(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	wctx, cancel := context.WithCancel(ctx)
	ch := must[<-chan storage.Event](t, "watch")(s.Watch(wctx, "/wc/", 0))
	r := must[int64](t, "create")(s.Create(ctx, "/wc/a", nil))
	expect(t, ch, want{typ: storage.EventPut, key: "/wc/a", rev: r, created: true})
	cancel()
	for _, ev := range waitClosed(t, ch) {
		if ev.Type == storage.EventError && !errors.Is(ev.Err, context.Canceled) {
			t.Fatalf("cancelled watch ended with %v", ev.Err)
		}
	}
	// Writes after the end of a watch do not block or panic.
	must[int64](t, "create after cancel")(s.Create(ctx, "/wc/b", nil))
}

func testCloseEndsWatches(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	ch := must[<-chan storage.Event](t, "watch")(s.Watch(ctx, "/close/", 0))
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitClosed(t, ch)
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
