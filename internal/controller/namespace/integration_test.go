package namespace_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/namespace"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// startController runs a namespace controller on clk against the server
// until the test ends.
func startController(t *testing.T, srv *apptest.Server, clk *clocktesting.FakeClock) {
	t.Helper()
	client := srv.Clientset(t)
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := namespace.New(namespace.Config{
		Client:     client,
		Metadata:   srv.Metadata(t),
		Discovery:  srv.Discovery(t),
		Informers:  f,
		Clock:      clk,
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
}

func condition(ns *corev1.Namespace, t corev1.NamespaceConditionType) *corev1.NamespaceCondition {
	for i := range ns.Status.Conditions {
		if ns.Status.Conditions[i].Type == t {
			return &ns.Status.Conditions[i]
		}
	}
	return nil
}

func gone(ctx context.Context, client kubernetes.Interface, name string) func() (bool, error) {
	return func() (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
}

func TestNamespaceDeletion(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()
	// The clock never moves unless a test steps it: whatever happens
	// without a step happened in the first pass, with no requeue.
	clk := clocktesting.NewFakeClock(time.Now())
	startController(t, srv, clk)

	t.Run("E10 an empty namespace goes in one pass", func(t *testing.T) {
		const name = "empty"
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "E7 the empty namespace disappears", gone(ctx, client, name))
	})

	t.Run("E10 E11 a stuck finalizer holds the namespace until it is removed", func(t *testing.T) {
		const name = "content"
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cms := client.CoreV1().ConfigMaps(name)
		for _, n := range []string{"a", "b", "c"} {
			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}, Data: map[string]string{"k": n}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stuck", Finalizers: []string{"example.com/stuck"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"s1", "s2"} {
			if _, err := client.CoreV1().Secrets(name).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []string{"p1", "p2"} {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			}}
			if _, err := client.CoreV1().Pods(name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}

		const (
			wantRemaining  = "Some resources are remaining: configmaps. has 1 resource instances"
			wantFinalizers = "Some content in the namespace has finalizers remaining: example.com/stuck in 1 resource instances"
		)
		var ns *corev1.Namespace
		apptest.Eventually(t, "E11 the namespace reports the stuck content", func() (bool, error) {
			var err error
			ns, err = client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			c := condition(ns, corev1.NamespaceFinalizersRemaining)
			return c != nil && c.Status == corev1.ConditionTrue, nil
		})
		if ns.Status.Phase != corev1.NamespaceTerminating {
			t.Errorf("phase = %q, want Terminating", ns.Status.Phase)
		}
		want := map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceDeletionDiscoveryFailure: {"False", "ResourcesDiscovered", "All resources successfully discovered"},
			corev1.NamespaceDeletionGVParsingFailure: {"False", "ParsedGroupVersions", "All legacy kube types successfully parsed"},
			corev1.NamespaceDeletionContentFailure:   {"False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
			corev1.NamespaceContentRemaining:         {"True", "SomeResourcesRemain", wantRemaining},
			corev1.NamespaceFinalizersRemaining:      {"True", "SomeFinalizersRemain", wantFinalizers},
		}
		for ct, w := range want {
			c := condition(ns, ct)
			if c == nil {
				t.Errorf("E11 condition %s missing", ct)
				continue
			}
			if got := [3]string{string(c.Status), c.Reason, c.Message}; got != w {
				t.Errorf("E11 condition %s = %q, want %q", ct, got, w)
			}
		}
		left, err := cms.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(left.Items) != 1 || left.Items[0].Name != "stuck" || left.Items[0].DeletionTimestamp == nil {
			t.Errorf("want only the terminating stuck configmap left, got %d items", len(left.Items))
		}
		secrets, err := client.CoreV1().Secrets(name).List(ctx, metav1.ListOptions{})
		if err != nil || len(secrets.Items) != 0 {
			t.Errorf("secrets should be gone: %v %v", secrets, err)
		}
		pods, err := client.CoreV1().Pods(name).List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) != 0 {
			t.Errorf("E10 pods should be gone: %v %v", pods, err)
		}

		stuck := left.Items[0]
		stuck.Finalizers = nil
		if _, err := cms.Update(ctx, &stuck, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The requeue comes estimate/2+1 = 8 s later on the controller's clock.
		isGone := gone(ctx, client, name)
		apptest.Eventually(t, "E7 the namespace disappears once the finalizer is removed", func() (bool, error) {
			clk.Step(time.Second)
			return isGone()
		})
	})
}
