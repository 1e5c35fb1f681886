package replicaset_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/replicaset"
)

// env is a server running the garbage collector, with this package's
// ReplicaSet controller and ReplicationController manager as API clients.
type env struct {
	srv    *apptest.Server
	client kubernetes.Interface
	reg    *prometheus.Registry
}

func start(t *testing.T) *env {
	t.Helper()
	srv := apptest.Start(t, apptest.Options{Controllers: []string{"garbagecollector"}})
	client := srv.Clientset(t)
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	rsc, err := replicaset.New(replicaset.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	rcm, err := replicaset.NewReplicationManager(replicaset.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, rcm)
	apptest.Run(t, rsc, f)
	return &env{srv: srv, client: client, reg: reg}
}

// namespace creates a namespace for one test.
func (e *env) namespace(t *testing.T, name string) string {
	t.Helper()
	if _, err := e.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

func template(app, node string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		},
	}
}

func newRS(name, app string, replicas int32, node string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: template(app, node),
		},
	}
}

// pods returns the pods of app in ns, terminating ones included.
func (e *env) pods(t *testing.T, ns, app string) []corev1.Pod {
	t.Helper()
	list, err := e.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitPods waits until app has n pods in ns, each passing ok, and returns
// them.
func (e *env) waitPods(t *testing.T, what, ns, app string, n int, ok func(corev1.Pod) bool) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	apptest.Eventually(t, what, func() (bool, error) {
		pods = e.pods(t, ns, app)
		if len(pods) != n {
			return false, nil
		}
		for _, p := range pods {
			if ok != nil && !ok(p) {
				return false, nil
			}
		}
		return true, nil
	})
	return pods
}

// controlledBy checks the pod's only reference: the controller kind/uid,
// blocking owner deletion (D8).
func controlledBy(kind string, uid types.UID) func(corev1.Pod) bool {
	return func(p corev1.Pod) bool {
		return len(p.OwnerReferences) == 1 && p.OwnerReferences[0].Kind == kind && p.OwnerReferences[0].UID == uid &&
			ptr.Deref(p.OwnerReferences[0].Controller, false) && ptr.Deref(p.OwnerReferences[0].BlockOwnerDeletion, false)
	}
}

