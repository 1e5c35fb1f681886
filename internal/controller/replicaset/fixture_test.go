package replicaset

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
// informer runs) and whose client is a fake that records the actions of
// one sync: a step test in the manner of upstream's replica_set_test.go.
type fixture struct {
	c      *Controller
	client *fake.Clientset
	rec    *record.FakeRecorder
	clk    *clocktesting.FakeClock
	reg    *prometheus.Registry
}

// newFixture builds a ReplicaSet controller, or a ReplicationController
// manager if rc; live objects are in the fake API, cached ones in the
// caches.
func newFixture(t *testing.T, rc bool, cfg Config, live, cached []runtime.Object) *fixture {
	t.Helper()
	f := &fixture{client: fake.NewClientset(live...), rec: record.NewFakeRecorder(1000), clk: clocktesting.NewFakeClock(t0), reg: prometheus.NewRegistry()}
	// The fake API does not generate names.
	var n atomic.Int64
	f.client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, n.Add(1))
		}
		return false, nil, nil
	})
	cfg.Client = f.client
	cfg.Informers = informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	cfg.Clock, cfg.Registerer = f.clk, f.reg
	build := New
	if rc {
		build = NewReplicationManager
	}
	c, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.Close)
	c.pods.Recorder = f.rec
	f.c = c
	for _, obj := range cached {
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
	default:
		err = f.c.kind.informer.GetIndexer().Add(obj)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sync runs one sync and returns the writes it made ("verb
// resource[/subresource] [name]") and the events it recorded.
func (f *fixture) sync(t *testing.T, key string) ([]string, []string, error) {
	t.Helper()
	f.client.ClearActions()
	err := f.c.sync(context.Background(), key)
	var writes []string
	for _, a := range f.client.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if sub := a.GetSubresource(); sub != "" {
			s += "/" + sub
		}
		switch a := a.(type) {
		case clienttesting.GetAction:
			s += " " + a.GetName()
		case clienttesting.PatchAction:
			s += " " + a.GetName()
		case clienttesting.DeleteAction:
			s += " " + a.GetName()
		}
		writes = append(writes, s)
	}
	var events []string
	for {
		select {
		case e := <-f.rec.Events:
			events = append(events, e)
		default:
			return writes, events, err
		}
	}
}

// cacheStatus puts the owner whose status the last sync wrote into the
// cache, as the informer would.
func (f *fixture) cacheStatus(t *testing.T) {
	t.Helper()
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok && a.GetSubresource() == "status" {
			f.cache(t, u.GetObject())
		}
	}
}

// created returns the pods the controller created (the fake API's pods
// with a generated name).
func (f *fixture) created(t *testing.T) []*corev1.Pod {
	t.Helper()
	list, err := f.client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		if p := &list.Items[i]; p.GenerateName != "" {
			out = append(out, p)
		}
	}
	return out
}

// lastStatus returns the status the last sync wrote, or nil.
func (f *fixture) lastStatus() *appsv1.ReplicaSetStatus {
	var out *appsv1.ReplicaSetStatus
	for _, a := range f.client.Actions() {
		u, ok := a.(clienttesting.UpdateAction)
		if !ok || a.GetSubresource() != "status" {
			continue
		}
		switch o := u.GetObject().(type) {
		case *appsv1.ReplicaSet:
			out = o.Status.DeepCopy()
		case *corev1.ReplicationController:
			out = &rcToRS(o).Status
		}
	}
	return out
}

type rsOpt func(*appsv1.ReplicaSet)

func mkRS(replicas int32, opts ...rsOpt) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "ns", UID: "uid-rs", Generation: 1, ResourceVersion: "1"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a", "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
	for _, o := range opts {
		o(rs)
	}
	return rs
}

func deletingRS(rs *appsv1.ReplicaSet) { rs.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }

func minReady(s int32) rsOpt { return func(rs *appsv1.ReplicaSet) { rs.Spec.MinReadySeconds = s } }

func mkRC(replicas int32) *corev1.ReplicationController {
	rs := mkRS(replicas)
	rc := rsToRC(rs)
	rc.Name, rc.UID = "rc", "uid-rc"
	return rc
}

type podOpt func(*corev1.Pod)

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ns", UID: types.UID("uid-" + name), ResourceVersion: "1",
			Labels:            map[string]string{"app": "a", "tier": "web"},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// owned makes the pod controlled by the owner name/uid of kind.
func owned(kind, name string, uid types.UID) podOpt {
	return func(p *corev1.Pod) {
		apiVersion := "apps/v1"
		if kind == "ReplicationController" {
			apiVersion = "v1"
		}
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	}
}

var ofRS = owned("ReplicaSet", "rs", "uid-rs")

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func terminating(p *corev1.Pod) {
	p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(30 * time.Second)))
}

func readySince(ago time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-ago))}}
	}
}

func podLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func objs[T runtime.Object](items ...T) []runtime.Object {
	out := make([]runtime.Object, len(items))
	for i, o := range items {
		out[i] = o
	}
	return out
}

type errString string

func (e errString) Error() string { return string(e) }
