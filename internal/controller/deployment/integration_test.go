package deployment_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/deployment"
)

// env is a server running the garbage collector and the ReplicaSet
// controller, with this package's Deployment controller as an API
// client.
type env struct {
	client kubernetes.Interface
	reg    *prometheus.Registry
}

func start(t *testing.T) *env {
	t.Helper()
	srv := apptest.Start(t, apptest.Options{Controllers: []string{"garbagecollector", "replicaset"}})
	client := srv.Clientset(t)
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := deployment.New(deployment.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	return &env{client: client, reg: reg}
}

func (e *env) namespace(t *testing.T, name string) string {
	t.Helper()
	if _, err := e.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// markReady plays the node agent: every pod of ns that is not yet Ready
// becomes Running and Ready.
func (e *env) markReady(ctx context.Context, ns string) error {
	pods, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning {
			continue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && !isGoneOrConflict(err) {
			return err
		}
	}
	return nil
}

// rolledOut is kubectl rollout status's test: the current generation
// observed, all replicas updated and available, none old left.
func rolledOut(d *appsv1.Deployment) bool {
	s := d.Status
	if d.Generation > s.ObservedGeneration {
		return false
	}
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false
		}
	}
	return s.UpdatedReplicas == *d.Spec.Replicas && s.Replicas == s.UpdatedReplicas && s.AvailableReplicas == s.UpdatedReplicas
}

func (e *env) waitRolledOut(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	var d *appsv1.Deployment
	apptest.Eventually(t, "deployment "+name+" rolled out", func() (bool, error) {
		if err := e.markReady(ctx, ns); err != nil {
			return false, err
		}
		var err error
		d, err = e.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return rolledOut(d), nil
	})
	return d
}

func (e *env) replicaSets(t *testing.T, ns string) []appsv1.ReplicaSet {
	t.Helper()
	list, err := e.client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestDeployment(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := e.namespace(t, "rollout")
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1"}}},
			},
		},
	}
	d, err := e.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a new deployment gets a ReplicaSet and pods and rolls out", func(t *testing.T) {
		got := e.waitRolledOut(t, ns, "web")
		rss := e.replicaSets(t, ns)
		want := "web-" + deployment.ComputeHash(&got.Spec.Template, nil)
		if len(rss) != 1 || rss[0].Name != want || rss[0].Annotations[deployment.RevisionAnnotation] != "1" {
			t.Fatalf("replica sets %v, want one named %s at revision 1", names(rss), want)
		}
		if ref := metav1.GetControllerOf(&rss[0]); ref == nil || ref.UID != d.UID {
			t.Errorf("replica set controller %v", ref)
		}
		var progressing string
		for _, c := range got.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing {
				progressing = c.Reason + ": " + c.Message
			}
		}
		if want := `NewReplicaSetAvailable: ReplicaSet "` + want + `" has successfully progressed.`; progressing != want {
			t.Errorf("Progressing %q, want %q", progressing, want)
		}
	})

	t.Run("a new image rolls out a second ReplicaSet and scales the old one down", func(t *testing.T) {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := e.client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Spec.Template.Spec.Containers[0].Image = "busybox:2"
			_, err = e.client.AppsV1().Deployments(ns).Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got := e.waitRolledOut(t, ns, "web")
		if got.Annotations[deployment.RevisionAnnotation] != "2" {
			t.Errorf("deployment revision %q, want 2", got.Annotations[deployment.RevisionAnnotation])
		}
		apptest.Eventually(t, "old ReplicaSet at 0, new at 3", func() (bool, error) {
			rss := e.replicaSets(t, ns)
			if len(rss) != 2 {
				return false, nil
			}
			for _, rs := range rss {
				want := int32(0)
				if rs.Spec.Template.Spec.Containers[0].Image == "busybox:2" {
					want = 3
				}
				if *rs.Spec.Replicas != want || rs.Status.Replicas != want {
					return false, nil
				}
			}
			return true, nil
		})
	})

	t.Run("B7 deleting the deployment takes its ReplicaSets and pods down through the GC", func(t *testing.T) {
		if err := e.client.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "ReplicaSets and pods gone", func() (bool, error) {
			pods, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			return len(e.replicaSets(t, ns)) == 0 && len(pods.Items) == 0, nil
		})
	})

	if n := apptest.Counter(t, e.reg, "terminus_deployment_syncs_total"); n == 0 {
		t.Error("no syncs counted")
	}
}

func TestRecreateDeployment(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := e.namespace(t, "recreate")
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "db:1"}}},
			},
		},
	}
	if _, err := e.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitRolledOut(t, ns, "db")
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := e.client.AppsV1().Deployments(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Template.Spec.Containers[0].Image = "db:2"
		_, err = e.client.AppsV1().Deployments(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitRolledOut(t, ns, "db")
	pods, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.Containers[0].Image != "db:2" && p.DeletionTimestamp == nil {
			t.Errorf("old pod %s still there after the rollout", p.Name)
		}
	}
}

func names(rss []appsv1.ReplicaSet) []string {
	var out []string
	for _, rs := range rss {
		out = append(out, rs.Name)
	}
	return out
}

func isGoneOrConflict(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsConflict(err)
}
