package podcontrol

import (
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
			Labels:            map[string]string{"app": "a"},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

// readySince makes the pod ready since t0-ago.
func readySince(ago time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-ago)),
		})
	}
}

func created(ago time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-ago)) }
}

func cost(c string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.PodDeletionCost: c} }
}

func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "c", RestartCount: n})
	}
}

func sidecarRestarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "side", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)})
		p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, corev1.ContainerStatus{Name: "side", RestartCount: n})
	}
}

func uid(u string) podOpt { return func(p *corev1.Pod) { p.UID = types.UID(u) } }

func terminating(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }

func TestActivePodsWithRanksLess(t *testing.T) {
	tests := []struct {
		name         string
		first, other *corev1.Pod
		rankFirst    int
		rankOther    int
		zeroNow      bool
	}{
		{name: "G11 unscheduled before scheduled", first: mkPod("a"), other: mkPod("b", on("n"), phase(corev1.PodPending))},
		{name: "G11 Pending before Unknown", first: mkPod("a", on("n"), phase(corev1.PodPending)), other: mkPod("b", on("n"), phase(corev1.PodUnknown))},
		{name: "G11 Unknown before Running", first: mkPod("a", on("n"), phase(corev1.PodUnknown)), other: mkPod("b", on("n"))},
		{name: "G11 not ready before ready", first: mkPod("a", on("n"), created(time.Minute)),
			other: mkPod("b", on("n"), readySince(time.Second), created(time.Second))},
		{name: "G11 lower deletion cost first", first: mkPod("a", on("n"), cost("-5")), other: mkPod("b", on("n"), cost("3"), created(time.Second)),
			rankOther: 9},
		{name: "G11 an invalid deletion cost counts as 0", first: mkPod("a", on("n"), cost("+7")), other: mkPod("b", on("n"), cost("1"))},
		{name: "G11 more same-node siblings first", first: mkPod("a", on("n")), other: mkPod("b", on("m"), created(time.Second)),
			rankFirst: 3, rankOther: 1},
		{name: "G11 ready for a shorter time first", first: mkPod("a", on("n"), readySince(time.Minute)),
			other: mkPod("b", on("n"), readySince(time.Hour), created(time.Second))},
		{name: "G11 ready times on a log2 scale tie, the uid decides",
			first: mkPod("a", on("n"), readySince(40*time.Second), uid("1")), other: mkPod("b", on("n"), readySince(50*time.Second), uid("2"))},
		{name: "G11 with a zero now, ready times compare linearly", zeroNow: true,
			first: mkPod("a", on("n"), readySince(40*time.Second), uid("2")), other: mkPod("b", on("n"), readySince(50*time.Second), uid("1"))},
		{name: "G11 more restarts first", first: mkPod("a", on("n"), restarts(3)), other: mkPod("b", on("n"), restarts(1), created(time.Second))},
		{name: "G11 more sidecar restarts first when regular ones tie", first: mkPod("a", on("n"), restarts(1), sidecarRestarts(4)),
			other: mkPod("b", on("n"), restarts(1), sidecarRestarts(2), created(time.Second))},
		{name: "G11 newer first", first: mkPod("a", on("n"), created(time.Minute)), other: mkPod("b", on("n"), created(time.Hour))},
		{name: "G11 creation times on a log2 scale tie, the uid decides",
			first: mkPod("a", on("n"), created(75*time.Minute), uid("1")), other: mkPod("b", on("n"), created(80*time.Minute), uid("2"))},
		{name: "G11 a zero creation time comes first", first: mkPod("a", on("n"), func(p *corev1.Pod) { p.CreationTimestamp = metav1.Time{} }),
			other: mkPod("b", on("n"), created(time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := metav1.NewTime(t0)
			if tt.zeroNow {
				now = metav1.Time{}
			}
			s := ActivePodsWithRanks{Pods: []*corev1.Pod{tt.first, tt.other}, Rank: []int{tt.rankFirst, tt.rankOther}, Now: now}
			if !s.Less(0, 1) {
				t.Errorf("%s should come before %s", tt.first.Name, tt.other.Name)
			}
			if s.Less(1, 0) {
				t.Errorf("%s should not come before %s", tt.other.Name, tt.first.Name)
			}
		})
	}
}

func TestActivePodsWithRanksEqualPods(t *testing.T) {
	a, b := mkPod("a", on("n")), mkPod("b", on("n"), uid("uid-a"))
	s := ActivePodsWithRanks{Pods: []*corev1.Pod{a, b}, Rank: []int{0, 0}, Now: metav1.NewTime(t0)}
	if s.Less(0, 1) || s.Less(1, 0) {
		t.Error("identical pods should not be ordered")
	}
}

func TestPodsToDelete(t *testing.T) {
	pods := []*corev1.Pod{
		mkPod("running-old", on("n1"), readySince(2*time.Hour), created(3*time.Hour)),
		mkPod("running-new", on("n2"), readySince(time.Minute), created(2*time.Minute)),
		mkPod("pending", on("n1"), phase(corev1.PodPending)),
		mkPod("unscheduled", phase(corev1.PodPending)),
		mkPod("crowded", on("n3"), readySince(2*time.Hour), created(3*time.Hour)),
	}
	// Siblings of crowded on n3; a terminating one does not count.
	related := append([]*corev1.Pod{
		mkPod("s1", on("n3")), mkPod("s2", on("n3")), mkPod("s3", on("n3"), terminating),
	}, pods...)
	got := func(victims []*corev1.Pod) []string {
		var names []string
		for _, p := range victims {
			names = append(names, p.Name)
		}
		return names
	}
	// crowded has 3 active pods on its node, running-old 2, running-new 1:
	// rank before readiness time.
	want := []string{"unscheduled", "pending", "crowded", "running-old"}
	if diff := cmp.Diff(want, got(PodsToDelete(pods, related, 4, t0))); diff != "" {
		t.Errorf("G11 victims (-want +got):\n%s", diff)
	}
	// All of them: no sorting needed, all go.
	if n := len(PodsToDelete(pods, related, 5, t0)); n != 5 {
		t.Errorf("deleting all returned %d pods", n)
	}
}

func TestActivePods(t *testing.T) {
	pods := []*corev1.Pod{
		mkPod("ready-long", on("n"), readySince(time.Hour)),
		mkPod("ready-short", on("n"), readySince(time.Minute)),
		mkPod("restarted", on("n"), restarts(2)),
		mkPod("new", on("n"), created(time.Second)),
		mkPod("unknown", on("n"), phase(corev1.PodUnknown)),
		mkPod("unscheduled", phase(corev1.PodPending)),
	}
	sort.Sort(ActivePods(pods))
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	want := []string{"unscheduled", "unknown", "restarted", "new", "ready-short", "ready-long"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestDeletionCost(t *testing.T) {
	for v, want := range map[string]int32{
		"": 0, "0": 0, "10": 10, "-10": -10, "+10": 0, "007": 0, "x": 0,
		strconv.Itoa(1 << 31): 0, "2147483647": 2147483647,
	} {
		p := mkPod("p", cost(v))
		if got := DeletionCost(p); got != want {
			t.Errorf("DeletionCost(%q) = %d, want %d", v, got, want)
		}
	}
	if got := DeletionCost(mkPod("p")); got != 0 {
		t.Errorf("no annotation: %d", got)
	}
}
