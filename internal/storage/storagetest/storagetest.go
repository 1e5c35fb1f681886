// Package storagetest is the conformance suite of the storage contract.
// Every storage.Store implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { ... })
//	}
//
// The suite is written once so the implementations cannot drift apart: the
// registry relies on the same revision, compare, list and watch semantics
// whichever store is configured. Subtests are named after the spec rules
// they check where one applies (A5: the revision is the resourceVersion and
// every write consumes one; I5: a delete carries the last stored state).
//
// The suite never sleeps for a fixed time: it waits on channels with a
// deadline.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/terminus-project/terminus/internal/storage"
)

// waitTimeout bounds every wait for an event; it is generous because it
// only matters when a test is failing.
const waitTimeout = 15 * time.Second

// Run runs the suite. newStore is called once per subtest and returns a
// store that holds no keys (its revision need not be 0) and that is
// closed by a t.Cleanup registered by newStore. The suite may call Close
// itself first, so Close must be harmless to repeat.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"CRUD with compare on revision", testCRUD},
		{"A5 every write takes a new strictly increasing revision", testRevisions},
		{"I5 delete returns the last stored state", testDeleteReturnsLast},
		{"values are copied on write", testValueCopied},
		{"cancelled context fails the call", testCancelledContext},
		{"list by prefix without sibling leakage", testListPrefix},
		{"list pages with limit and start key reach every key once", testListPaging},
		{"list at an older revision shows the old state", testListAtRevision},
		{"list at a future revision fails", testListFuture},
		{"watch from a revision delivers every event in order once", testWatchFromRevision},
		{"watch from 0 delivers only new changes", testWatchFromNow},
		{"watch from a future revision starts there", testWatchFromFuture},
		{"watch of a prefix ignores other prefixes", testWatchPrefix},
		{"watch reports progress on request", testWatchProgress},
		{"compaction", testCompaction},
		{"concurrent read-modify-CAS on one key counts every increment", testConcurrentCAS},
		{"concurrent creates of distinct keys get unique revisions", testConcurrentCreates},
		{"watch ends when its context is cancelled", testWatchCancel},
		{"close ends watches", testCloseEndsWatches},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func checkKV(t *testing.T, what string, got storage.KeyValue, key, value string, createRev, modRev int64) {
	t.Helper()
	if got.Key != key || string(got.Value) != value || got.CreateRevision != createRev || got.ModRevision != modRev {
		t.Fatalf("%s: got {%q %q create=%d mod=%d}, want {%q %q create=%d mod=%d}",
			what, got.Key, got.Value, got.CreateRevision, got.ModRevision, key, value, createRev, modRev)
	}
}

func testCRUD(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const k = "/crud/a"
	_, err := s.Get(ctx, k)
	wantErr(t, "get missing", err, storage.ErrNotFound)

	r1 := must[int64](t, "create")(s.Create(ctx, k, []byte("v1")))
	if r1 <= 0 {
		t.Fatalf("create revision %d, want > 0", r1)
	}
	_, err = s.Create(ctx, k, []byte("again"))
	wantErr(t, "create existing", err, storage.ErrExists)
	checkKV(t, "get after create", must[storage.KeyValue](t, "get")(s.Get(ctx, k)), k, "v1", r1, r1)

	_, err = s.Update(ctx, k, []byte("x"), r1+1000)
	wantErr(t, "update with a wrong revision", err, storage.ErrConflict)
	_, err = s.Update(ctx, k, []byte("x"), 0)
	wantErr(t, "update with revision 0", err, storage.ErrConflict)
	r2 := must[int64](t, "update")(s.Update(ctx, k, []byte("v2"), r1))
	if r2 <= r1 {
		t.Fatalf("update revision %d, want > %d", r2, r1)
	}
	_, err = s.Update(ctx, k, []byte("stale"), r1)
	wantErr(t, "update with the previous revision", err, storage.ErrConflict)
	checkKV(t, "get after update", must[storage.KeyValue](t, "get")(s.Get(ctx, k)), k, "v2", r1, r2)

	_, err = s.Update(ctx, "/crud/missing", []byte("x"), r1)
	wantErr(t, "update missing", err, storage.ErrNotFound)
	_, err = s.Update(ctx, "/crud/missing", []byte("x"), 0)
	wantErr(t, "update missing with revision 0", err, storage.ErrNotFound)
	if _, err := s.Get(ctx, "/crud/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("update of a missing key created it: %v", err)
	}

	_, _, err = s.Delete(ctx, k, r1)
	wantErr(t, "delete with a wrong revision", err, storage.ErrConflict)
	r3, prev, err := s.Delete(ctx, k, r2)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if r3 <= r2 {
		t.Fatalf("delete revision %d, want > %d", r3, r2)
	}
	checkKV(t, "delete's previous state", prev, k, "v2", r1, r2)
	_, err = s.Get(ctx, k)
	wantErr(t, "get deleted", err, storage.ErrNotFound)
	_, _, err = s.Delete(ctx, k, 0)
	wantErr(t, "delete deleted", err, storage.ErrNotFound)
	_, _, err = s.Delete(ctx, k, r2)
	wantErr(t, "delete deleted with revision", err, storage.ErrNotFound)
	_, err = s.Update(ctx, k, []byte("x"), r2)
	wantErr(t, "update deleted", err, storage.ErrNotFound)

	r4 := must[int64](t, "re-create")(s.Create(ctx, k, []byte("v3")))
	if r4 <= r3 {
		t.Fatalf("re-create revision %d, want > %d", r4, r3)
	}
	checkKV(t, "get re-created", must[storage.KeyValue](t, "get")(s.Get(ctx, k)), k, "v3", r4, r4)
	r5, prev, err := s.Delete(ctx, k, 0)
	if err != nil {
		t.Fatalf("unconditional delete: %v", err)
	}
	if r5 <= r4 {
		t.Fatalf("delete revision %d, want > %d", r5, r4)
	}
	checkKV(t, "unconditional delete's previous state", prev, k, "v3", r4, r4)
}

