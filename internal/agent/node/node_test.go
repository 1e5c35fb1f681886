package node_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"

	agentnode "github.com/terminus-project/terminus/internal/agent/node"
	"github.com/terminus-project/terminus/internal/apptest"
)

func TestReadMachine(t *testing.T) {
	m, err := agentnode.ReadMachine(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		q := m.Capacity[r]
		if q.Sign() <= 0 {
			t.Errorf("capacity %s = %s, want > 0", r, q.String())
		}
	}
	if pods := m.Capacity[corev1.ResourcePods]; pods.Value() != agentnode.DefaultMaxPods {
		t.Errorf("pods = %s, want %d", pods.String(), agentnode.DefaultMaxPods)
	}
	if m.Info.OperatingSystem == "" || m.Info.Architecture == "" {
		t.Errorf("system info %+v", m.Info)
	}
	if _, err := agentnode.ReadMachine("/does/not/exist", 0); err == nil {
		t.Error("a missing data dir should fail")
	}
}

type fixture struct {
	client kubernetes.Interface
	clock  *clocktesting.FakeClock
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func start(t *testing.T, client kubernetes.Interface, clk *clocktesting.FakeClock, mutate func(*agentnode.Config)) *fixture {
	t.Helper()
	m, err := agentnode.ReadMachine(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := agentnode.Config{Client: client, NodeName: "n1", Machine: m, Clock: clk, KubeletVersion: "v1.37.2",
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}, Port: 10555}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := agentnode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{client: client, clock: clk, cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- a.Run(ctx) }()
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) stop() {
	f.once.Do(func() {
		f.cancel()
		<-f.done
	})
}

func getNode(t *testing.T, c kubernetes.Interface) (*corev1.Node, error) {
	return c.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
}

func condition(n *corev1.Node, typ corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.NodeCondition{}
}

// stepUntil steps the fake clock by d until cond holds: the agent's tickers
// may not exist yet when the test first steps.
func stepUntil(t *testing.T, clk *clocktesting.FakeClock, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	apptest.Eventually(t, what, func() (bool, error) {
		ok, err := cond()
		if ok || err != nil {
			return ok, err
		}
		clk.Step(d)
		return false, nil
	})
}

func TestRegistersNodeAndRenewsLease(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	var healthy atomic.Pointer[error]
	f := start(t, client, clk, func(c *agentnode.Config) {
		c.Labels = map[string]string{"tier": "test"}
		c.Healthy = func() error {
			if p := healthy.Load(); p != nil {
				return *p
			}
			return nil
		}
	})

	var node *corev1.Node
	apptest.Eventually(t, "node registered and Ready", func() (bool, error) {
		n, err := getNode(t, client)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		node = n
		return err == nil && condition(n, corev1.NodeReady).Status == corev1.ConditionTrue, err
	})
	if node.Labels[corev1.LabelHostname] != "n1" || node.Labels["tier"] != "test" || node.Labels[corev1.LabelOSStable] == "" {
		t.Errorf("labels %v", node.Labels)
	}
	if node.Status.DaemonEndpoints.KubeletEndpoint.Port != 10555 || len(node.Status.Addresses) != 1 {
		t.Errorf("endpoint %d, addresses %v", node.Status.DaemonEndpoints.KubeletEndpoint.Port, node.Status.Addresses)
	}
	if cpu := node.Status.Allocatable[corev1.ResourceCPU]; cpu.Sign() <= 0 {
		t.Errorf("allocatable %v", node.Status.Allocatable)
	}
	if r := condition(node, corev1.NodeReady); r.Reason != "KubeletReady" || r.Message != "kubelet is posting ready status" {
		t.Errorf("Ready condition %+v", r)
	}
	if node.Status.NodeInfo.KubeletVersion != "v1.37.2" {
		t.Errorf("nodeInfo %+v", node.Status.NodeInfo)
	}

	// The lease is owned by the node and renewed on the clock.
	var first time.Time
	apptest.Eventually(t, "lease", func() (bool, error) {
		l, err := client.CoordinationV1().Leases(agentnode.LeaseNamespace).Get(context.Background(), "n1", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != node.UID || *l.Spec.LeaseDurationSeconds != 40 {
			t.Fatalf("lease %+v", l)
		}
		first = l.Spec.RenewTime.Time
		return true, nil
	})
	stepUntil(t, clk, time.Second, "lease renewed", func() (bool, error) {
		l, err := client.CoordinationV1().Leases(agentnode.LeaseNamespace).Get(context.Background(), "n1", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first), err
	})

	// A failing health check makes the node NotReady at the next update.
	bad := errors.New("container runtime is down")
	healthy.Store(&bad)
	stepUntil(t, clk, time.Second, "NotReady", func() (bool, error) {
		n, err := getNode(t, client)
		if err != nil {
			return false, err
		}
		c := condition(n, corev1.NodeReady)
		return c.Status == corev1.ConditionFalse && c.Reason == "KubeletNotReady" && c.Message == bad.Error(), nil
	})
	f.stop()

	// A restarted agent takes the node over: same uid, labels kept.
	healthy.Store(nil)
	start(t, client, clk, nil)
	stepUntil(t, clk, time.Second, "Ready again after restart", func() (bool, error) {
		n, err := getNode(t, client)
		if err != nil {
			return false, err
		}
		if n.UID != node.UID {
			t.Fatalf("restart replaced the node: uid %s, was %s", n.UID, node.UID)
		}
		return condition(n, corev1.NodeReady).Status == corev1.ConditionTrue && n.Labels["tier"] == "test", nil
	})

	// A deleted node is registered again.
	if err := client.CoreV1().Nodes().Delete(context.Background(), "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, clk, agentnode.DefaultStatusReportFrequency, "node re-registered", func() (bool, error) {
		n, err := getNode(t, client)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && n.UID != node.UID, err
	})
}

// An unchanged status is not written again before the report frequency
// (the kubelet's nodeStatusReportFrequency), then it is, with a new
// heartbeat.
func TestStatusReportFrequency(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	start(t, client, clk, func(c *agentnode.Config) { c.LeaseDuration = time.Hour })
	var rv string
	var beat time.Time
	apptest.Eventually(t, "node registered", func() (bool, error) {
		n, err := getNode(t, client)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err == nil {
			rv, beat = n.ResourceVersion, condition(n, corev1.NodeReady).LastHeartbeatTime.Time
		}
		return err == nil, err
	})
	// Several status ticks inside the report frequency write nothing.
	for range 5 {
		apptest.Eventually(t, "agent waiting on its tickers", func() (bool, error) { return clk.HasWaiters(), nil })
		clk.Step(agentnode.DefaultStatusUpdateFrequency)
	}
	if n, err := getNode(t, client); err != nil || n.ResourceVersion != rv {
		t.Fatalf("status written without a change: rv %s, was %s (%v)", n.ResourceVersion, rv, err)
	}
	stepUntil(t, clk, agentnode.DefaultStatusReportFrequency, "heartbeat after the report frequency", func() (bool, error) {
		n, err := getNode(t, client)
		return err == nil && condition(n, corev1.NodeReady).LastHeartbeatTime.After(beat), err
	})
	n, _ := getNode(t, client)
	if c := condition(n, corev1.NodeReady); !c.LastTransitionTime.Equal(&metav1.Time{Time: beat}) {
		t.Errorf("transition time moved on a heartbeat: %v, was %v", c.LastTransitionTime, beat)
	}
}

func TestNewRequiresClientAndName(t *testing.T) {
	if _, err := agentnode.New(agentnode.Config{}); err == nil {
		t.Fatal("New without client accepted")
	}
}
