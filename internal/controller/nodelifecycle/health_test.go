package nodelifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// readyNode is a node whose kubelet posted Ready=True with heartbeat hb.
func readyNode(name string, hb time.Time, status corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", Message: "kubelet is posting ready status",
				LastHeartbeatTime: metav1.NewTime(hb), LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory",
				LastHeartbeatTime: metav1.NewTime(hb), LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))},
		}},
	}
}

func lease(name string, renew time.Time) *coordinationv1.Lease {
	rt := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: name},
		Spec:       coordinationv1.LeaseSpec{RenewTime: &rt},
	}
}

// TestObserveSteps walks a node through life, silence and return on a
// fake clock, one monitor pass (5 s) at a time, as upstream's
// tryUpdateNodeHealth sees it.
func TestObserveSteps(t *testing.T) {
	clk := testclock.NewFakeClock(t0)
	const grace, startup = DefaultGracePeriod, DefaultStartupGracePeriod
	var h *health
	pass := func(node *corev1.Node, l *coordinationv1.Lease) observation {
		o := observe(node, l, h, clk.Now(), grace, startup)
		h = o.health
		return o
	}

	node := readyNode("n", t0.Add(-time.Minute), corev1.ConditionTrue)
	o := pass(node, lease("n", t0.Add(-time.Minute)))
	if !h.probe.Equal(t0) || o.grace != grace || o.overdue(clk.Now()) {
		t.Fatalf("first sight: probe %v grace %v overdue %v; want probe = now, the monitor grace, not overdue", h.probe, o.grace, o.overdue(clk.Now()))
	}

	t.Run("a renewed lease is a sign of life even with a stale status", func(t *testing.T) {
		clk.Step(30 * time.Second)
		pass(node, lease("n", t0.Add(29*time.Second)))
		if !h.probe.Equal(clk.Now()) {
			t.Errorf("probe = %v, want %v", h.probe, clk.Now())
		}
	})
	t.Run("the same lease again is not", func(t *testing.T) {
		clk.Step(5 * time.Second)
		pass(node, lease("n", t0.Add(29*time.Second)))
		if !h.probe.Equal(t0.Add(30 * time.Second)) {
			t.Errorf("probe = %v, want the renewal's pass at %v", h.probe, t0.Add(30*time.Second))
		}
	})
	t.Run("a new Ready heartbeat is a sign of life", func(t *testing.T) {
		clk.Step(5 * time.Second)
		node = readyNode("n", t0.Add(39*time.Second), corev1.ConditionTrue)
		pass(node, lease("n", t0.Add(29*time.Second)))
		if !h.probe.Equal(clk.Now()) {
			t.Errorf("probe = %v, want %v", h.probe, clk.Now())
		}
	})
	t.Run("the next pass counts the same lease once more, as upstream", func(t *testing.T) {
		// Upstream's new nodeHealthData after a heartbeat change has no
		// lease, so the next pass takes the unchanged lease for a renewal.
		clk.Step(5 * time.Second)
		pass(node, lease("n", t0.Add(29*time.Second)))
		if !h.probe.Equal(clk.Now()) || h.lease == nil {
			t.Errorf("probe = %v lease %v, want %v and the lease remembered", h.probe, h.lease, clk.Now())
		}
	})
	lastSeen := clk.Now()
	t.Run("silence up to the grace period is tolerated", func(t *testing.T) {
		for clk.Now().Sub(lastSeen) < grace {
			clk.Step(5 * time.Second)
			if o := pass(node, lease("n", t0.Add(29*time.Second))); o.overdue(clk.Now()) {
				t.Fatalf("overdue %v after the last sign of life, grace %v", clk.Now().Sub(lastSeen), grace)
			}
		}
	})
	t.Run("one pass beyond the grace period it is overdue", func(t *testing.T) {
		clk.Step(5 * time.Second)
		o := pass(node, lease("n", t0.Add(29*time.Second)))
		if !o.overdue(clk.Now()) {
			t.Fatalf("not overdue %v after the last sign of life", clk.Now().Sub(lastSeen))
		}
		got := markUnknown(node, clk.Now())
		now := metav1.NewTime(clk.Now())
		want := []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.",
				LastHeartbeatTime: metav1.NewTime(t0.Add(39 * time.Second)), LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.",
				LastHeartbeatTime: metav1.NewTime(t0.Add(39 * time.Second)), LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: now},
		}
		if diff := cmp.Diff(want, got.Status.Conditions); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
		if node.Status.Conditions[0].Status != corev1.ConditionTrue {
			t.Error("markUnknown changed its argument")
		}
		node = got // the controller writes it
		h = &health{status: &got.Status, probe: h.probe, lease: h.lease}
	})
	t.Run("an Unknown node stays overdue and is not rewritten", func(t *testing.T) {
		clk.Step(5 * time.Second)
		o := pass(node, lease("n", t0.Add(29*time.Second)))
		if !o.overdue(clk.Now()) {
			t.Error("no longer overdue")
		}
		again := markUnknown(node, clk.Now())
		if diff := cmp.Diff(node.Status.Conditions, again.Status.Conditions); diff != "" {
			t.Errorf("a second markUnknown changed the conditions (-before +after):\n%s", diff)
		}
	})
	t.Run("the agent comes back: a new heartbeat ends it", func(t *testing.T) {
		clk.Step(5 * time.Second)
		node = readyNode("n", clk.Now(), corev1.ConditionTrue)
		o := pass(node, lease("n", clk.Now()))
		if o.overdue(clk.Now()) || !h.probe.Equal(clk.Now()) {
			t.Errorf("overdue %v probe %v after the agent's return", o.overdue(clk.Now()), h.probe)
		}
	})
}

