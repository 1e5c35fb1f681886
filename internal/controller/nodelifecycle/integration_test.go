package nodelifecycle_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	testclock "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/nodelifecycle"
)

// agent stands for a node agent: it registers a Node with a Ready status
// and a Lease, and renews the Lease on the controller's clock.
type agent struct {
	t      *testing.T
	client kubernetes.Interface
	name   string
}

func register(t *testing.T, client kubernetes.Interface, name string, now time.Time) *agent {
	t.Helper()
	ctx := context.Background()
	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{t: t, client: client, name: name}
	a.post(n, corev1.ConditionTrue, now)
	rt := metav1.NewMicroTime(now)
	if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: ptr(int32(40)), RenewTime: &rt},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

// post writes the node's status with Ready=status and heartbeat now.
func (a *agent) post(n *corev1.Node, status corev1.ConditionStatus, now time.Time) {
	a.t.Helper()
	ts := metav1.NewTime(now)
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")}
	n.Status.Capacity = n.Status.Allocatable
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", LastHeartbeatTime: ts, LastTransitionTime: ts}}
	if _, err := a.client.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		a.t.Fatal(err)
	}
}

func (a *agent) renew(now time.Time) {
	a.t.Helper()
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	l, err := leases.Get(context.Background(), a.name, metav1.GetOptions{})
	if err != nil {
		a.t.Fatal(err)
	}
	rt := metav1.NewMicroTime(now)
	l.Spec.RenewTime = &rt
	if _, err := leases.Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		a.t.Fatal(err)
	}
}

// TestNodeLifecycleAgainstTheServer runs the controller on a fake clock
// against a whole server: one agent keeps renewing, the other stops; the
// silent node goes Unknown and tainted after the grace period, and
// untainted when its agent returns.
func TestNodeLifecycleAgainstTheServer(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()
	clk := testclock.NewFakeClock(time.Now().Truncate(time.Second)) // the API keeps microseconds
	alive := register(t, client, "alive", clk.Now())
	dead := register(t, client, "dead", clk.Now())

	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := nodelifecycle.New(nodelifecycle.Config{Client: client, Informers: f, Clock: clk, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	passes := func() float64 { return apptest.Counter(t, reg, "terminus_nodelifecycle_monitor_passes_total") }
	apptest.Eventually(t, "the first pass", func() (bool, error) { return passes() >= 1, nil })

	// step renews the given agents' leases, waits for the informer to see
	// them, and runs one monitor pass.
	step := func(agents ...*agent) {
		t.Helper()
		for _, a := range agents {
			a.renew(clk.Now())
			want := metav1.NewMicroTime(clk.Now())
			apptest.Eventually(t, "the informer sees the renewal", func() (bool, error) {
				l, err := c.CachedLease(a.name)
				return err == nil && l.Spec.RenewTime.Equal(&want), nil
			})
		}
		n := passes()
		clk.Step(nodelifecycle.DefaultMonitorPeriod)
		apptest.Eventually(t, "a monitor pass", func() (bool, error) { return passes() > n, nil })
	}
	taints := func(name string) []string {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return nodelifecycle.TaintStrings(n.Spec.Taints)
	}

	for range nodelifecycle.DefaultGracePeriod/nodelifecycle.DefaultMonitorPeriod + 1 {
		step(alive)
	}
	n, err := client.CoreV1().Nodes().Get(ctx, "dead", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := nodelifecycle.ReadyCondition(&n.Status); r.Status != corev1.ConditionUnknown || r.Reason != "NodeStatusUnknown" || r.Message != "Kubelet stopped posting node status." {
		t.Fatalf("dead's Ready = %+v, want Unknown NodeStatusUnknown", r)
	}
	apptest.Eventually(t, "the unreachable NoSchedule and NoExecute taints", func() (bool, error) {
		got := taints("dead")
		return slices.Contains(got, "node.kubernetes.io/unreachable:NoSchedule") && slices.Contains(got, "node.kubernetes.io/unreachable:NoExecute"), nil
	})
	if got := taints("alive"); len(got) != 0 {
		t.Errorf("alive has taints %v", got)
	}
	if r := nodelifecycle.ReadyCondition(&mustNode(t, client, "alive").Status); r.Status != corev1.ConditionTrue {
		t.Errorf("alive's Ready = %s", r.Status)
	}

	// The agent comes back.
	n, err = client.CoreV1().Nodes().Get(ctx, "dead", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dead.post(n, corev1.ConditionTrue, clk.Now())
	apptest.Eventually(t, "the informer sees the node Ready", func() (bool, error) {
		got, err := c.CachedNode("dead")
		return err == nil && nodelifecycle.ReadyCondition(&got.Status).Status == corev1.ConditionTrue, nil
	})
	step(alive, dead)
	apptest.Eventually(t, "the taints are gone", func() (bool, error) { return len(taints("dead")) == 0, nil })
}

func mustNode(t *testing.T, client kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