func testRevisions(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	last := must[int64](t, "current revision")(s.CurrentRevision(ctx))
	step := func(what string, rev int64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if rev <= last {
			t.Fatalf("%s: revision %d, want > %d", what, rev, last)
		}
		last = rev
		if cur := must[int64](t, "current revision")(s.CurrentRevision(ctx)); cur != rev {
			t.Fatalf("%s: current revision %d, want %d", what, cur, rev)
		}
	}
	ra, err := s.Create(ctx, "/rev/a", []byte("1"))
	step("create a", ra, err)
	rb, err := s.Create(ctx, "/rev/b", []byte("1"))
	step("create b", rb, err)
	ra, err = s.Update(ctx, "/rev/a", []byte("2"), ra)
	step("update a", ra, err)
	rd, _, err := s.Delete(ctx, "/rev/b", rb)
	step("delete b", rd, err)
	rc, err := s.Create(ctx, "/rev/c", []byte("1"))
	step("create c", rc, err)

	// Failed writes persist nothing and take no revision.
	_, err = s.Create(ctx, "/rev/a", nil)
	wantErr(t, "create existing", err, storage.ErrExists)
	_, err = s.Update(ctx, "/rev/a", nil, ra-1)
	wantErr(t, "conflicting update", err, storage.ErrConflict)
	_, _, err = s.Delete(ctx, "/rev/b", 0)
	wantErr(t, "delete missing", err, storage.ErrNotFound)
	if cur := must[int64](t, "current revision")(s.CurrentRevision(ctx)); cur != last {
		t.Fatalf("failed writes moved the revision from %d to %d", last, cur)
	}
	kv := must[storage.KeyValue](t, "get a")(s.Get(ctx, "/rev/a"))
	if kv.ModRevision != ra {
		t.Fatalf("a's ModRevision %d, want %d (the resourceVersion is the write's revision)", kv.ModRevision, ra)
	}
}

func testDeleteReturnsLast(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	r1 := must[int64](t, "create")(s.Create(ctx, "/del/a", []byte("first")))
	r2 := must[int64](t, "update")(s.Update(ctx, "/del/a", []byte("last"), r1))
	rev, prev, err := s.Delete(ctx, "/del/a", 0)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if rev <= r2 {
		t.Fatalf("delete revision %d, want > %d", rev, r2)
	}
	checkKV(t, "previous state", prev, "/del/a", "last", r1, r2)
}

func testValueCopied(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	buf := []byte("original")
	r := must[int64](t, "create")(s.Create(ctx, "/copy/a", buf))
	copy(buf, "XXXXXXXX")
	checkKV(t, "get after the caller reused its buffer", must[storage.KeyValue](t, "get")(s.Get(ctx, "/copy/a")), "/copy/a", "original", r, r)
}

