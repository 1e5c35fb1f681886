package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoff(t *testing.T) {
	p := newPool(DefaultInitialBackoff, DefaultMaxBackoff)
	var got []time.Duration
	for attempts := 1; attempts <= 6; attempts++ {
		got = append(got, p.backoff(attempts))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("upstream back-off 1 s doubling to 10 s (-want +got):\n%s", diff)
	}
}

func TestPoolSteps(t *testing.T) {
	p := newPool(DefaultInitialBackoff, DefaultMaxBackoff)
	t0 := time.Unix(1000, 0)

	// An unschedulable verdict parks the pod.
	c := p.cycle()
	if _, requeue := p.failed("ns/a", t0, c, true); requeue {
		t.Fatal("a pod with no move request meanwhile was requeued")
	}
	if p.parked() != 1 {
		t.Fatalf("parked = %d, want 1", p.parked())
	}

	// A move 300 ms later sends it back after the rest of its 1 s back-off.
	moved := p.moveAll(t0.Add(300 * time.Millisecond))
	if diff := cmp.Diff(map[string]time.Duration{"ns/a": 700 * time.Millisecond}, moved); diff != "" {
		t.Errorf("moveAll (-want +got):\n%s", diff)
	}
	if p.parked() != 0 {
		t.Errorf("parked after the move = %d, want 0", p.parked())
	}

	// A move while an attempt runs: the pod goes back at once with its
	// back-off (2 s on the second attempt), not parked.
	c = p.cycle()
	p.moveAll(t0.Add(2 * time.Second))
	retry, requeue := p.failed("ns/a", t0.Add(2*time.Second), c, true)
	if !requeue || retry != 2*time.Second {
		t.Errorf("failed after a concurrent move = (%v, %v), want (2s, true)", retry, requeue)
	}
	if p.parked() != 0 {
		t.Errorf("a pod requeued for a concurrent move is parked")
	}

	// An update of a parked pod moves it alone; a back-off already over
	// gives 0.
	c = p.cycle()
	p.failed("ns/a", t0.Add(3*time.Second), c, true) // third attempt: 4 s
	p.failed("ns/b", t0.Add(3*time.Second), c, true)
	if d, ok := p.move("ns/a", t0.Add(10*time.Second)); !ok || d != 0 {
		t.Errorf("move = (%v, %v), want (0, true)", d, ok)
	}
	if _, ok := p.move("ns/a", t0.Add(10*time.Second)); ok {
		t.Error("a pod that is not parked was moved")
	}

	// Flush: only pods parked for longer than the limit.
	if got := p.flush(t0.Add(3*time.Second+DefaultMaxInUnschedulablePods), DefaultMaxInUnschedulablePods); len(got) != 0 {
		t.Errorf("flushed %v at exactly the limit", got)
	}
	if got := p.flush(t0.Add(4*time.Second+DefaultMaxInUnschedulablePods), DefaultMaxInUnschedulablePods); len(got) != 1 || got["ns/b"] != 0 {
		t.Errorf("flush = %v, want ns/b with no back-off left", got)
	}

	// Forget drops the history: the next failure backs off 1 s again.
	p.forget("ns/a")
	c = p.cycle()
	p.moveAll(t0)
	if retry, _ := p.failed("ns/a", t0, c, true); retry != time.Second {
		t.Errorf("back-off after forget = %v, want 1s", retry)
	}
}
