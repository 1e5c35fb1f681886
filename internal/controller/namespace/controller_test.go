package namespace

import (
	"context"
	clocktesting "k8s.io/utils/clock/testing"
	"testing"
	"time"
)

// waitFor polls cond with a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

// run runs the fixture's controller and informers until the test ends.
func (f *fixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.c.Run(ctx) }()
	f.informers.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.informers.Shutdown()
	})
}

func TestRunDelaysAndRequeuesOnTheClock(t *testing.T) {
	f := newFixture(t, terminating(epoch, FinalizerName), Config{DeletionDelay: 5 * time.Second, Workers: 2})
	f.add(configMapsGVR, "ConfigMap", "held", nil, "example.com/hold")
	f.run(t)

	// The queue's heartbeat ticker is one waiter; an item waiting for its
	// time is a second.
	waitFor(t, "E9 the namespace event waits for the deletion delay", func() bool { return f.clock.Waiters() >= 2 })
	if calls := f.metaCalls(); len(calls) != 0 {
		t.Fatalf("E9 content touched before the delay passed: %v", calls)
	}
	f.clock.Step(5 * time.Second)
	stepUntil(t, f.clock, 5*time.Second, "E11 the first pass writes the conditions", func() bool {
		ns := f.namespace()
		return ns != nil && len(ns.Status.Conditions) == 5
	})
	waitFor(t, "E9 the namespace waits to be looked at again", func() bool { return f.clock.Waiters() >= 2 })
	f.remove(configMapsGVR, "held")
	// At most estimate/2+1 = 8 s later, on the injected clock.
	f.clock.Step(8 * time.Second)
	stepUntil(t, f.clock, 8*time.Second, "E7 the namespace is finalized and removed", func() bool { return f.namespace() == nil })
}

// stepUntil waits for cond and, while it does not hold, moves the clock on
// by a second at a time, by at most extra in all: the waiter counts above
// cannot tell the queue's heartbeat from the item they wait for, so under
// load a step may come before the item waits on the clock (seen once in
// CI), and the item then waits its whole delay from there. More fake time
// than that fails the test, so a requeue that comes too late still does.
func stepUntil(t *testing.T, clk *clocktesting.FakeClock, extra time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	next := time.Now().Add(200 * time.Millisecond)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		if time.Now().After(next) {
			if extra <= 0 {
				t.Fatalf("%s: not within the fake time allowed", what)
			}
			clk.Step(time.Second)
			extra -= time.Second
			next = time.Now().Add(200 * time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

func TestRunStopsWithoutSync(t *testing.T) {
	f := newFixture(t, terminating(epoch, FinalizerName), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Informers never started: Run must still return.
	if err := f.c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Run(ctx); err == nil {
		t.Error("a second Run should fail")
	}
}
