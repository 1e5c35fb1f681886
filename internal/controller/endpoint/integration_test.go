package endpoint_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/endpoint"
)

func TestEndpoints(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{Controllers: []string{"garbagecollector"}})
	client := srv.Clientset(t)
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := endpoint.New(endpoint.Config{Client: client, Informers: f, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	ctx := context.Background()
	ns := "legacy"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-legacy"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: "node-legacy", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ip := []string{"10.3.0.1", "10.3.0.2"}[i]
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Status.Phase, p.Status.PodIP, p.Status.PodIPs = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			_, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	ready := func() ([]string, int, error) {
		ep, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
		var ips []string
		notReady := 0
		for _, s := range ep.Subsets {
			for _, a := range s.Addresses {
				ips = append(ips, a.IP)
			}
			notReady += len(s.NotReadyAddresses)
		}
		return ips, notReady, nil
	}
	apptest.Eventually(t, "both pods ready addresses", func() (bool, error) {
		ips, nr, err := ready()
		return len(ips) == 2 && nr == 0, err
	})
	if err := client.CoreV1().Pods(ns).Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](300)}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "G10 the terminating pod leaves the Endpoints at once", func() (bool, error) {
		ips, nr, err := ready()
		return len(ips) == 1 && ips[0] == "10.3.0.2" && nr == 0, err
	})
	if err := client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "Endpoints deleted with the service", func() (bool, error) {
		_, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}