func names(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func TestReplicaSets(t *testing.T) {
	e := start(t)
	ctx := context.Background()

	t.Run("D8 scale up creates controlled pods; a deleted pod is replaced; scale down deletes", func(t *testing.T) {
		ns := e.namespace(t, "scale")
		rs, err := e.client.AppsV1().ReplicaSets(ns).Create(ctx, newRS("web", "web", 3, ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods := e.waitPods(t, "3 pods controlled by the ReplicaSet", ns, "web", 3, controlledBy("ReplicaSet", rs.UID))
		for _, p := range pods {
			if !strings.HasPrefix(p.Name, "web-") || p.GenerateName != "web-" {
				t.Errorf("pod name %q, generateName %q", p.Name, p.GenerateName)
			}
		}
		apptest.Eventually(t, "status replicas 3 at the current generation", func() (bool, error) {
			rs, err = e.client.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && rs.Status.Replicas == 3 && rs.Status.FullyLabeledReplicas == 3 &&
				rs.Status.ObservedGeneration == rs.Generation && ptr.Deref(rs.Status.TerminatingReplicas, -1) == 0, err
		})

		// G1/G3: an unscheduled pod goes at once; a replacement comes.
		victim := pods[0].Name
		if err := e.client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		pods = e.waitPods(t, "a replacement", ns, "web", 3, func(p corev1.Pod) bool { return p.Name != victim })

		// Scale down with a patch of the scale subresource, as kubectl
		// scale does.
		if _, err := e.client.AppsV1().ReplicaSets(ns).Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`),
			metav1.PatchOptions{}, "scale"); err != nil {
			t.Fatal(err)
		}
		e.waitPods(t, "scaled down to 1", ns, "web", 1, nil)

		// The events kubectl describe shows: its field selector.
		sel := fields.Set{"involvedObject.kind": "ReplicaSet", "involvedObject.name": "web", "involvedObject.namespace": ns,
			"involvedObject.uid": string(rs.UID)}.AsSelector().String()
		apptest.Eventually(t, "SuccessfulCreate and SuccessfulDelete events on the ReplicaSet", func() (bool, error) {
			list, err := e.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				return false, err
			}
			var created, deleted int
			for _, ev := range list.Items {
				switch {
				case ev.Reason == "SuccessfulCreate" && strings.HasPrefix(ev.Message, "Created pod: web-"):
					created += int(ev.Count)
				case ev.Reason == "SuccessfulDelete" && strings.HasPrefix(ev.Message, "Deleted pod: web-"):
					deleted += int(ev.Count)
					if ev.Source.Component != "replicaset-controller" {
						return false, fmt.Errorf("event source %q", ev.Source.Component)
					}
				}
			}
			return created == 4 && deleted == 2, nil
		})
		if kubectl, err := exec.LookPath("kubectl"); err == nil {
			out, err := exec.Command(kubectl, "--kubeconfig", e.srv.Kubeconfig, "describe", "rs", "web", "-n", ns).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl describe rs: %v\n%s", err, out)
			}
			for _, want := range []string{"SuccessfulCreate", "SuccessfulDelete", "replicaset-controller"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("kubectl describe rs lacks %q:\n%s", want, out)
				}
			}
		}
	})

	t.Run("G11 a terminating pod is replaced at once and counted as terminating", func(t *testing.T) {
		ns := e.namespace(t, "terminating")
		if _, err := e.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		rs, err := e.client.AppsV1().ReplicaSets(ns).Create(ctx, newRS("web", "web", 2, "n1"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods := e.waitPods(t, "2 scheduled pods", ns, "web", 2, controlledBy("ReplicaSet", rs.UID))
		victim := pods[0].Name
		// No kubelet: the pod stays Terminating for its grace period and
		// beyond (G12).
		if err := e.client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitPods(t, "a replacement while the victim terminates", ns, "web", 3, nil)
		apptest.Eventually(t, "status: replicas 2, terminatingReplicas 1", func() (bool, error) {
			rs, err = e.client.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && rs.Status.Replicas == 2 && ptr.Deref(rs.Status.TerminatingReplicas, -1) == 1, err
		})
		if err := e.client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "terminatingReplicas back to 0", func() (bool, error) {
			rs, err = e.client.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && rs.Status.Replicas == 2 && ptr.Deref(rs.Status.TerminatingReplicas, -1) == 0, err
		})
		if n := len(e.pods(t, ns, "web")); n != 2 {
			t.Errorf("%d pods, want 2", n)
		}
	})

	t.Run("B7 D7 DELETE with the default policy takes the pods down through the GC", func(t *testing.T) {
		ns := e.namespace(t, "background")
		rs, err := e.client.AppsV1().ReplicaSets(ns).Create(ctx, newRS("web", "web", 2, ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.waitPods(t, "2 pods", ns, "web", 2, controlledBy("ReplicaSet", rs.UID))
		if err := e.client.AppsV1().ReplicaSets(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitPods(t, "the GC deletes the pods", ns, "web", 0, nil)
	})

	t.Run("D10 G11 orphaned pods lose their reference and a new ReplicaSet adopts them", func(t *testing.T) {
		ns := e.namespace(t, "orphan")
		rs, err := e.client.AppsV1().ReplicaSets(ns).Create(ctx, newRS("old", "web", 2, ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before := names(e.waitPods(t, "2 pods", ns, "web", 2, controlledBy("ReplicaSet", rs.UID)))
		if err := e.client.AppsV1().ReplicaSets(ns).Delete(ctx, "old", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationOrphan)}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "the ReplicaSet goes", func() (bool, error) {
			_, err := e.client.AppsV1().ReplicaSets(ns).Get(ctx, "old", metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		orphans := e.waitPods(t, "the pods stay, without ownerReferences", ns, "web", 2, func(p corev1.Pod) bool { return len(p.OwnerReferences) == 0 })
		if got := names(orphans); !slices.Equal(got, before) {
			t.Fatalf("pods %v, want %v", got, before)
		}
		adopter, err := e.client.AppsV1().ReplicaSets(ns).Create(ctx, newRS("new", "web", 2, ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		adopted := e.waitPods(t, "the new ReplicaSet adopts them", ns, "web", 2, controlledBy("ReplicaSet", adopter.UID))
		if got := names(adopted); !slices.Equal(got, before) {
			t.Errorf("pods %v, want the orphans %v (adopted, not replaced)", got, before)
		}
		apptest.Eventually(t, "the adopter's status counts them", func() (bool, error) {
			rs, err := e.client.AppsV1().ReplicaSets(ns).Get(ctx, "new", metav1.GetOptions{})
			return err == nil && rs.Status.Replicas == 2, err
		})
	})

	t.Run("D a pod relabelled out of the selector is released and replaced", func(t *testing.T) {
		ns := e.namespace(t, "release")
		rs, err := e.client.AppsV1().ReplicaSets(ns).Create(ctx, newRS("web", "web", 1, ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod := e.waitPods(t, "1 pod", ns, "web", 1, controlledBy("ReplicaSet", rs.UID))[0]
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			p, err := e.client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Labels["app"] = "debug"
			_, err = e.client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		e.waitPods(t, "the relabelled pod loses its controller", ns, "debug", 1, func(p corev1.Pod) bool { return len(p.OwnerReferences) == 0 })
		e.waitPods(t, "a replacement", ns, "web", 1, func(p corev1.Pod) bool { return p.Name != pod.Name })
	})

	t.Run("a ready pod becomes available minReadySeconds later", func(t *testing.T) {
		ns := e.namespace(t, "available")
		rs := newRS("web", "web", 1, "")
		rs.Spec.MinReadySeconds = 1
		if _, err := e.client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := e.waitPods(t, "1 pod", ns, "web", 1, nil)[0]
		// No kubelet: the test reports the pod ready.
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		var sawReadyNotAvailable bool
		apptest.Eventually(t, "availableReplicas 1, after readyReplicas 1", func() (bool, error) {
			rs, err := e.client.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if rs.Status.ReadyReplicas == 1 && rs.Status.AvailableReplicas == 0 {
				sawReadyNotAvailable = true
			}
			return rs.Status.AvailableReplicas == 1, nil
		})
		if !sawReadyNotAvailable {
			t.Log("the ready but not yet available status was not observed (a slow poll)")
		}
	})

	t.Run("B7 a ReplicationController deleted with no options orphans its pods", func(t *testing.T) {
		ns := e.namespace(t, "rc")
		rc, err := e.client.CoreV1().ReplicationControllers(ns).Create(ctx, &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: corev1.ReplicationControllerSpec{
				Replicas: ptr.To[int32](2), Selector: map[string]string{"app": "web"},
				Template: ptr.To(template("web", "")),
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before := names(e.waitPods(t, "2 pods controlled by the ReplicationController", ns, "web", 2, controlledBy("ReplicationController", rc.UID)))
		apptest.Eventually(t, "RC status", func() (bool, error) {
			rc, err := e.client.CoreV1().ReplicationControllers(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && rc.Status.Replicas == 2 && rc.Status.ObservedGeneration == rc.Generation, err
		})
		if err := e.client.CoreV1().ReplicationControllers(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "the ReplicationController goes", func() (bool, error) {
			_, err := e.client.CoreV1().ReplicationControllers(ns).Get(ctx, "web", metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		orphans := e.waitPods(t, "B7 the pods stay, orphaned", ns, "web", 2, func(p corev1.Pod) bool { return len(p.OwnerReferences) == 0 })
		if got := names(orphans); !slices.Equal(got, before) {
			t.Errorf("pods %v, want %v", got, before)
		}
	})

	if apptest.Counter(t, e.reg, "terminus_replicaset_syncs_total") == 0 || apptest.Counter(t, e.reg, "terminus_replicationcontroller_syncs_total") == 0 {
		t.Error("no syncs counted")
	}
}
