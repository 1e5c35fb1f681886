package runner

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The runner starts goroutines; the binary fails if a test leaves any.
func TestMain(m *testing.M) { storagetest.Main(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// waitFor polls cond with a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// call is one sync the test answers.
type call struct {
	key   string
	group string
	// batch numbers the SyncGroup calls; 0 without groups.
	batch int
	at    time.Time
	reply chan error
}

// script is a Sync (or SyncGroup) the test drives: each sync reports its
// key and the time on the clock, then returns what the test replies. The
// end of ctx ends a sync at once with ctx.Err().
type script struct {
	clk     *clocktesting.FakeClock
	calls   chan call
	batches atomic.Int64
}

func newScript(clk *clocktesting.FakeClock) *script {
	return &script{clk: clk, calls: make(chan call)}
}

func (s *script) sync(ctx context.Context, key string) error {
	return s.do(ctx, call{key: key})
}

func (s *script) syncGroup(group string) func(context.Context, string) error {
	batch := int(s.batches.Add(1))
	return func(ctx context.Context, key string) error {
		return s.do(ctx, call{key: key, group: group, batch: batch})
	}
}

func (s *script) do(ctx context.Context, c call) error {
	c.at, c.reply = s.clk.Now(), make(chan error, 1)
	select {
	case s.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next returns the next sync.
func (s *script) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-s.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a sync")
		return call{}
	}
}

// run runs q until the test ends; cleanup checks that Run returns nil.
func run[K comparable](t *testing.T, q *Queue[K]) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// logs records log records.
type logs struct {
	mu      sync.Mutex
	records []string
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }

func (l *logs) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		s += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, s)
	l.mu.Unlock()
	return nil
}

func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// at returns the records at level.
func (l *logs) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if len(r) > len(level.String()) && r[:len(level.String())+1] == level.String()+" " {
			out = append(out, r)
		}
	}
	return out
}

// fakeInformer is an Informer whose sync and events the test controls.
type fakeInformer struct {
	synced      atomic.Bool
	regSynced   atomic.Bool
	syncChecks  atomic.Int64
	mu          sync.Mutex
	handlers    map[*fakeRegistration]cache.ResourceEventHandler
	resyncs     []time.Duration
	failAdding  bool
	removeCalls int
}

func newFakeInformer() *fakeInformer {
	f := &fakeInformer{handlers: map[*fakeRegistration]cache.ResourceEventHandler{}}
	f.regSynced.Store(true)
	return f
}

type fakeRegistration struct{ inf *fakeInformer }

func (r *fakeRegistration) HasSynced() bool { return r.inf.regSynced.Load() }

// HasSyncedChecker is not used by the runner.
func (r *fakeRegistration) HasSyncedChecker() cache.DoneChecker { return nil }

func (f *fakeInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	return f.add(h, 0)
}

func (f *fakeInformer) AddEventHandlerWithResyncPeriod(h cache.ResourceEventHandler, d time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	return f.add(h, d)
}

func (f *fakeInformer) add(h cache.ResourceEventHandler, d time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAdding {
		return nil, fmt.Errorf("informer stopped")
	}
	r := &fakeRegistration{f}
	f.handlers[r] = h
	f.resyncs = append(f.resyncs, d)
	return r, nil
}

func (f *fakeInformer) RemoveEventHandler(r cache.ResourceEventHandlerRegistration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeCalls++
	delete(f.handlers, r.(*fakeRegistration))
	return nil
}

func (f *fakeInformer) HasSynced() bool {
	f.syncChecks.Add(1)
	return f.synced.Load()
}

// fire delivers an add event to every handler.
func (f *fakeInformer) fire(obj any) {
	f.mu.Lock()
	hs := make([]cache.ResourceEventHandler, 0, len(f.handlers))
	for _, h := range f.handlers {
		hs = append(hs, h)
	}
	f.mu.Unlock()
	for _, h := range hs {
		h.OnAdd(obj, false)
	}
}

func (f *fakeInformer) handlerCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.handlers)
}

// waitGoroutines waits until no more goroutines run than before.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("goroutines back to %d", before), func() bool { return runtime.NumGoroutine() <= before })
}

// requeue is a Requeuer error.
type requeue time.Duration

func (r requeue) Error() string               { return fmt.Sprintf("wait %v", time.Duration(r)) }
func (r requeue) RequeueAfter() time.Duration { return time.Duration(r) }
