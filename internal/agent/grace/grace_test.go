package grace

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestEffective(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  Request
		want int64
	}{
		{"G5 deletionGracePeriodSeconds is used when nothing is in use", Request{DeletionGracePeriodSeconds: ptr.To[int64](30)}, 30},
		{"G5 the smallest of in use, deletion and override", Request{InUse: ptr.To[int64](30), DeletionGracePeriodSeconds: ptr.To[int64](20), Override: ptr.To[int64](10)}, 10},
		{"G5 never increases: a longer deletion grace is ignored", Request{InUse: ptr.To[int64](10), DeletionGracePeriodSeconds: ptr.To[int64](60)}, 10},
		{"G5 a shorter deletion grace wins", Request{InUse: ptr.To[int64](30), DeletionGracePeriodSeconds: ptr.To[int64](5)}, 5},
		{"G5 eviction override shortens", Request{DeletionGracePeriodSeconds: ptr.To[int64](30), Override: ptr.To[int64](1)}, 1},
		{"G5 at least 1 s: negative", Request{DeletionGracePeriodSeconds: ptr.To[int64](-5)}, 1},
		{"G9 grace 0 kills with 1 s", Request{DeletionGracePeriodSeconds: ptr.To[int64](0)}, 1},
		{"G9 removed from the API (force) kills with 1 s", Request{InUse: ptr.To[int64](30), Removed: true}, 1},
		{"G5 spec grace when nothing else is set", Request{Spec: ptr.To[int64](45)}, 45},
		{"G5 spec grace is ignored once a deletion grace is set", Request{Spec: ptr.To[int64](45), DeletionGracePeriodSeconds: ptr.To[int64](60)}, 60},
		{"G1 default 30 s", Request{}, 30},
		{"G5 spec grace 0 → 1 s", Request{Spec: ptr.To[int64](0)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Effective(tc.req); got != tc.want {
				t.Errorf("Effective = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestStopSignal(t *testing.T) {
	quit := corev1.SIGQUIT
	empty := corev1.Signal("")
	for _, tc := range []struct {
		name  string
		c     *corev1.Container
		image string
		want  corev1.Signal
	}{
		{"G6 container lifecycle.stopSignal first", &corev1.Container{Lifecycle: &corev1.Lifecycle{StopSignal: &quit}}, "SIGINT", corev1.SIGQUIT},
		{"G6 else the image's STOPSIGNAL", &corev1.Container{}, "SIGINT", corev1.SIGINT},
		{"G6 an empty lifecycle.stopSignal falls through", &corev1.Container{Lifecycle: &corev1.Lifecycle{StopSignal: &empty}}, "SIGUSR1", corev1.SIGUSR1},
		{"G6 else SIGTERM", &corev1.Container{}, "", corev1.SIGTERM},
		{"G6 no container: SIGTERM", nil, "", corev1.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StopSignal(tc.c, tc.image); got != tc.want {
				t.Errorf("StopSignal = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContainersOf(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	hook := &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "s1", RestartPolicy: &always},
			{Name: "init"},
			{Name: "s2", RestartPolicy: &always, Lifecycle: hook},
			{Name: "s3", RestartPolicy: &always},
		},
		Containers: []corev1.Container{{Name: "app", Lifecycle: hook}, {Name: "done"}, {Name: "web"}},
	}}
	notRunning := map[string]bool{"init": true, "done": true, "s3": true}
	got := ContainersOf(pod, func(n string) bool { return !notRunning[n] }, func(n string) string {
		if n == "web" {
			return "SIGQUIT"
		}
		return ""
	})
	want := []Container{
		{Name: "app", PreStop: true, StopSignal: corev1.SIGTERM},
		{Name: "web", StopSignal: corev1.SIGQUIT},
		// G6 sidecars: every regular container, then the next sidecar
		// declared after it (s3 is not running, so s2 waits only for the
		// regular ones; kubelet's newTerminationOrdering).
		{Name: "s2", PreStop: true, StopSignal: corev1.SIGTERM, WaitsFor: []string{"app", "done", "web", "s3"}},
		{Name: "s1", StopSignal: corev1.SIGTERM, WaitsFor: []string{"app", "done", "web", "s2"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ContainersOf (-want +got):\n%s", diff)
	}
}

func TestTerminalPhase(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []Exit
		want corev1.PodPhase
	}{
		{"G7 every regular container exited 0 → Succeeded", []Exit{{Name: "a", Exited: true}, {Name: "b", Exited: true}}, corev1.PodSucceeded},
		{"G7 143 after SIGTERM → Failed", []Exit{{Name: "a", Exited: true}, {Name: "b", Exited: true, ExitCode: 143}}, corev1.PodFailed},
		{"G7 137 after SIGKILL → Failed", []Exit{{Name: "a", Exited: true, ExitCode: 137}}, corev1.PodFailed},
		{"G7 a regular container that never ran → Failed", []Exit{{Name: "a", Exited: true}, {Name: "b"}}, corev1.PodFailed},
		{"G7 no regular container → Failed", nil, corev1.PodFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TerminalPhase(tc.in); got != tc.want {
				t.Errorf("TerminalPhase = %s, want %s", got, tc.want)
			}
		})
	}
}
