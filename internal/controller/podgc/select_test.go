package podgc

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0)},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func inPhase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func evicted(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = corev1.PodFailed, evictedReason }

func created(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(d)) }
}

func terminating(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: t0} }

func mkNode(name string, ready bool, taints ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	for _, k := range taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: k, Effect: corev1.TaintEffectNoExecute})
	}
	return n
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestTerminatedOverThreshold(t *testing.T) {
	tests := []struct {
		name      string
		pods      []*corev1.Pod
		threshold int
		want      []string
	}{
		{
			name:      "F7 under the threshold nothing is deleted",
			pods:      []*corev1.Pod{mkPod("a", inPhase(corev1.PodSucceeded)), mkPod("b", inPhase(corev1.PodFailed))},
			threshold: 2,
		},
		{
			name: "F7 the oldest terminated pods beyond the threshold go",
			pods: []*corev1.Pod{
				mkPod("new", inPhase(corev1.PodSucceeded), created(3*time.Second)),
				mkPod("old", inPhase(corev1.PodFailed), created(time.Second)),
				mkPod("mid", inPhase(corev1.PodSucceeded), created(2*time.Second)),
			},
			threshold: 1,
			want:      []string{"old", "mid"},
		},
		{
			name: "F7 running, pending and unknown pods do not count",
			pods: []*corev1.Pod{
				mkPod("run", created(-time.Hour)), mkPod("pend", inPhase(corev1.PodPending), created(-time.Hour)),
				mkPod("unk", inPhase(corev1.PodUnknown), created(-time.Hour)),
				mkPod("done", inPhase(corev1.PodSucceeded)), mkPod("done2", inPhase(corev1.PodSucceeded), created(time.Second)),
			},
			threshold: 1,
			want:      []string{"done"},
		},
		{
			name: "F7 a pod with no phase counts as terminated, as upstream",
			pods: []*corev1.Pod{
				mkPod("nophase", inPhase(""), created(time.Second)), mkPod("done", inPhase(corev1.PodSucceeded), created(2*time.Second)),
			},
			threshold: 1,
			want:      []string{"nophase"},
		},
		{
			name: "F7 evicted pods go before older terminated pods",
			pods: []*corev1.Pod{
				mkPod("old", inPhase(corev1.PodSucceeded)),
				mkPod("evicted", evicted, created(time.Hour)),
				mkPod("mid", inPhase(corev1.PodFailed), created(time.Minute)),
			},
			threshold: 1,
			want:      []string{"evicted", "old"},
		},
		{
			name: "F7 equal creation times are ordered by name",
			pods: []*corev1.Pod{
				mkPod("c", inPhase(corev1.PodSucceeded)), mkPod("a", inPhase(corev1.PodSucceeded)), mkPod("b", inPhase(corev1.PodSucceeded)),
			},
			threshold: 1,
			want:      []string{"a", "b"},
		},
		{
			name:      "F7 a threshold of 0 or less turns the collection off",
			pods:      []*corev1.Pod{mkPod("a", inPhase(corev1.PodSucceeded))},
			threshold: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(terminatedOverThreshold(tt.pods, tt.threshold))); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTerminatingOutOfService(t *testing.T) {
	nodes := map[string]*corev1.Node{
		"oos":         mkNode("oos", false, corev1.TaintNodeOutOfService),
		"oos-ready":   mkNode("oos-ready", true, corev1.TaintNodeOutOfService),
		"notready":    mkNode("notready", false, corev1.TaintNodeUnreachable),
		"no-cond-oos": {ObjectMeta: metav1.ObjectMeta{Name: "no-cond-oos"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: corev1.TaintNodeOutOfService}}}},
	}
	pods := []*corev1.Pod{
		mkPod("term-oos", on("oos"), terminating),
		mkPod("live-oos", on("oos")),
		mkPod("term-oos-ready", on("oos-ready"), terminating),
		mkPod("term-notready", on("notready"), terminating),
		mkPod("term-nocond", on("no-cond-oos"), terminating, created(-time.Second)),
		mkPod("term-missing-node", on("gone"), terminating),
		mkPod("term-unscheduled", terminating),
	}
	want := []string{"term-nocond", "term-oos"}
	if diff := cmp.Diff(want, names(terminatingOutOfService(pods, nodes))); diff != "" {
		t.Errorf("F7 terminating pods on NotReady out-of-service nodes (-want +got):\n%s", diff)
	}
}

func TestUnscheduledTerminating(t *testing.T) {
	pods := []*corev1.Pod{
		mkPod("term", terminating),
		mkPod("term-done", terminating, inPhase(corev1.PodSucceeded)),
		mkPod("live"),
		mkPod("term-scheduled", terminating, on("n")),
	}
	if diff := cmp.Diff([]string{"term", "term-done"}, names(unscheduledTerminating(pods))); diff != "" {
		t.Errorf("F7 terminating unscheduled pods (-want +got):\n%s", diff)
	}
}

func TestMissingNodes(t *testing.T) {
	nodes := map[string]*corev1.Node{"here": mkNode("here", true)}
	pods := []*corev1.Pod{mkPod("a", on("here")), mkPod("b", on("gone")), mkPod("c", on("gone")), mkPod("d"), mkPod("e", on("lost"))}
	got := missingNodes(pods, nodes)
	if diff := cmp.Diff(map[string]bool{"gone": true, "lost": true}, got); diff != "" {
		t.Errorf("missing nodes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b", "c"}, names(onNodes(pods, map[string]bool{"gone": true}))); diff != "" {
		t.Errorf("pods on nodes (-want +got):\n%s", diff)
	}
}

func TestFailedStatus(t *testing.T) {
	cond := &corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists"}
	now := t0.Add(time.Hour)
	p := mkPod("p", func(p *corev1.Pod) {
		p.Generation = 3
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	})
	got := failedStatus(p, cond, now)
	want := corev1.PodStatus{
		Phase:              corev1.PodFailed,
		ObservedGeneration: 3,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
			{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists",
				ObservedGeneration: 3, LastTransitionTime: metav1.NewTime(now)},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("F7 orphaned pod status (-want +got):\n%s", diff)
	}
	if p.Status.Phase != corev1.PodRunning || len(p.Status.Conditions) != 1 {
		t.Error("failedStatus changed the cached pod")
	}

	// An existing True DisruptionTarget keeps its transition time.
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)})
	got = failedStatus(p, cond, now)
	if lt := got.Conditions[1].LastTransitionTime; !lt.Time.Equal(t0) {
		t.Errorf("unchanged condition status moved lastTransitionTime to %v", lt)
	}
	if r := got.Conditions[1].Reason; r != "DeletionByPodGC" {
		t.Errorf("condition reason = %q", r)
	}

	patch, err := failedStatusPatch(p, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"metadata":{"uid":"uid-p"},"status":{"observedGeneration":3,"phase":"Failed"}}`; string(patch) != want {
		t.Errorf("patch = %s, want %s", patch, want)
	}
}
