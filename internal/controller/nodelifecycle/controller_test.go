package nodelifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testclock "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// env is a controller on a fake clientset and a fake clock; step runs one
// monitor pass.
type env struct {
	client *fake.Clientset
	clk    *testclock.FakeClock
	c      *Controller
	reg    *prometheus.Registry
}

func startEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	e := &env{client: fake.NewClientset(objs...), clk: testclock.NewFakeClock(t0), reg: prometheus.NewRegistry()}
	enforceResourceVersions(e.client)
	f := informers.NewSharedInformerFactory(e.client, 0)
	c, err := New(Config{Client: e.client, Informers: f, Clock: e.clk, Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	f.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Shutdown()
	})
	e.waitFor(t, "the first monitor pass", func() bool { return e.counter("terminus_nodelifecycle_monitor_passes_total") >= 1 })
	return e
}

// enforceResourceVersions makes the fake clientset's node writes behave as
// the API server's: each write stamps a new resourceVersion, and an update
// or merge patch carrying a resourceVersion other than the stored one is a
// 409 Conflict. The fake tracker does neither, and the controller relies
// on it (its taint patches carry the resourceVersion they were computed
// from).
func enforceResourceVersions(client *fake.Clientset) {
	var mu sync.Mutex
	rv := 1000
	gvr := corev1.SchemeGroupVersion.WithResource("nodes")
	write := func(name string, desired func(cur *corev1.Node) (*corev1.Node, error)) (runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		obj, err := client.Tracker().Get(gvr, "", name)
		if err != nil {
			return nil, err
		}
		cur := obj.(*corev1.Node)
		next, err := desired(cur.DeepCopy())
		if err != nil {
			return nil, err
		}
		if next.ResourceVersion != "" && next.ResourceVersion != cur.ResourceVersion {
			return nil, apierrors.NewConflict(gvr.GroupResource(), name, errors.New("the object has been modified"))
		}
		rv++
		next.ResourceVersion = strconv.Itoa(rv)
		return next, client.Tracker().Update(gvr, next, "")
	}
	client.PrependReactor("update", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		n := ua.GetObject().(*corev1.Node)
		obj, err := write(n.Name, func(cur *corev1.Node) (*corev1.Node, error) {
			next := n.DeepCopy()
			if ua.GetSubresource() == "status" {
				next.Spec = cur.Spec
			} else {
				next.Status = cur.Status
			}
			return next, nil
		})
		return true, obj, err
	})
	client.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetPatchType() != types.MergePatchType {
			return false, nil, nil
		}
		obj, err := write(pa.GetName(), func(cur *corev1.Node) (*corev1.Node, error) {
			data, err := json.Marshal(cur)
			if err != nil {
				return nil, err
			}
			merged, err := jsonpatch.MergePatch(data, pa.GetPatch())
			if err != nil {
				return nil, err
			}
			next := &corev1.Node{}
			return next, json.Unmarshal(merged, next)
		})
		return true, obj, err
	})
}

func (e *env) counter(name string) float64 {
	mfs, _ := e.reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func (e *env) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

// step moves the clock one monitor period and waits for that pass; the
// nodes named in alive renew their leases first.
func (e *env) step(t *testing.T, alive ...string) {
	t.Helper()
	for _, name := range alive {
		e.renew(t, name)
	}
	n := e.counter("terminus_nodelifecycle_monitor_passes_total")
	e.clk.Step(DefaultMonitorPeriod)
	e.waitFor(t, "a monitor pass", func() bool { return e.counter("terminus_nodelifecycle_monitor_passes_total") > n })
}

// renew renews name's lease at the clock's time, as an agent does, and
// waits for the informer to see it.
func (e *env) renew(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	leases := e.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewMicroTime(e.clk.Now())
	l.Spec.RenewTime = &now
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "the informer sees the renewal", func() bool {
		got, err := e.c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(name)
		return err == nil && got.Spec.RenewTime.Equal(&now)
	})
}

func (e *env) node(t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := e.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) taints(t *testing.T, name string) []string {
	return taintStrings(e.node(t, name).Spec.Taints)
}

