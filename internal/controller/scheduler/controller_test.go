package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testclock "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// env is a scheduler running against a fake clientset whose pods/binding
// reactor records bindings and, unless lag is set, sets spec.nodeName as
// the API server does.
type env struct {
	client *fake.Clientset
	c      *Controller
	clock  *testclock.FakeClock
	reg    *prometheus.Registry

	mu       sync.Mutex
	bindings []string // "ns/name=node"
	// lag leaves bound pods pending in the API (an informer that has not
	// caught up); failBinds fails that many bindings first.
	lag       bool
	failBinds int
}

func startEnv(t *testing.T, lag bool, objs ...runtime.Object) *env {
	t.Helper()
	e := &env{client: fake.NewClientset(objs...), clock: testclock.NewFakeClock(time.Unix(10000, 0)), reg: prometheus.NewRegistry(), lag: lag}
	e.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := ca.GetObject().(*corev1.Binding)
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.failBinds > 0 {
			e.failBinds--
			return true, nil, apierrors.NewServiceUnavailable("try again")
		}
		e.bindings = append(e.bindings, fmt.Sprintf("%s/%s=%s", ca.GetNamespace(), b.Name, b.Target.Name))
		if e.lag {
			return true, nil, nil
		}
		obj, err := e.client.Tracker().Get(podsGVR, ca.GetNamespace(), b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		if pod.Spec.NodeName != "" {
			return true, nil, apierrors.NewConflict(podsGVR.GroupResource(), b.Name, errors.New("pod is already assigned"))
		}
		pod.Spec.NodeName = b.Target.Name
		return true, nil, e.client.Tracker().Update(podsGVR, pod, ca.GetNamespace())
	})
	f := informers.NewSharedInformerFactory(e.client, 0)
	c, err := New(Config{Client: e.client, Informers: f, Clock: e.clock, Registerer: e.reg})
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
	return e
}

func (e *env) bound() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.bindings)
}

// eventually polls cond, stepping the fake clock by step between polls,
// for up to 10 s of real time.
func (e *env) eventually(t *testing.T, what string, step time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
		if step > 0 {
			e.clock.Step(step)
		}
	}
}

func (e *env) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) event(reason, message string) bool {
	evs, err := e.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
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

func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func TestSchedulesToTheLeastAllocatedNode(t *testing.T) {
	e := startEnv(t, false,
		readyNode("busy", "4", "8Gi"), readyNode("idle", "4", "8Gi"),
		pendingPod("running", "3", "1Gi", onNode("busy")),
		pendingPod("p", "1", "1Gi"),
	)
	e.eventually(t, "the pod is bound", 0, func() bool { return slices.Contains(e.bound(), "default/p=idle") })
	e.eventually(t, "the Scheduled event", 0, func() bool { return e.event("Scheduled", "Successfully assigned default/p to idle") })
	if got := e.attempts(resultScheduled); got != 1 {
		t.Errorf("scheduled attempts = %v, want 1", got)
	}
	if got := e.bound(); len(got) != 1 {
		t.Errorf("bindings = %v, want one", got)
	}
}

func (e *env) attempts(result string) float64 {
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "terminus_scheduler_schedule_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestResponsible(t *testing.T) {
	c := &Controller{name: corev1.DefaultSchedulerName}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"a pending pod of the default scheduler", pendingPod("p", "", ""), true},
		{"an empty schedulerName means the default scheduler", pendingPod("p", "", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "" }), true},
		{"another scheduler's pod", pendingPod("p", "", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "my-scheduler" }), false},
		{"a bound pod", pendingPod("p", "", "", onNode("n")), false},
		{"a terminating pod", pendingPod("p", "", "", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }), false},
		{"a Failed pod", pendingPod("p", "", "", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), false},
		{"a Succeeded pod", pendingPod("p", "", "", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.responsible(tt.pod); got != tt.want {
				t.Errorf("responsible = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLeavesOtherPodsAlone(t *testing.T) {
	terminating := pendingPod("terminating", "", "", func(p *corev1.Pod) {
		p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
		p.Finalizers = []string{"example.com/hold"}
	})
	e := startEnv(t, false,
		readyNode("n", "4", "8Gi"),
		pendingPod("other-scheduler", "", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "my-scheduler" }),
		terminating,
		pendingPod("failed", "", "", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
		pendingPod("bound", "", "", onNode("n")),
		pendingPod("empty-scheduler-name", "", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "" }),
	)
	e.eventually(t, "the pod without schedulerName is bound", 0, func() bool { return slices.Contains(e.bound(), "default/empty-scheduler-name=n") })
	for _, name := range []string{"other-scheduler", "terminating", "failed"} {
		if c := scheduledCondition(e.pod(t, name)); c != nil {
			t.Errorf("%s got a PodScheduled condition: %+v", name, c)
		}
	}
	if got := e.bound(); len(got) != 1 {
		t.Errorf("bindings = %v, want only default/empty-scheduler-name", got)
	}
}

func TestUnschedulableUntilANodeFits(t *testing.T) {
	e := startEnv(t, false,
		readyNode("small", "1", "1Gi"),
		readyNode("tainted", "8", "8Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
		pendingPod("p", "2", "1Gi"),
	)
	want := "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). " +
		"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	e.eventually(t, "PodScheduled=False Unschedulable", 0, func() bool {
		c := scheduledCondition(e.pod(t, "p"))
		return c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == want
	})
	e.eventually(t, "the FailedScheduling event", 0, func() bool { return e.event("FailedScheduling", want) })
	if c := scheduledCondition(e.pod(t, "p")); !c.LastTransitionTime.Time.Equal(e.clock.Now().Truncate(time.Second)) {
		t.Errorf("lastTransitionTime = %v, want the injected clock's %v", c.LastTransitionTime, e.clock.Now())
	}
	e.eventually(t, "the pod is parked", 0, func() bool { return apptestGauge(e.reg, "terminus_scheduler_unschedulable_pods") == 1 })

	// A node update that helps (the taint goes) moves the pod back after
	// its 1 s back-off.
	ctx := context.Background()
	n, err := e.client.CoreV1().Nodes().Get(ctx, "tainted", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = nil
	if _, err := e.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the pod is bound once the taint is gone", 200*time.Millisecond, func() bool {
		return slices.Contains(e.bound(), "default/p=tainted")
	})
}

