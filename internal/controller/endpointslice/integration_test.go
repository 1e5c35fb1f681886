package endpointslice_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/endpointslice"
)

// env is a server running the garbage collector, with this package's
// controller as an API client. No node agent runs: the tests play the
// kubelet's part by writing pod status.
type env struct {
	client kubernetes.Interface
	reg    *prometheus.Registry
}

func start(t *testing.T) *env {
	t.Helper()
	srv := apptest.Start(t, apptest.Options{Controllers: []string{"garbagecollector"}})
	client := srv.Clientset(t)
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := endpointslice.New(endpointslice.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	return &env{client: client, reg: reg}
}

func (e *env) setup(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + ns, Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}}
	if _, err := e.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// runPod creates a pod of app=web bound to the namespace's node and
// writes the status a kubelet would: Running, Ready, with an IP.
func (e *env) runPod(t *testing.T, ns, name, ip string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-" + ns, Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	pod, err := e.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e.setStatus(t, ns, name, func(s *corev1.PodStatus) {
		s.Phase, s.PodIP, s.PodIPs = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	})
}

func (e *env) setStatus(t *testing.T, ns, name string, change func(*corev1.PodStatus)) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := e.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(&pod.Status)
		out, err = e.client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// endpoints returns the endpoints of the service's managed slices by pod
// name, and the slices.
func (e *env) endpoints(t *testing.T, ns, svc string) (map[string]discoveryv1.Endpoint, []discoveryv1.EndpointSlice) {
	t.Helper()
	list, err := e.client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc + "," + discoveryv1.LabelManagedBy + "=" + endpointslice.ControllerName,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]discoveryv1.Endpoint{}
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			out[ep.TargetRef.Name] = ep
		}
	}
	return out, list.Items
}

func condsAre(ep discoveryv1.Endpoint, ready, serving, terminating bool) bool {
	return ptr.Deref(ep.Conditions.Ready, !ready) == ready && ptr.Deref(ep.Conditions.Serving, !serving) == serving &&
		ptr.Deref(ep.Conditions.Terminating, !terminating) == terminating
}

func TestEndpointSlices(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "g10"
	e.setup(t, ns)
	svc, err := e.client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "an empty placeholder slice", func() (bool, error) {
		eps, slices := e.endpoints(t, ns, "web")
		return len(slices) == 1 && len(eps) == 0, nil
	})
	e.runPod(t, ns, "a", "10.1.0.1")
	e.runPod(t, ns, "b", "10.1.0.2")

	var slice discoveryv1.EndpointSlice
	apptest.Eventually(t, "both pods ready in one slice", func() (bool, error) {
		eps, slices := e.endpoints(t, ns, "web")
		if len(slices) != 1 || len(eps) != 2 {
			return false, nil
		}
		slice = slices[0]
		return condsAre(eps["a"], true, true, false) && condsAre(eps["b"], true, true, false), nil
	})
	ref := metav1.GetControllerOf(&slice)
	if ref == nil || ref.UID != svc.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) || slice.GenerateName != "web-" {
		t.Errorf("slice %s: controller %+v, generateName %q", slice.Name, ref, slice.GenerateName)
	}
	if len(slice.Ports) != 1 || *slice.Ports[0].Port != 8080 || slice.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("slice ports %+v, addressType %s", slice.Ports, slice.AddressType)
	}
	eps, _ := e.endpoints(t, ns, "web")
	if a := eps["a"]; ptr.Deref(a.Zone, "") != "zone-a" || ptr.Deref(a.NodeName, "") != "node-"+ns || a.Addresses[0] != "10.1.0.1" {
		t.Errorf("endpoint a: %+v", a)
	}

	t.Run("G10 a terminating pod stays, not ready, serving, terminating", func(t *testing.T) {
		// No kubelet: the pod stays terminating (G12).
		if err := e.client.CoreV1().Pods(ns).Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](300)}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "a terminating, serving, not ready", func() (bool, error) {
			eps, _ := e.endpoints(t, ns, "web")
			return len(eps) == 2 && condsAre(eps["a"], false, true, true) && condsAre(eps["b"], true, true, false), nil
		})
		// serving follows Ready while terminating.
		e.setStatus(t, ns, "a", func(s *corev1.PodStatus) { s.Conditions[0].Status = corev1.ConditionFalse })
		apptest.Eventually(t, "a terminating, not serving", func() (bool, error) {
			eps, _ := e.endpoints(t, ns, "web")
			return condsAre(eps["a"], false, false, true), nil
		})
	})

	t.Run("G10 a terminal pod leaves the slice", func(t *testing.T) {
		e.setStatus(t, ns, "a", func(s *corev1.PodStatus) { s.Phase = corev1.PodSucceeded })
		apptest.Eventually(t, "a gone, b still there", func() (bool, error) {
			eps, _ := e.endpoints(t, ns, "web")
			_, hasA := eps["a"]
			return !hasA && len(eps) == 1, nil
		})
	})

	t.Run("a slice deleted by someone else comes back", func(t *testing.T) {
		_, slices := e.endpoints(t, ns, "web")
		if err := e.client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, slices[0].Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "b's endpoint back in a new slice", func() (bool, error) {
			eps, slices2 := e.endpoints(t, ns, "web")
			return len(slices2) == 1 && slices2[0].Name != slices[0].Name && len(eps) == 1, nil
		})
	})

	t.Run("deleting the service deletes its slices", func(t *testing.T) {
		if err := e.client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "no slices", func() (bool, error) {
			_, slices := e.endpoints(t, ns, "web")
			return len(slices) == 0, nil
		})
	})
	if n := apptest.Counter(t, e.reg, "terminus_endpointslice_changes_total"); n == 0 {
		t.Error("no terminus_endpointslice_changes_total counted")
	}
}

func TestManyPodsArePacked(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 120 pods")
	}
	e := start(t)
	ctx := context.Background()
	ns := "packed"
	e.setup(t, ns)
	if _, err := e.client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		e.runPod(t, ns, fmt.Sprintf("p%03d", i), fmt.Sprintf("10.2.%d.%d", i/200, i%200+1))
	}
	apptest.Eventually(t, "120 endpoints in slices of at most 100", func() (bool, error) {
		eps, slices := e.endpoints(t, ns, "web")
		for _, s := range slices {
			if len(s.Endpoints) > endpointslice.MaxEndpointsPerSlice {
				return false, fmt.Errorf("slice %s has %d endpoints", s.Name, len(s.Endpoints))
			}
		}
		return len(eps) == 120 && len(slices) == 2, nil
	})
}