func (e *env) event(reason, message string) bool {
	evs, err := e.client.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, ev := range evs.Items {
		if ev.Reason == reason && ev.Message == message {
			return true
		}
	}
	return false
}

// untilOverdue steps past the grace period, keeping alive nodes alive.
func (e *env) untilOverdue(t *testing.T, alive ...string) {
	t.Helper()
	for range DefaultGracePeriod/DefaultMonitorPeriod + 1 {
		e.step(t, alive...)
	}
}

func withLease(name string) []runtime.Object {
	return []runtime.Object{readyNode(name, t0, corev1.ConditionTrue), lease(name, t0)}
}

func podOn(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))},
		}},
	}
}

func TestStoppedNodeGoesUnknownAndIsTainted(t *testing.T) {
	objs := append(withLease("alive"), withLease("dead")...)
	objs = append(objs, podOn("web", "dead"))
	e := startEnv(t, objs...)
	e.waitFor(t, "RegisteredNode events", func() bool { return e.event("RegisteredNode", "Node dead event: Registered Node dead in Controller") })

	// Up to the grace period nothing happens.
	for range DefaultGracePeriod / DefaultMonitorPeriod {
		e.step(t, "alive")
	}
	if c := readyCondition(&e.node(t, "dead").Status); c.Status != corev1.ConditionTrue {
		t.Fatalf("dead is %s after exactly the grace period", c.Status)
	}
	e.step(t, "alive")
	marked := e.clk.Now()

	dead := e.node(t, "dead")
	for _, typ := range unknownConditions {
		c := condition(&dead.Status, typ)
		if c == nil || c.Status != corev1.ConditionUnknown {
			t.Errorf("%s = %+v, want Unknown", typ, c)
		}
	}
	if c := readyCondition(&dead.Status); c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." || !c.LastTransitionTime.Time.Equal(marked) {
		t.Errorf("Ready = %+v, want NodeStatusUnknown at %v", c, marked)
	}
	if !hasTaint(dead.Spec.Taints, &unreachableNoExecute) {
		t.Errorf("dead has taints %v, want unreachable:NoExecute in the same pass (one node of two down: normal zone)", taintStrings(dead.Spec.Taints))
	}
	for _, tt := range dead.Spec.Taints {
		if tt.Effect == corev1.TaintEffectNoExecute && (tt.TimeAdded == nil || !tt.TimeAdded.Time.Equal(marked)) {
			t.Errorf("NoExecute taint timeAdded = %v, want %v", tt.TimeAdded, marked)
		}
	}
	e.waitFor(t, "the unreachable NoSchedule taint", func() bool {
		return slices.Contains(e.taints(t, "dead"), "node.kubernetes.io/unreachable:NoSchedule")
	})
	if got := e.taints(t, "alive"); len(got) != 0 {
		t.Errorf("alive has taints %v", got)
	}
	e.waitFor(t, "the NodeNotReady event", func() bool { return e.event("NodeNotReady", "Node dead status is now: NodeNotReady") })

	pod, err := e.client.CoreV1().Pods("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Conditions[0].Status != corev1.ConditionFalse || !pod.Status.Conditions[0].LastTransitionTime.Time.Equal(marked) {
		t.Errorf("pod Ready = %+v, want False at %v", pod.Status.Conditions[0], marked)
	}
	e.waitFor(t, "the pod's NodeNotReady event", func() bool { return e.event("NodeNotReady", "Node is not ready") })

	// A later pass does not write the node again.
	rv := e.node(t, "dead").ResourceVersion
	e.step(t, "alive")
	if got := e.counter("terminus_nodelifecycle_nodes_marked_unknown_total"); got != 1 {
		t.Errorf("marked unknown %v times, want 1 (rv %s)", got, rv)
	}

	// The agent comes back: a heartbeat and a renewal clear the taints.
	n := e.node(t, "dead")
	now := metav1.NewTime(e.clk.Now())
	c := readyCondition(&n.Status)
	c.Status, c.Reason, c.Message, c.LastHeartbeatTime, c.LastTransitionTime = corev1.ConditionTrue, "KubeletReady", "", now, now
	if _, err := e.client.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "the informer sees the node Ready", func() bool {
		got, err := e.c.nodeLister.Get("dead")
		return err == nil && readyCondition(&got.Status).Status == corev1.ConditionTrue
	})
	e.step(t, "alive", "dead")
	e.waitFor(t, "every taint gone", func() bool { return len(e.taints(t, "dead")) == 0 })
}

