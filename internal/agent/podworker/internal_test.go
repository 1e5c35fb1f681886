package podworker

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestBackOff steps a fake clock through kubelet's crash-loop back-off:
// the first restart at once, then 10 s doubling to 5 min, and a fresh 10 s
// after 10 min without a crash.
func TestBackOff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var b backOff
	exit := clk.Now()
	if b.inBackOffSince(exit, clk.Now()) {
		t.Fatal("first exit: restart at once")
	}
	b.next(exit)
	want := []time.Duration{10, 20, 40, 80, 160, 300, 300}
	for i, w := range want {
		w *= time.Second
		if b.Duration != w {
			t.Fatalf("crash %d: back-off %v, want %v", i+2, b.Duration, w)
		}
		clk.Step(time.Second) // the next attempt crashes a second later
		exit = clk.Now()
		if !b.inBackOffSince(exit, clk.Now()) {
			t.Fatalf("crash %d: not in back-off", i+2)
		}
		clk.Step(w - time.Millisecond)
		if !b.inBackOffSince(exit, clk.Now()) {
			t.Fatalf("crash %d: back-off ended early", i+2)
		}
		clk.Step(time.Millisecond)
		if b.inBackOffSince(exit, clk.Now()) {
			t.Fatalf("crash %d: back-off did not end after %v", i+2, w)
		}
		b.next(exit)
	}
	clk.Step(11 * time.Minute) // ran for more than 10 min
	exit = clk.Now()
	if b.inBackOffSince(exit, clk.Now()) {
		t.Fatal("after 10 min the entry is forgotten: restart at once")
	}
	b.next(exit)
	if b.Duration != initialBackOff {
		t.Fatalf("after reset: %v, want 10s", b.Duration)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}}
	if got, w := crashLoopMessage(b.Duration, "c", pod), "back-off 10s restarting failed container=c pod=p_ns(u1)"; got != w {
		t.Fatalf("message %q, want %q", got, w)
	}
}

func TestExpand(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"A": "1", "B": "x y"}[k]
		return v, ok
	}
	for in, want := range map[string]string{
		"$(A)":        "1",
		"a$(B)b":      "ax yb",
		"$(C)":        "$(C)",
		"$$(A)":       "$(A)",
		"$(A":         "$(A",
		"cost $5":     "cost $5",
		"$(A)-$(B)$$": "1-x y$",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPhaseOf(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	ok := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}
	failed := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	backoff := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	creating := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}}}
	for _, tc := range []struct {
		name   string
		policy corev1.RestartPolicy
		cs     []corev1.ContainerStatus
		want   corev1.PodPhase
	}{
		{"creating", corev1.RestartPolicyAlways, []corev1.ContainerStatus{running, creating}, corev1.PodPending},
		{"running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{running, ok}, corev1.PodRunning},
		{"always restarts", corev1.RestartPolicyAlways, []corev1.ContainerStatus{ok}, corev1.PodRunning},
		{"crash loop", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{backoff}, corev1.PodRunning},
		{"succeeded", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{ok, ok}, corev1.PodSucceeded},
		{"never failed", corev1.RestartPolicyNever, []corev1.ContainerStatus{ok, failed}, corev1.PodFailed},
	} {
		if got := phaseOf(tc.policy, tc.cs); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestSaveStateSkipsUnchanged: the worker saves on every pass; a state
// equal to the last one written is not written again, a changed one is,
// and what loads is what was saved last.
func TestSaveStateSkipsUnchanged(t *testing.T) {
	dir := t.TempDir()
	st := &podState{Containers: map[string]*containerRecord{}}
	last, err := saveState(dir, st, nil)
	if err != nil || len(last) == 0 {
		t.Fatalf("first save: %q %v", last, err)
	}
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	if again, err := saveState(dir, st, last); err != nil || !bytes.Equal(again, last) {
		t.Fatalf("unchanged save: %q %v", again, err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !os.IsNotExist(err) {
		t.Fatalf("an unchanged state was written again (stat: %v)", err)
	}
	st.InitFailed = true
	if last, err = saveState(dir, st, last); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil || got == nil || !got.InitFailed {
		t.Fatalf("loaded %+v %v, want the changed state", got, err)
	}
}
