package runner

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestNewRejects(t *testing.T) {
	sync := func(context.Context, string) error { return nil }
	syncGroup := func(string) func(context.Context, string) error { return sync }
	groupOf := func(string) string { return "" }
	tests := []struct {
		name string
		cfg  Config[string]
	}{
		{"no sync", Config[string]{}},
		{"Sync and groups", Config[string]{Sync: sync, GroupOf: groupOf, SyncGroup: syncGroup}},
		{"GroupOf without SyncGroup", Config[string]{GroupOf: groupOf}},
		{"SyncGroup without GroupOf", Config[string]{SyncGroup: syncGroup}},
		{"a negative delay", Config[string]{Sync: sync, RetryBaseDelay: -time.Second}},
		{"a negative burst", Config[string]{Sync: sync, Burst: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

// TestRetryBackOff drives one key through syncs on a fake clock and checks
// the wait before each retry to the nanosecond.
func TestRetryBackOff(t *testing.T) {
	boom := errors.New("boom")
	type outcome struct {
		err error
		// wait is the time until the next sync. After a success the test
		// queues the key again at once.
		wait time.Duration
	}
	tests := []struct {
		name     string
		base     time.Duration
		max      time.Duration
		qps      float64
		burst    int
		outcomes []outcome
	}{
		{
			name: "failures back off exponentially from 5 ms by default",
			outcomes: []outcome{
				{boom, 5 * time.Millisecond}, {boom, 10 * time.Millisecond}, {boom, 20 * time.Millisecond},
				{boom, 40 * time.Millisecond}, {nil, 0},
			},
		},
		{
			name: "the back-off stops at the max delay",
			base: time.Second, max: 3 * time.Second,
			outcomes: []outcome{
				{boom, time.Second}, {boom, 2 * time.Second}, {boom, 3 * time.Second}, {boom, 3 * time.Second}, {nil, 0},
			},
		},
		{
			// Bucket: a token every 500 ms, none saved; the slower of the
			// two limiters wins.
			name: "the bucket bounds the retries on the injected clock",
			base: 125 * time.Millisecond, qps: 2, burst: 1,
			outcomes: []outcome{
				{boom, 125 * time.Millisecond}, {boom, 375 * time.Millisecond}, {boom, 500 * time.Millisecond},
				{boom, time.Second}, {nil, 0},
			},
		},
		{
			name: "a success forgets the failures",
			outcomes: []outcome{
				{boom, 5 * time.Millisecond}, {boom, 10 * time.Millisecond}, {nil, 0},
				{boom, 5 * time.Millisecond}, {nil, 0},
			},
		},
		{
			name: "a Requeuer comes back after its wait and keeps the failures",
			outcomes: []outcome{
				{boom, 5 * time.Millisecond}, {requeue(7 * time.Second), 7 * time.Second},
				{boom, 10 * time.Millisecond}, {nil, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			s := newScript(clk)
			log := &logs{}
			var mu sync.Mutex
			var observed []error
			q, err := New(Config[string]{
				Name: "test", Clock: clk, Logger: slog.New(log), Sync: s.sync,
				RetryBaseDelay: tt.base, RetryMaxDelay: tt.max, QPS: tt.qps, Burst: tt.burst,
				Observe: func(key string, err error, _ time.Duration) {
					mu.Lock()
					defer mu.Unlock()
					observed = append(observed, err)
				},
				ErrorMessage: "syncing failed",
				KeyAttrs:     func(key string) []any { return []any{"namespace", key} },
			})
			if err != nil {
				t.Fatal(err)
			}
			q.Add("k")
			run(t, q)
			at := t0
			var wantObserved []error
			var wantLogs []string
			for i, o := range tt.outcomes {
				c := s.next(t)
				if c.key != "k" || !c.at.Equal(at) {
					t.Fatalf("sync %d: %q at %v, want k at %v", i, c.key, c.at.Sub(t0), at.Sub(t0))
				}
				c.reply <- o.err
				wantObserved = append(wantObserved, o.err)
				if o.err == boom {
					wantLogs = append(wantLogs, "ERROR syncing failed namespace=k err=boom")
				}
				if i == len(tt.outcomes)-1 {
					break
				}
				if o.err == nil {
					q.Add("k")
					continue
				}
				// The queue's heartbeat ticker is one waiter on the clock;
				// the key waiting for its time is a second.
				waitFor(t, "the key to wait on the clock", func() bool { return clk.Waiters() == 2 })
				clk.Step(o.wait - time.Nanosecond)
				if clk.Waiters() != 2 {
					t.Fatalf("sync %d: the retry came before %v", i, o.wait)
				}
				clk.Step(time.Nanosecond)
				at = at.Add(o.wait)
			}
			waitFor(t, "every sync observed", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(observed) == len(wantObserved)
			})
			mu.Lock()
			got := observed
			mu.Unlock()
			if diff := cmp.Diff(wantObserved, got, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("observed errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantLogs, log.at(slog.LevelError)); diff != "" {
				t.Errorf("error logs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAddBeforeRun checks that keys added before Run wait, without a
// goroutine, and are queued at their due time.
func TestAddBeforeRun(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	s := newScript(clk)
	q, err := New(Config[string]{Clock: clk, Sync: s.sync})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	q.AddAfter("late", time.Second)
	q.AddAfter("late", 3*time.Second) // the earlier time wins
	q.Add("now")
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines before Run, want %d", n, before)
	}
	if clk.HasWaiters() {
		t.Fatal("the clock has waiters before Run")
	}
	run(t, q)
	if c := s.next(t); c.key != "now" || !c.at.Equal(t0) {
		t.Fatalf("first sync: %q at %v, want now at 0", c.key, c.at.Sub(t0))
	} else {
		c.reply <- nil
	}
	waitFor(t, "the late key to wait on the clock", func() bool { return clk.Waiters() == 2 })
	clk.Step(time.Second - time.Nanosecond)
	if clk.Waiters() != 2 {
		t.Fatal("the late key came early")
	}
	clk.Step(time.Nanosecond)
	if c := s.next(t); c.key != "late" || !c.at.Equal(t0.Add(time.Second)) {
		t.Fatalf("second sync: %q at %v, want late at 1s", c.key, c.at.Sub(t0))
	} else {
		c.reply <- nil
	}
}

// TestWatch checks that Run waits for the informers and their handlers to
// sync, that events queue keys, and that the handlers go with Run.
func TestWatch(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	s := newScript(clk)
	first, second := newFakeInformer(), newFakeInformer()
	first.regSynced.Store(false)
	second.synced.Store(true)
	var early atomic.Bool
	q, err := New(Config[string]{Clock: clk, Sync: func(ctx context.Context, key string) error {
		if !first.synced.Load() || !first.regSynced.Load() {
			early.Store(true)
		}
		return s.sync(ctx, key)
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) { q.Add(obj.(string)) }}
	if err := q.Watch(first, h, 0); err != nil {
		t.Fatal(err)
	}
	if err := q.Watch(second, h, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{0}, first.resyncs); diff != "" {
		t.Errorf("first informer's resync periods (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Second}, second.resyncs); diff != "" {
		t.Errorf("second informer's resync periods (-want +got):\n%s", diff)
	}
	first.fire("before-run")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	waitFor(t, "Run to poll the first informer", func() bool { return first.syncChecks.Load() >= 2 })
	first.synced.Store(true)
	n := first.syncChecks.Load()
	waitFor(t, "Run to poll again for the first handler", func() bool { return first.syncChecks.Load() >= n+2 })
	first.regSynced.Store(true)
	if c := s.next(t); c.key != "before-run" {
		t.Fatalf("sync of %q, want before-run", c.key)
	} else {
		c.reply <- nil
	}
	if early.Load() {
		t.Error("a sync ran before the informers and handlers synced")
	}
	second.fire("event")
	if c := s.next(t); c.key != "event" {
		t.Fatalf("sync of %q, want event", c.key)
	} else {
		c.reply <- nil
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if first.handlerCount() != 0 || second.handlerCount() != 0 {
		t.Error("event handlers left after Run")
	}
	q.Add("after-run") // dropped, without a panic
	select {
	case c := <-s.calls:
		t.Errorf("sync of %q after Run", c.key)
	default:
	}
	if err := q.Run(context.Background()); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run = %v, want ErrRunTwice", err)
	}
	if err := q.Watch(first, h, 0); err == nil {
		t.Error("Watch after Run succeeded")
	}
}

func TestWatchFailureAndClose(t *testing.T) {
	q, err := New(Config[string]{Sync: func(context.Context, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ok, stopped := newFakeInformer(), newFakeInformer()
	stopped.failAdding = true
	if err := q.Watch(ok, cache.ResourceEventHandlerFuncs{}, 0); err != nil {
		t.Fatal(err)
	}
	if err := q.Watch(stopped, cache.ResourceEventHandlerFuncs{}, 0); err == nil || !strings.Contains(err.Error(), "informer stopped") {
		t.Fatalf("Watch on a stopped informer = %v, want its error wrapped", err)
	}
	q.Close()
	if ok.handlerCount() != 0 {
		t.Error("Close left the event handler")
	}
	q.Close()
	if ok.removeCalls != 1 {
		t.Errorf("RemoveEventHandler called %d times, want 1", ok.removeCalls)
	}
	if err := q.Run(context.Background()); !errors.Is(err, ErrRunTwice) {
		t.Errorf("Run after Close = %v, want ErrRunTwice", err)
	}
}

// TestRunStops checks that Run returns once ctx ends, whatever it is
// doing, after its workers, and leaves no goroutine behind.
func TestRunStops(t *testing.T) {
	tests := []struct {
		name string
		// synced: whether the informer syncs; inFlight: whether a sync is
		// running when ctx ends.
		synced, inFlight bool
	}{
		{name: "before the informers sync"},
		{name: "idle", synced: true},
		{name: "with a sync in flight", synced: true, inFlight: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			clk := clocktesting.NewFakeClock(t0)
			s := newScript(clk)
			log := &logs{}
			var active, observed atomic.Int64
			q, err := New(Config[string]{
				Clock: clk, Logger: slog.New(log), Workers: 3,
				Sync: func(ctx context.Context, key string) error {
					active.Add(1)
					defer active.Add(-1)
					return s.sync(ctx, key)
				},
				Observe: func(string, error, time.Duration) { observed.Add(1) },
			})
			if err != nil {
				t.Fatal(err)
			}
			inf := newFakeInformer()
			inf.synced.Store(tt.synced)
			if err := q.Watch(inf, cache.ResourceEventHandlerFuncs{}, 0); err != nil {
				t.Fatal(err)
			}
			if tt.inFlight {
				q.Add("k")
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- q.Run(ctx) }()
			switch {
			case tt.inFlight:
				s.next(t) // never answered
			case !tt.synced:
				waitFor(t, "Run to poll the informer", func() bool { return inf.syncChecks.Load() >= 2 })
			default:
				waitFor(t, "the queue", func() bool { return clk.HasWaiters() })
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			if n := active.Load(); n != 0 {
				t.Errorf("Run returned with %d syncs running", n)
			}
			if n := observed.Load(); n != 0 {
				t.Errorf("%d syncs cut short by the end of Run were observed", n)
			}
			if errs := log.at(slog.LevelError); len(errs) != 0 {
				t.Errorf("error logs for syncs cut short: %v", errs)
			}
			if inf.handlerCount() != 0 {
				t.Error("the event handler is left")
			}
			infos := log.at(slog.LevelInfo)
			if len(infos) != 2 || infos[0] != "INFO starting workers=3" || infos[1] != "INFO stopped" {
				t.Errorf("info logs = %q, want starting and stopped", infos)
			}
			waitGoroutines(t, before)
		})
	}
}

// TestGroups checks batch mode: every sync of a batch belongs to its group
// and shares its SyncGroup call, and a failed key is retried alone.
func TestGroups(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	s := newScript(clk)
	q, err := New(Config[string]{
		Name: "groups", Clock: clk, Workers: 1,
		GroupOf:   func(key string) string { g, _, _ := strings.Cut(key, "/"); return g },
		SyncGroup: s.syncGroup,
	})
	if err != nil {
		t.Fatal(err)
	}
	q.Add("a/1")
	run(t, q)
	first := s.next(t)
	if first.key != "a/1" || first.group != "a" {
		t.Fatalf("first sync %q of group %q, want a/1 of a", first.key, first.group)
	}
	// Queued while the only worker is busy.
	for _, k := range []string{"a/2", "b/1", "a/3"} {
		q.Add(k)
	}
	first.reply <- nil
	var order []string
	lastBatch := map[string]int{}
	var failed call
	for range 3 {
		c := s.next(t)
		if g, _, _ := strings.Cut(c.key, "/"); g != c.group {
			t.Errorf("key %q synced in a batch of group %q", c.key, c.group)
		}
		if c.batch <= first.batch {
			t.Errorf("key %q synced in batch %d, want a new batch after %d", c.key, c.batch, first.batch)
		}
		lastBatch[c.group] = max(lastBatch[c.group], c.batch)
		order = append(order, c.key)
		if c.key == "a/2" {
			failed = c
			c.reply <- errors.New("boom")
		} else {
			c.reply <- nil
		}
	}
	if i2, i3 := indexOf(order, "a/2"), indexOf(order, "a/3"); i2 < 0 || i3 < 0 || i2 > i3 || indexOf(order, "b/1") < 0 {
		t.Fatalf("syncs %v, want a/2 before a/3, and b/1", order)
	}
	waitFor(t, "the failed key to wait on the clock", func() bool { return clk.Waiters() == 2 })
	clk.Step(DefaultRetryBaseDelay)
	retry := s.next(t)
	if retry.key != "a/2" || retry.group != "a" || retry.batch <= lastBatch["a"] || !retry.at.Equal(failed.at.Add(DefaultRetryBaseDelay)) {
		t.Errorf("retry %q of group %q in batch %d at %v, want a/2 of a in a new batch at %v",
			retry.key, retry.group, retry.batch, retry.at.Sub(t0), failed.at.Add(DefaultRetryBaseDelay).Sub(t0))
	}
	retry.reply <- nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestBatches(t *testing.T) {
	b := newBatches[string]("test", clocktesting.NewFakeClock(t0))
	for _, k := range []string{"a/1", "a/2", "b/1", "a/3"} {
		g, _, _ := strings.Cut(k, "/")
		b.add(g, k)
	}
	type batch struct {
		Group string
		Keys  []string
	}
	next := func() batch {
		g, keys, ok := b.next()
		if !ok {
			t.Fatal("batches shut down")
		}
		return batch{g, keys}
	}
	got := []batch{next(), next()}
	b.add("a", "a/4")
	got = append(got, next())
	want := []batch{{"a", []string{"a/1", "a/2", "a/3"}}, {"b", []string{"b/1"}}, {"a", []string{"a/4"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	b.shutDown()
	if _, _, ok := b.next(); ok {
		t.Error("next after shutDown returned a batch")
	}
}