func testCancelledContext(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Create(ctx, "/cancel/a", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("create with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.Get(ctx, "/cancel/a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with a cancelled context: %v, want context.Canceled", err)
	}
}

func keysOf(kvs []storage.KeyValue) []string {
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = kv.Key
	}
	return keys
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testListPrefix(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	for _, k := range []string{"/l/a/b/2", "/l/a/bc/1", "/l/a/b", "/l/a/b/1", "/l/a/b/x/deep", "/l/a/ba", "/l/a/b/3"} {
		must[int64](t, "create "+k)(s.Create(ctx, k, []byte(k)))
	}
	must[int64](t, "delete")(func() (int64, error) { r, _, err := s.Delete(ctx, "/l/a/b/3", 0); return r, err }())
	cur := must[int64](t, "current revision")(s.CurrentRevision(ctx))

	res := must[storage.ListResult](t, "list /l/a/b/")(s.List(ctx, "/l/a/b/", storage.ListOptions{}))
	if want := []string{"/l/a/b/1", "/l/a/b/2", "/l/a/b/x/deep"}; !equalStrings(keysOf(res.KVs), want) {
		t.Fatalf("list /l/a/b/: got %q, want %q", keysOf(res.KVs), want)
	}
	if res.Revision != cur || res.More {
		t.Fatalf("list /l/a/b/: revision %d more %v, want %d false", res.Revision, res.More, cur)
	}
	for _, kv := range res.KVs {
		if string(kv.Value) != kv.Key || kv.ModRevision == 0 || kv.CreateRevision == 0 {
			t.Fatalf("list /l/a/b/: bad entry %+v", kv)
		}
	}
	res = must[storage.ListResult](t, "list /l/a/")(s.List(ctx, "/l/a/", storage.ListOptions{}))
	if want := []string{"/l/a/b", "/l/a/b/1", "/l/a/b/2", "/l/a/b/x/deep", "/l/a/ba", "/l/a/bc/1"}; !equalStrings(keysOf(res.KVs), want) {
		t.Fatalf("list /l/a/: got %q, want %q", keysOf(res.KVs), want)
	}
	res = must[storage.ListResult](t, "list /l/z/")(s.List(ctx, "/l/z/", storage.ListOptions{}))
	if len(res.KVs) != 0 || res.More || res.Revision != cur {
		t.Fatalf("list of an empty prefix: %+v", res)
	}
	if _, err := s.List(ctx, "/l/a/b/", storage.ListOptions{StartKey: "/l/a/bc/1"}); err == nil {
		t.Fatal("list with a start key outside the prefix: no error")
	}
}

func testListPaging(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const n = 60
	want := make(map[string]bool, n)
	for i := range n {
		k := fmt.Sprintf("/page/p/%03d", i)
		must[int64](t, "create")(s.Create(ctx, k, []byte("v")))
		want[k] = true
	}
	must[int64](t, "create sibling")(s.Create(ctx, "/page/p0/x", nil))
	must[int64](t, "create sibling")(s.Create(ctx, "/page/o/x", nil))

	for _, limit := range []int64{1, 7, n - 1, n, n + 1} {
		seen := map[string]bool{}
		opts := storage.ListOptions{Limit: limit}
		pages := 0
		for {
			res := must[storage.ListResult](t, "list page")(s.List(ctx, "/page/p/", opts))
			pages++
			if int64(len(res.KVs)) > limit {
				t.Fatalf("limit %d: page of %d keys", limit, len(res.KVs))
			}
			if opts.Revision == 0 {
				opts.Revision = res.Revision
				// Writes between pages must not show: the pages are
				// read at the first page's revision.
				must[int64](t, "create during paging")(s.Create(ctx, fmt.Sprintf("/page/p/%03d-new-%d", 0, limit), nil))
				must[int64](t, "delete during paging")(func() (int64, error) {
					r, _, err := s.Delete(ctx, fmt.Sprintf("/page/p/%03d", n-1), 0)
					return r, err
				}())
			} else if res.Revision != opts.Revision {
				t.Fatalf("limit %d: page at revision %d, want %d", limit, res.Revision, opts.Revision)
			}
			for _, kv := range res.KVs {
				if seen[kv.Key] {
					t.Fatalf("limit %d: %s listed twice", limit, kv.Key)
				}
				if !want[kv.Key] {
					t.Fatalf("limit %d: unexpected key %s", limit, kv.Key)
				}
				seen[kv.Key] = true
			}
			if !res.More {
				break
			}
			if len(res.KVs) == 0 {
				t.Fatalf("limit %d: empty page with More", limit)
			}
			opts.StartKey = res.KVs[len(res.KVs)-1].Key + "\x00"
		}
		if len(seen) != n {
			t.Fatalf("limit %d: paging reached %d keys, want %d", limit, len(seen), n)
		}
		if wantPages := (n + int(limit) - 1) / int(limit); pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
		if limit >= n && pages != 1 {
			t.Fatalf("limit %d >= %d keys: More was set", limit, n)
		}
		// Restore the key deleted during paging for the next round.
		must[int64](t, "re-create")(s.Create(ctx, fmt.Sprintf("/page/p/%03d", n-1), []byte("v")))
		if _, _, err := s.Delete(ctx, fmt.Sprintf("/page/p/%03d-new-%d", 0, limit), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func testListAtRevision(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	r1 := must[int64](t, "create k")(s.Create(ctx, "/old/k", []byte("v1")))
	r2 := must[int64](t, "update k")(s.Update(ctx, "/old/k", []byte("v2"), r1))
	r3 := must[int64](t, "create k2")(s.Create(ctx, "/old/k2", []byte("w")))
	r4, _, err := s.Delete(ctx, "/old/k", 0)
	if err != nil {
		t.Fatal(err)
	}
	type kv struct{ key, value string }
	for _, tc := range []struct {
		rev  int64
		want []kv
	}{
		{r1, []kv{{"/old/k", "v1"}}},
		{r2, []kv{{"/old/k", "v2"}}},
		{r3, []kv{{"/old/k", "v2"}, {"/old/k2", "w"}}},
		{r4, []kv{{"/old/k2", "w"}}},
		{0, []kv{{"/old/k2", "w"}}},
	} {
		res := must[storage.ListResult](t, "list")(s.List(ctx, "/old/", storage.ListOptions{Revision: tc.rev}))
		var got []kv
		for _, e := range res.KVs {
			got = append(got, kv{e.Key, string(e.Value)})
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("list at %d: got %v, want %v", tc.rev, got, tc.want)
		}
		wantRev := tc.rev
		if wantRev == 0 {
			wantRev = r4
		}
		if res.Revision != wantRev {
			t.Fatalf("list at %d: result revision %d", tc.rev, res.Revision)
		}
	}
	res := must[storage.ListResult](t, "list at r2 from k2")(s.List(ctx, "/old/", storage.ListOptions{Revision: r3, StartKey: "/old/k2"}))
	if len(res.KVs) != 1 || res.KVs[0].Key != "/old/k2" {
		t.Fatalf("list at %d from /old/k2: %q", r3, keysOf(res.KVs))
	}
}

func testListFuture(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	must[int64](t, "create")(s.Create(ctx, "/future/a", nil))
	cur := must[int64](t, "current revision")(s.CurrentRevision(ctx))
	_, err := s.List(ctx, "/future/", storage.ListOptions{Revision: cur + 100})
	wantErr(t, "list at a future revision", err, storage.ErrFutureRevision)
}

func testConcurrentCAS(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const workers, perWorker = 16, 20
	const k = "/cas/counter"
	must[int64](t, "create")(s.Create(ctx, k, []byte("0")))
	var (
		mu   sync.Mutex
		revs = map[int64]bool{}
		wg   sync.WaitGroup
		errc = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				for {
					kv, err := s.Get(ctx, k)
					if err != nil {
						errc <- err
						return
					}
					n, err := strconv.Atoi(string(kv.Value))
					if err != nil {
						errc <- err
						return
					}
					rev, err := s.Update(ctx, k, []byte(strconv.Itoa(n+1)), kv.ModRevision)
					if errors.Is(err, storage.ErrConflict) {
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					mu.Lock()
					dup := revs[rev]
					revs[rev] = true
					mu.Unlock()
					if dup {
						errc <- fmt.Errorf("revision %d returned twice", rev)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	kv := must[storage.KeyValue](t, "get")(s.Get(ctx, k))
	if string(kv.Value) != strconv.Itoa(workers*perWorker) {
		t.Fatalf("counter %s, want %d: an update was lost", kv.Value, workers*perWorker)
	}
}

func testConcurrentCreates(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const workers, perWorker = 16, 20
	revs := make([][]int64, workers)
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				rev, err := s.Create(ctx, fmt.Sprintf("/cc/%02d-%02d", w, i), []byte("v"))
				if err != nil {
					errc <- err
					return
				}
				revs[w] = append(revs[w], rev)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, rs := range revs {
		for i, r := range rs {
			if seen[r] {
				t.Fatalf("revision %d given to two creates", r)
			}
			seen[r] = true
			if i > 0 && r <= rs[i-1] {
				t.Fatalf("one writer's revisions went from %d to %d", rs[i-1], r)
			}
		}
	}
	res := must[storage.ListResult](t, "list")(s.List(ctx, "/cc/", storage.ListOptions{}))
	if len(res.KVs) != workers*perWorker {
		t.Fatalf("listed %d keys, want %d", len(res.KVs), workers*perWorker)
	}
	for _, kv := range res.KVs {
		if !seen[kv.ModRevision] {
			t.Fatalf("%s has revision %d that no create returned", kv.Key, kv.ModRevision)
		}
	}
}
