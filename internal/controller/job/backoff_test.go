package job

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		failures int32
		want     time.Duration
	}{
		{0, 0},
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{3, 40 * time.Second},
		{6, 320 * time.Second},
		{7, 6 * time.Minute}, // 640 s capped at upstream's 6 min
		{100, 6 * time.Minute},
	}
	for _, tt := range tests {
		if got := backoffDelay(tt.failures, DefaultPodFailureBackOff, MaxPodFailureBackOff); got != tt.want {
			t.Errorf("backoffDelay(%d) = %v, want %v", tt.failures, got, tt.want)
		}
	}
}

func TestBackoffRecord(t *testing.T) {
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	pod := func(phase corev1.PodPhase, d time.Duration) *corev1.Pod {
		return mkPod("p", phase, finishedAt(t0.Add(d)))
	}
	tests := []struct {
		name          string
		old           backoffRecord
		succeeded     []*corev1.Pod
		failed        []*corev1.Pod
		wantFailures  int32
		wantLast      *time.Time
		now           time.Duration
		wantRemaining time.Duration
	}{
		{name: "nothing new keeps the record", old: backoffRecord{2, at(-time.Second)}, wantFailures: 2, wantLast: at(-time.Second),
			wantRemaining: 19 * time.Second},
		{name: "failures add up; the last one starts the wait", old: backoffRecord{1, at(-time.Minute)},
			failed:       []*corev1.Pod{pod(corev1.PodFailed, -3*time.Second), pod(corev1.PodFailed, -5*time.Second)},
			wantFailures: 3, wantLast: at(-3 * time.Second), wantRemaining: 37 * time.Second},
		{name: "a success resets", old: backoffRecord{4, at(-time.Minute)}, succeeded: []*corev1.Pod{pod(corev1.PodSucceeded, -time.Second)},
			wantFailures: 0},
		{name: "only failures after the last success count", succeeded: []*corev1.Pod{pod(corev1.PodSucceeded, -10*time.Second)},
			failed:       []*corev1.Pod{pod(corev1.PodFailed, -20*time.Second), pod(corev1.PodFailed, -4*time.Second)},
			wantFailures: 1, wantLast: at(-4 * time.Second), wantRemaining: 6 * time.Second},
		{name: "an elapsed wait is over", failed: []*corev1.Pod{pod(corev1.PodFailed, -11*time.Second)},
			wantFailures: 1, wantLast: at(-11 * time.Second), wantRemaining: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := nextBackoffRecord(tt.old, tt.succeeded, tt.failed)
			if r.failuresAfterLastSuccess != tt.wantFailures {
				t.Errorf("failures = %d, want %d", r.failuresAfterLastSuccess, tt.wantFailures)
			}
			if (r.lastFailureTime == nil) != (tt.wantLast == nil) || (r.lastFailureTime != nil && !r.lastFailureTime.Equal(*tt.wantLast)) {
				t.Errorf("last failure = %v, want %v", r.lastFailureTime, tt.wantLast)
			}
			clk := clocktesting.NewFakeClock(t0.Add(tt.now))
			if got := r.remaining(clk, DefaultPodFailureBackOff, MaxPodFailureBackOff); got != tt.wantRemaining {
				t.Errorf("remaining = %v, want %v", got, tt.wantRemaining)
			}
		})
	}
}

func TestIndexSet(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"0", "0"},
		{"3,1,2", "1-3"},
		{"0-2,4,6-7,9", "0-2,4,6-7"}, // 9 is beyond completions 8
		{"x,1,2-a", "1"},
	}
	for _, tt := range tests {
		if got := parseIndexes(tt.in, 8).String(); got != tt.want {
			t.Errorf("parseIndexes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := indexedGenerateName("pi", 3); got != "pi-3-" {
		t.Errorf("indexedGenerateName = %q", got)
	}
	long := "a123456789012345678901234567890123456789012345678901234567890"
	if got := indexedGenerateName(long, 12); len(got) != maxGeneratedNameLength || got[len(got)-4:] != "-12-" {
		t.Errorf("indexedGenerateName(long) = %q", got)
	}
}

// TestWrittenStatus: a cached Job older than a status this controller
// wrote is stale (its sync waits for the cache); newer or equal is not.
func TestWrittenStatus(t *testing.T) {
	w := &writtenStatus{byKey: map[string]uint64{}}
	w.record("ns/a", "120")
	w.record("ns/a", "110") // an older write never lowers the mark
	for rv, want := range map[string]bool{"100": true, "119": true, "120": false, "121": false, "x": false} {
		if got := w.stale("ns/a", rv); got != want {
			t.Errorf("stale(%s) = %v, want %v", rv, got, want)
		}
	}
	if w.stale("ns/b", "1") {
		t.Error("a Job never written to is stale")
	}
	w.forget("ns/a")
	if w.stale("ns/a", "1") {
		t.Error("forgotten Job still stale")
	}
}
