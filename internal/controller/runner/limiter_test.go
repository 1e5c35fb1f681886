package runner

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestBucketLimiter(t *testing.T) {
	tests := []struct {
		name       string
		qps        float64
		burst      int
		takes      int
		thenStep   time.Duration
		want       []time.Duration
		wantAfter  time.Duration
		wantReqNum int
	}{
		{name: "a burst is free, then one token per 1/qps", qps: 10, burst: 2, takes: 4,
			want: []time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond}, thenStep: time.Second, wantAfter: 0},
		{name: "the clock refills the bucket, no more than the burst", qps: 1, burst: 1, takes: 2,
			want: []time.Duration{0, time.Second}, thenStep: 10 * time.Second, wantAfter: 0},
		{name: "a refill shorter than a token still leaves a wait", qps: 2, burst: 1, takes: 2,
			want: []time.Duration{0, 500 * time.Millisecond}, thenStep: 250 * time.Millisecond, wantAfter: 750 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			b := NewBucketLimiter[string](clk, tt.qps, tt.burst)
			var got []time.Duration
			for range tt.takes {
				got = append(got, b.When("k"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("waits (-want +got):\n%s", diff)
			}
			clk.Step(tt.thenStep)
			if d := b.When("k"); d != tt.wantAfter {
				t.Errorf("after %v: wait %v, want %v", tt.thenStep, d, tt.wantAfter)
			}
			b.Forget("k")
			if n := b.NumRequeues("k"); n != tt.wantReqNum {
				t.Errorf("NumRequeues = %d, want %d", n, tt.wantReqNum)
			}
		})
	}
}

func TestRateLimiterIsTheSlowerOfBackOffAndBucket(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	l := NewRateLimiter[string](clk, 100*time.Millisecond, time.Second, 1, 1)
	// Bucket: 0, then 1 s, 2 s...; back-off: 100 ms, 200 ms, capped at 1 s.
	want := []time.Duration{100 * time.Millisecond, time.Second, 2 * time.Second}
	var got []time.Duration
	for range want {
		got = append(got, l.When("k"))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("waits (-want +got):\n%s", diff)
	}
	if n := l.NumRequeues("k"); n != 3 {
		t.Errorf("NumRequeues = %d, want 3", n)
	}
	l.Forget("k")
	if n := l.NumRequeues("k"); n != 0 {
		t.Errorf("NumRequeues after Forget = %d, want 0", n)
	}
}