func TestObserveNeverPosted(t *testing.T) {
	created := t0
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", CreationTimestamp: metav1.NewTime(created)}}
	o := observe(node, nil, nil, created.Add(time.Second), DefaultGracePeriod, DefaultStartupGracePeriod)
	if o.grace != DefaultStartupGracePeriod || !o.health.probe.Equal(created) {
		t.Fatalf("grace %v probe %v; want the startup grace from the creation time", o.grace, o.health.probe)
	}
	if o.currentReady != nil || o.observedReady.Status != corev1.ConditionUnknown {
		t.Errorf("observed %+v current %v; want a made-up Unknown and none", o.observedReady, o.currentReady)
	}
	o = observe(node, nil, o.health, created.Add(DefaultStartupGracePeriod), DefaultGracePeriod, DefaultStartupGracePeriod)
	if o.overdue(created.Add(DefaultStartupGracePeriod)) {
		t.Error("overdue at exactly the startup grace")
	}
	now := created.Add(DefaultStartupGracePeriod + time.Second)
	o = observe(node, nil, o.health, now, DefaultGracePeriod, DefaultStartupGracePeriod)
	if !o.overdue(now) {
		t.Fatal("not overdue after the startup grace")
	}
	got := readyCondition(&markUnknown(node, now).Status)
	if got.Reason != "NodeStatusNeverUpdated" || got.Message != "Kubelet never posted node status." || got.Status != corev1.ConditionUnknown {
		t.Errorf("Ready = %+v", got)
	}
	// A lease alone keeps a node that never posted status alive, as
	// upstream notes.
	o = observe(node, lease("n", now), o.health, now, DefaultGracePeriod, DefaultStartupGracePeriod)
	if o.overdue(now) {
		t.Error("overdue despite a renewed lease")
	}
}

func TestObserveAfterRestart(t *testing.T) {
	// A controller that starts with an old heartbeat on the node gives it
	// a full grace period from now, as upstream.
	node := readyNode("n", t0.Add(-time.Hour), corev1.ConditionTrue)
	o := observe(node, nil, nil, t0, DefaultGracePeriod, DefaultStartupGracePeriod)
	if !o.health.probe.Equal(t0) || o.overdue(t0.Add(DefaultGracePeriod)) {
		t.Errorf("probe %v; want now and no verdict before a grace period", o.health.probe)
	}
}
