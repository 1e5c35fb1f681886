package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/scheduler"
)

// createNode registers a node as an agent would: the object, then its
// status (allocatable and the Ready condition).
func createNode(t *testing.T, client kubernetes.Interface, name, cpu string, taints ...corev1.Taint) {
	t.Helper()
	ctx := context.Background()
	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: taints},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	n.Status = corev1.NodeStatus{
		Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}},
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podRequesting(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
}

func condition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func hasEvent(ctx context.Context, client kubernetes.Interface, pod, reason, message string) (bool, error) {
	evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == pod && e.Reason == reason && e.Message == message {
			return true, nil
		}
	}
	return false, nil
}

func TestSchedulerAgainstTheServer(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()
	pods := client.CoreV1().Pods("default")

	// The API half (POST pods/binding) is issue 6's too; without it the
	// scheduler cannot bind anything.
	err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "no-such-pod"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n"}}, metav1.CreateOptions{})
	if se, ok := err.(apierrors.APIStatus); ok && apierrors.IsNotFound(err) && (se.Status().Details == nil || se.Status().Details.Name == "") {
		t.Skip("the server does not serve POST pods/{name}/binding yet (404 without a pod name)")
	}

	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := scheduler.New(scheduler.Config{
		Client: client, Informers: f, Registerer: reg,
		InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)

	createNode(t, client, "small", "2")
	createNode(t, client, "tainted", "16", corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule})

	if _, err := pods.Create(ctx, podRequesting("fits", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "the pod that fits is bound to the untainted node with PodScheduled=True", func() (bool, error) {
		p, err := pods.Get(ctx, "fits", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := condition(p)
		return p.Spec.NodeName == "small" && c != nil && c.Status == corev1.ConditionTrue, nil
	})
	apptest.Eventually(t, "the Scheduled event", func() (bool, error) {
		return hasEvent(ctx, client, "fits", "Scheduled", "Successfully assigned default/fits to small")
	})

	if _, err := pods.Create(ctx, podRequesting("big", "4"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). " +
		"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	apptest.Eventually(t, "the pod that fits nowhere gets PodScheduled=False Unschedulable", func() (bool, error) {
		p, err := pods.Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := condition(p)
		return c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == want, nil
	})
	apptest.Eventually(t, "the FailedScheduling event", func() (bool, error) {
		return hasEvent(ctx, client, "big", "FailedScheduling", want)
	})

	// A node that fits arrives: the parked pod is retried and bound.
	createNode(t, client, "large", "8")
	apptest.Eventually(t, "the parked pod is bound to the new node", func() (bool, error) {
		p, err := pods.Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := condition(p)
		return p.Spec.NodeName == "large" && c != nil && c.Status == corev1.ConditionTrue && c.Reason == "", nil
	})
	if got := apptest.Counter(t, reg, "terminus_scheduler_schedule_attempts_total"); got < 3 {
		t.Errorf("attempts = %v, want at least 3", got)
	}
}
