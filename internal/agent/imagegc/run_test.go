package imagegc

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"
)

// waitFor polls cond in real time: Run works in its own goroutine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// startRun runs c.Run in a goroutine and returns a function that cancels it and waits for it
// to return nil.
func startRun(t *testing.T, c *Collector) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	return func() {
		t.Helper()
		once.Do(func() { waitRun(t, cancel, done) })
	}
}

func waitRun(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunPassesEveryPeriodAndStops(t *testing.T) {
	store := newFakeStore(standardImages()...)
	store.use("e", "/c/e")
	clk := testclock.NewFakeClock(t0)
	c, err := New(Config{
		Store:  store,
		Policy: DefaultPolicy(),
		Stats:  fixedStats(10000, 9000), // never over the threshold
		Period: time.Minute,
		Clock:  clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, c)
	defer stop()

	// The first pass runs at once, then Run waits for the period.
	waitFor(t, "the first pass", func() bool { return store.listCalls() == 1 && clk.HasWaiters() })
	clk.Step(time.Minute - time.Nanosecond)
	if !clk.HasWaiters() {
		t.Fatal("a pass ran before the period was over")
	}
	clk.Step(time.Nanosecond)
	waitFor(t, "the second pass", func() bool { return store.listCalls() == 2 && clk.HasWaiters() })
	clk.Step(time.Minute)
	waitFor(t, "the third pass", func() bool { return store.listCalls() == 3 && clk.HasWaiters() })

	stop()
	if n := store.listCalls(); n != 3 {
		t.Errorf("%d passes, want 3", n)
	}
}

func TestRunRecordsImageGCFailedOnRepeatedFailures(t *testing.T) {
	store := newFakeStore(standardImages()...)
	var failing atomic.Bool
	failing.Store(true)
	stats := func() (FSStats, error) {
		if failing.Load() {
			return FSStats{}, errors.New("stats not ready")
		}
		return FSStats{Capacity: 10000, Available: 9000}, nil
	}
	clk := testclock.NewFakeClock(t0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Config{
		Store: store, Policy: DefaultPolicy(), Stats: stats, Period: time.Minute,
		Clock: clk, Recorder: rec, NodeRef: nodeRef(),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, c)
	defer stop()

	pass := func(n int) {
		t.Helper()
		if n > 1 {
			clk.Step(time.Minute)
		}
		waitFor(t, "a pass", func() bool { return store.listCalls() == n && clk.HasWaiters() })
	}
	pass(1)
	if got := events(rec); len(got) != 0 {
		t.Errorf("events after the first failure: %q, want none", got)
	}
	pass(2)
	want := "Warning ImageGCFailed reading image filesystem stats: stats not ready"
	if got := events(rec); len(got) != 1 || got[0] != want {
		t.Errorf("events after the second failure: %q, want [%q]", got, want)
	}
	failing.Store(false)
	pass(3)
	failing.Store(true)
	pass(4)
	if got := events(rec); len(got) != 0 {
		t.Errorf("events after a success and a failure: %q, want none", got)
	}
	pass(5)
	if got := events(rec); len(got) != 1 {
		t.Errorf("events after failing twice again: %q, want one ImageGCFailed", got)
	}
}

func TestRunDisabled(t *testing.T) {
	store := newFakeStore(standardImages()...)
	c, err := New(Config{
		Store:  store,
		Policy: Policy{HighThresholdPercent: 100, LowThresholdPercent: 80},
		Stats:  fixedStats(1000, 0),
		Clock:  testclock.NewFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run with a disabled policy did not return")
	}
	if n := store.listCalls(); n != 0 {
		t.Errorf("a disabled collector ran %d passes", n)
	}
}