func TestOneNodeClusterEntersDisruptionMode(t *testing.T) {
	e := startEnv(t, withLease("only")...)
	e.untilOverdue(t)
	e.waitFor(t, "the unreachable NoSchedule taint", func() bool {
		return slices.Contains(e.taints(t, "only"), "node.kubernetes.io/unreachable:NoSchedule")
	})
	if c := readyCondition(&e.node(t, "only").Status); c.Status != corev1.ConditionUnknown {
		t.Fatalf("Ready = %s, want Unknown", c.Status)
	}
	// No Ready node at all: upstream adds no NoExecute taint, however long.
	for range 10 {
		e.step(t)
	}
	if got := e.taints(t, "only"); slices.Contains(got, "node.kubernetes.io/unreachable:NoExecute") {
		t.Errorf("taints %v: a fully disrupted cluster got a NoExecute taint", got)
	}
}

func TestNotReadyNodeGetsNotReadyTaints(t *testing.T) {
	objs := append(withLease("ok"), withLease("sick")...)
	e := startEnv(t, objs...)
	// The agent is alive and says NotReady.
	n := e.node(t, "sick")
	c := readyCondition(&n.Status)
	c.Status, c.Reason, c.LastHeartbeatTime = corev1.ConditionFalse, "KubeletNotReady", metav1.NewTime(e.clk.Now())
	if _, err := e.client.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "the not-ready NoSchedule taint", func() bool {
		return slices.Contains(e.taints(t, "sick"), "node.kubernetes.io/not-ready:NoSchedule")
	})
	e.waitFor(t, "the informer sees the node NotReady", func() bool {
		got, err := e.c.nodeLister.Get("sick")
		return err == nil && readyCondition(&got.Status).Status == corev1.ConditionFalse
	})
	e.step(t, "ok", "sick")
	e.waitFor(t, "the not-ready NoExecute taint", func() bool {
		return slices.Contains(e.taints(t, "sick"), "node.kubernetes.io/not-ready:NoExecute")
	})
	if got := readyCondition(&e.node(t, "sick").Status); got.Status != corev1.ConditionFalse {
		t.Errorf("a live NotReady node was rewritten: %+v", got)
	}
	if got := e.taints(t, "sick"); slices.Contains(got, "node.kubernetes.io/unreachable:NoExecute") || slices.Contains(got, "node.kubernetes.io/unreachable:NoSchedule") {
		t.Errorf("taints %v: not-ready and unreachable together", got)
	}
}

func TestUnschedulableTaint(t *testing.T) {
	e := startEnv(t, withLease("n")...)
	ctx := context.Background()
	n := e.node(t, "n")
	n.Spec.Unschedulable = true
	if _, err := e.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "the unschedulable taint", func() bool {
		return slices.Contains(e.taints(t, "n"), "node.kubernetes.io/unschedulable:NoSchedule")
	})
	n = e.node(t, "n")
	n.Spec.Unschedulable = false
	if _, err := e.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "the unschedulable taint gone", func() bool { return len(e.taints(t, "n")) == 0 })
}

func TestLeaseCircuitBreaker(t *testing.T) {
	client := fake.NewClientset(lease("n", t0))
	client.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		l := lease("n", t0.Add(time.Minute))
		l.ResourceVersion = "8"
		return true, l, nil
	})
	c := &Controller{client: client, log: discardLogger()}
	seen := func(rv string) *coordinationv1.Lease {
		l := lease("n", t0)
		l.ResourceVersion = rv
		return l
	}
	if c.leaseIsCurrent(context.Background(), "n", seen("7")) {
		t.Error("a node was judged on a lease older than the live one")
	}
	if !c.leaseIsCurrent(context.Background(), "n", seen("8")) {
		t.Error("a node with a current lease was not judged")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
