package podcontrol

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	type step struct {
		do            func(e *Expectations)
		wantSatisfied bool
		wantAdd       int64
		wantDel       int64
	}
	const key = "ns/rs"
	var clk *clocktesting.FakeClock
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "no expectations are satisfied", steps: []step{
			{do: func(*Expectations) {}, wantSatisfied: true},
		}},
		{name: "creates are awaited until all are observed", steps: []step{
			{do: func(e *Expectations) { e.ExpectCreations(key, 2) }, wantAdd: 2},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantAdd: 1},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantSatisfied: true},
		}},
		{name: "skipped creates are lowered at once", steps: []step{
			{do: func(e *Expectations) { e.ExpectCreations(key, 5) }, wantAdd: 5},
			{do: func(e *Expectations) { e.LowerCreations(key, 4) }, wantAdd: 1},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantSatisfied: true},
		}},
		{name: "a deletion is counted once, terminating or gone", steps: []step{
			{do: func(e *Expectations) { e.ExpectDeletions(key, []string{"ns/a", "ns/b"}) }, wantDel: 2},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/a") }, wantDel: 1},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/a") }, wantDel: 1},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/other") }, wantDel: 1},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/b") }, wantSatisfied: true},
		}},
		{name: "new expectations replace the old", steps: []step{
			{do: func(e *Expectations) { e.ExpectDeletions(key, []string{"ns/a"}) }, wantDel: 1},
			{do: func(e *Expectations) { e.ExpectCreations(key, 1) }, wantAdd: 1},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/a") }, wantAdd: 1},
		}},
		{name: "expectations expire after 5 min on the clock", steps: []step{
			{do: func(e *Expectations) { e.ExpectCreations(key, 1) }, wantAdd: 1},
			{do: func(*Expectations) { clk.Step(ExpectationsTimeout) }, wantAdd: 1},
			{do: func(*Expectations) { clk.Step(time.Nanosecond) }, wantAdd: 1, wantSatisfied: true},
		}},
		{name: "deleted expectations are satisfied", steps: []step{
			{do: func(e *Expectations) { e.ExpectCreations(key, 1) }, wantAdd: 1},
			{do: func(e *Expectations) { e.Delete(key) }, wantSatisfied: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk = clocktesting.NewFakeClock(t0)
			e := NewExpectations(clk)
			for i, s := range tt.steps {
				s.do(e)
				if got := e.Satisfied(key); got != s.wantSatisfied {
					t.Fatalf("step %d: Satisfied = %v, want %v", i, got, s.wantSatisfied)
				}
				add, del, _ := e.Get(key)
				if add > 0 || s.wantAdd > 0 {
					if add != s.wantAdd {
						t.Fatalf("step %d: add = %d, want %d", i, add, s.wantAdd)
					}
				}
				if del > 0 || s.wantDel > 0 {
					if del != s.wantDel {
						t.Fatalf("step %d: del = %d, want %d", i, del, s.wantDel)
					}
				}
			}
		})
	}
}

func TestExpectationsForOtherKeys(t *testing.T) {
	e := NewExpectations(clocktesting.NewFakeClock(t0))
	e.ExpectCreations("ns/a", 1)
	e.CreationObserved("ns/b")
	e.DeletionObserved("ns/b", "ns/p")
	if e.Satisfied("ns/a") || !e.Satisfied("ns/b") {
		t.Error("observations for one key changed another")
	}
	if _, _, ok := e.Get("ns/b"); ok {
		t.Error("observing created expectations")
	}
}

func TestSlowStartBatch(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name          string
		count         int
		failFrom      int64 // the call number from which fn fails; 0: never
		wantCalls     int64
		wantSuccesses int
		wantErr       bool
	}{
		{name: "all succeed in batches 1, 2, 4, 3", count: 10, wantCalls: 10, wantSuccesses: 10},
		{name: "a failure in the first batch stops at once", count: 10, failFrom: 1, wantCalls: 1, wantErr: true},
		{name: "a failure in the third batch ends after it", count: 10, failFrom: 5, wantCalls: 7, wantSuccesses: 4, wantErr: true},
		{name: "nothing to do", count: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			got, err := SlowStartBatch(tt.count, SlowStartInitialBatchSize, func() error {
				if n := calls.Add(1); tt.failFrom > 0 && n >= tt.failFrom {
					return boom
				}
				return nil
			})
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, boom)) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff([]int64{int64(tt.wantSuccesses), tt.wantCalls}, []int64{int64(got), calls.Load()}); diff != "" {
				t.Errorf("successes, calls (-want +got):\n%s", diff)
			}
		})
	}
}
