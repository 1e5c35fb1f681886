package podgc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/podgc"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

const ns = "default"

// start runs a server and a podgc with a short period and quarantine.
func start(t *testing.T) (kubernetes.Interface, *prometheus.Registry) {
	t.Helper()
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := podgc.New(podgc.Config{
		Client: client, Informers: f, Registerer: reg,
		Period: 50 * time.Millisecond, Quarantine: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	return client, reg
}

func newPod(name, node string, finalizers ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: finalizers},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		},
	}
}

func gone(ctx context.Context, client kubernetes.Interface, name string) func() (bool, error) {
	return func() (bool, error) {
		_, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
}

func TestPodGC(t *testing.T) {
	client, reg := start(t)
	ctx := context.Background()
	pods := client.CoreV1().Pods(ns)

	t.Run("F7 an orphaned pod is marked Failed with DisruptionTarget and force-deleted", func(t *testing.T) {
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=orphan"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := pods.Create(ctx, newPod("orphan", "no-such-node"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var marked bool
		timeout := time.After(20 * time.Second)
		for done := false; !done; {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.Fatal("watch ended")
				}
				p, _ := ev.Object.(*corev1.Pod)
				if p == nil {
					continue
				}
				if ev.Type == watch.Modified && p.Status.Phase == corev1.PodFailed && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
					return c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue &&
						c.Reason == "DeletionByPodGC" && c.Message == "PodGC: node no longer exists"
				}) {
					marked = true
				}
				done = ev.Type == watch.Deleted
			case <-timeout:
				t.Fatal("timed out waiting for the orphaned pod's deletion")
			}
		}
		if !marked {
			t.Error("the orphaned pod was deleted without phase Failed and DisruptionTarget first")
		}
	})

	t.Run("F7 a terminating unscheduled pod is marked Failed and deleted with grace 0", func(t *testing.T) {
		if _, err := pods.Create(ctx, newPod("unscheduled", "", "example.com/hold"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := pods.Delete(ctx, "unscheduled", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "podgc marks the pod Failed", func() (bool, error) {
			p, err := pods.Get(ctx, "unscheduled", metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodFailed, err
		})
		// The finalizer still holds it; once released, the pod goes.
		p, err := pods.Get(ctx, "unscheduled", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 0 {
			t.Errorf("deletionGracePeriodSeconds = %v, want 0", p.DeletionGracePeriodSeconds)
		}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			p, err := pods.Get(ctx, "unscheduled", metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Finalizers = nil
			_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
			return err
		}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		apptest.Eventually(t, "the released pod goes", gone(ctx, client, "unscheduled"))
	})

	t.Run("F7 G12 terminating pods on an out-of-service node go, on a live node they stay", func(t *testing.T) {
		nodes := client.CoreV1().Nodes()
		for _, n := range []*corev1.Node{
			{
				ObjectMeta: metav1.ObjectMeta{Name: "broken"},
				Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}}},
				Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}},
			},
			{
				ObjectMeta: metav1.ObjectMeta{Name: "healthy"},
				Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
			},
		} {
			if _, err := nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for name, node := range map[string]string{"on-broken": "broken", "on-healthy": "healthy"} {
			if _, err := pods.Create(ctx, newPod(name, node), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		apptest.Eventually(t, "the pod on the out-of-service node goes", gone(ctx, client, "on-broken"))
		// Two more passes, then the pod on the healthy node must still be
		// there (no kubelet serves it, G12).
		after := apptest.Counter(t, reg, "terminus_podgc_passes_total") + 2
		apptest.Eventually(t, "two more passes", func() (bool, error) { return apptest.Counter(t, reg, "terminus_podgc_passes_total") >= after, nil })
		p, err := pods.Get(ctx, "on-healthy", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("G12 the terminating pod on a live node is gone: %v", err)
		}
		if p.DeletionTimestamp == nil {
			t.Error("the pod on the healthy node is not terminating")
		}
	})
}
