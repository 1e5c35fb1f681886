package deployment

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The integration tests start servers and controllers; the binary fails
// if a test leaves a goroutine behind.
func TestMain(m *testing.M) { storagetest.Main(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is a controller whose caches the test fills by hand (no
// informer runs) and whose client is a fake that records the writes of
// one sync: a step test in the manner of upstream's
// deployment_controller_test.go.
type fixture struct {
	c      *Controller
	client *fake.Clientset
	rec    *record.FakeRecorder
	clk    *clocktesting.FakeClock
}

// newFixture builds a controller; objs are both live (in the fake API)
// and cached.
func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{client: fake.NewClientset(objs...), rec: record.NewFakeRecorder(1000), clk: clocktesting.NewFakeClock(t0)}
	c, err := New(Config{Client: f.client, Informers: informers.NewSharedInformerFactory(fake.NewClientset(), 0), Clock: f.clk, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.Close)
	c.recorder = f.rec
	f.c = c
	for _, obj := range objs {
		f.cache(t, obj)
	}
	return f
}

// cache puts obj into the controller's caches.
func (f *fixture) cache(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch obj.(type) {
	case *corev1.Pod:
		err = f.c.podIndexer.Add(obj)
	case *appsv1.ReplicaSet:
		err = f.c.rsIndexer.Add(obj)
	case *appsv1.Deployment:
		err = f.c.dIndexer.Add(obj)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sync runs one sync and returns its writes ("verb resource[/sub] name")
// and events.
func (f *fixture) sync(t *testing.T, key string) ([]string, []string) {
	t.Helper()
	f.client.ClearActions()
	if err := f.c.sync(context.Background(), key); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return f.writes(), f.events()
}

func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		s := a.GetVerb() + " " + a.GetResource().Resource
		if sub := a.GetSubresource(); sub != "" {
			s += "/" + sub
		}
		switch a := a.(type) {
		case clienttesting.CreateAction:
			s += " " + a.GetObject().(metav1.Object).GetName()
		case clienttesting.UpdateAction:
			s += " " + a.GetObject().(metav1.Object).GetName()
		case clienttesting.PatchAction:
			s += " " + a.GetName()
		case clienttesting.DeleteAction:
			s += " " + a.GetName()
		}
		out = append(out, s)
	}
	return out
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// replicaSets returns the ReplicaSets the last sync created or updated,
// the last write of each, by name.
func (f *fixture) replicaSets() map[string]*appsv1.ReplicaSet {
	out := map[string]*appsv1.ReplicaSet{}
	for _, a := range f.client.Actions() {
		var obj runtime.Object
		switch a := a.(type) {
		case clienttesting.CreateAction:
			obj = a.GetObject()
		case clienttesting.UpdateAction:
			obj = a.GetObject()
		}
		if rs, ok := obj.(*appsv1.ReplicaSet); ok {
			out[rs.Name] = rs
		}
	}
	return out
}

// lastStatus returns the last Deployment status the sync wrote, or nil.
func (f *fixture) lastStatus() *appsv1.Deployment {
	var out *appsv1.Deployment
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok && a.GetSubresource() == "status" {
			out = u.GetObject().(*appsv1.Deployment)
		}
	}
	return out
}

type dOpt func(*appsv1.Deployment)

// mkDeployment is upstream's newDeployment: RollingUpdate with the
// given maxSurge and maxUnavailable (0 when nil), selector foo=bar.
func mkDeployment(name string, replicas int32, surge, unavailable *intstr.IntOrString, opts ...dOpt) *appsv1.Deployment {
	zero := intstr.FromInt32(0)
	if surge == nil {
		surge = &zero
	}
	if unavailable == nil {
		unavailable = &zero
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Generation: 1, ResourceVersion: "1"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"foo": "bar"}},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"foo": "bar"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

func recreate(d *appsv1.Deployment) {
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
}

func image(img string) dOpt {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img }
}

type rsOpt func(*appsv1.ReplicaSet)

// mkRS is a ReplicaSet of d with d's current template (or image img),
// replicas, revision rev, created at t0+age, its status matching its
// spec with avail available pods.
func mkRS(d *appsv1.Deployment, name string, replicas int32, opts ...rsOpt) *appsv1.ReplicaSet {
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels["pod-template-hash"] = name
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: d.Namespace, UID: types.UID("uid-" + name), Generation: 1, ResourceVersion: "1",
			Labels:            tmpl.Labels,
			CreationTimestamp: metav1.NewTime(t0),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(d, deploymentKind)},
			Annotations: map[string]string{
				DesiredReplicasAnnotation: strconv.Itoa(int(replicasOf(d))),
				MaxReplicasAnnotation:     strconv.Itoa(int(replicasOf(d) + maxSurge(d))),
			},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: tmpl,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas, ObservedGeneration: 1, TerminatingReplicas: ptr.To[int32](0)},
	}
	for _, o := range opts {
		o(rs)
	}
	return rs
}

func rev(n int) rsOpt {
	return func(rs *appsv1.ReplicaSet) { rs.Annotations[RevisionAnnotation] = strconv.Itoa(n) }
}

func created(ago time.Duration) rsOpt {
	return func(rs *appsv1.ReplicaSet) { rs.CreationTimestamp = metav1.NewTime(t0.Add(-ago)) }
}

func available(n int32) rsOpt {
	return func(rs *appsv1.ReplicaSet) { rs.Status.AvailableReplicas, rs.Status.ReadyReplicas = n, n }
}

func withImage(img string) rsOpt {
	return func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.Containers[0].Image = img }
}

func terminatingReplicas(n int32) rsOpt {
	return func(rs *appsv1.ReplicaSet) { rs.Status.TerminatingReplicas = ptr.To(n) }
}

func desired(n int32, maxReplicas int32) rsOpt {
	return func(rs *appsv1.ReplicaSet) {
		rs.Annotations[DesiredReplicasAnnotation] = strconv.Itoa(int(n))
		rs.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	}
}

// mkPod is a pod controlled by rs.
func mkPod(rs *appsv1.ReplicaSet, name string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: rs.Namespace, UID: types.UID("uid-" + name), Labels: rs.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, replicaSetKind)},
		},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func objs(items ...runtime.Object) []runtime.Object { return items }