func apptestGauge(g prometheus.Gatherer, name string) float64 {
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func TestNoNodes(t *testing.T) {
	e := startEnv(t, false, pendingPod("p", "", ""))
	e.eventually(t, "PodScheduled=False with upstream's ErrNoNodesAvailable", 0, func() bool {
		c := scheduledCondition(e.pod(t, "p"))
		return c != nil && c.Reason == corev1.PodReasonUnschedulable && c.Message == errNoNodes
	})
	if _, err := e.client.CoreV1().Nodes().Create(context.Background(), readyNode("n", "1", "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "a node added moves the pod and binds it", 200*time.Millisecond, func() bool {
		return slices.Contains(e.bound(), "default/p=n")
	})
}

func TestSchedulingGates(t *testing.T) {
	e := startEnv(t, false, readyNode("n", "1", "1Gi"),
		pendingPod("p", "", "", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} }))
	e.eventually(t, "PodScheduled=False SchedulingGated", 0, func() bool {
		c := scheduledCondition(e.pod(t, "p"))
		return c != nil && c.Reason == corev1.PodReasonSchedulingGated && c.Message == "Scheduling is blocked due to non-empty scheduling gates"
	})
	p := e.pod(t, "p")
	p.Spec.SchedulingGates = nil
	if _, err := e.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the pod is bound once its gates are gone", 0, func() bool { return slices.Contains(e.bound(), "default/p=n") })
}

func TestAssumedPodsCountBeforeTheInformerSeesThem(t *testing.T) {
	// The binding does not show in the informer (lag): the second pod must
	// still see the first one's cpu on its node.
	e := startEnv(t, true, readyNode("a", "2", "4Gi"), readyNode("b", "2", "4Gi"),
		pendingPod("p1", "1500m", ""), pendingPod("p2", "1500m", ""))
	e.eventually(t, "both pods are bound", 0, func() bool { return len(e.bound()) == 2 })
	got := e.bound()
	slices.Sort(got)
	if got[0][len(got[0])-1] == got[1][len(got[1])-1] {
		t.Errorf("both pods went to the same node: %v", got)
	}
	// Queued again (a spec change), an assumed pod is not bound twice.
	p := e.pod(t, "p1")
	p.Labels = map[string]string{"touched": "yes"}
	if _, err := e.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = e.pod(t, "p2")
	p.Labels = map[string]string{"touched": "yes"}
	if _, err := e.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the updates are processed", 0, func() bool { return e.attempts(resultScheduled) == 2 })
	if got := e.bound(); len(got) != 2 {
		t.Errorf("bindings = %v, want 2", got)
	}
}

func TestBindErrorsBackOff(t *testing.T) {
	e := startEnv(t, false, readyNode("n", "1", "1Gi"))
	e.mu.Lock()
	e.failBinds = 2
	e.mu.Unlock()
	if _, err := e.client.CoreV1().Pods("default").Create(context.Background(), pendingPod("p", "", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the first binding fails", 0, func() bool { return e.attempts(resultError) == 1 })
	if len(e.bound()) != 0 {
		t.Fatal("bound despite the failure")
	}
	e.eventually(t, "the pod is bound after two failures and their back-off", 250*time.Millisecond, func() bool {
		return slices.Contains(e.bound(), "default/p=n")
	})
	if got := e.attempts(resultError); got != 2 {
		t.Errorf("error attempts = %v, want 2", got)
	}
}

func TestIsRouteMissing(t *testing.T) {
	if !isRouteMissing(apierrors.NewNotFound(schema.GroupResource{}, "")) {
		t.Error("a 404 without a name (no pods/binding route) was taken for a missing pod")
	}
	if isRouteMissing(apierrors.NewNotFound(podsGVR.GroupResource(), "p")) {
		t.Error("a missing pod was taken for a missing route")
	}
}

func TestRunTwice(t *testing.T) {
	client := fake.NewClientset()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: f})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- c.Run(ctx) }()
	go func() { done <- c.Run(ctx) }()
	f.Start(ctx.Done())
	defer f.Shutdown()
	if err := <-done; err == nil {
		t.Error("the call that returned first did not fail")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
