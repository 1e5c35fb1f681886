package endpointslice

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The integration tests start servers and controllers; the binary fails
// if a test leaves a goroutine behind.
func TestMain(m *testing.M) { storagetest.Main(m) }

// fixture is a controller whose caches the test fills by hand (no
// informer runs) and whose client is a fake that records the writes of
// one sync (upstream's step tests).
type fixture struct {
	c      *Controller
	client *fake.Clientset
	inf    informers.SharedInformerFactory
}

func newFixture(t *testing.T, cached ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{client: fake.NewClientset(), inf: informers.NewSharedInformerFactory(fake.NewClientset(), 0)}
	// The fake API neither generates names nor keeps generations, which
	// the tracker reads: do both as the API server does.
	var n atomic.Int64
	f.client.PrependReactor("create", "endpointslices", func(a clienttesting.Action) (bool, runtime.Object, error) {
		s := a.(clienttesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		i := n.Add(1)
		s.Name, s.UID, s.Generation = fmt.Sprintf("%s%d", s.GenerateName, i), types.UID(fmt.Sprintf("uid-slice-%d", i)), 1
		return false, nil, nil
	})
	f.client.PrependReactor("update", "endpointslices", func(a clienttesting.Action) (bool, runtime.Object, error) {
		a.(clienttesting.UpdateAction).GetObject().(*discoveryv1.EndpointSlice).Generation++
		return false, nil, nil
	})
	c, err := New(Config{Client: f.client, Informers: f.inf, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.Close)
	f.c = c
	f.cache(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}})
	for _, o := range cached {
		f.cache(t, o)
	}
	return f
}

// cache puts obj into the controller's caches, replacing its old version.
func (f *fixture) cache(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch obj.(type) {
	case *corev1.Service:
		err = f.inf.Core().V1().Services().Informer().GetIndexer().Update(obj)
	case *corev1.Pod:
		err = f.inf.Core().V1().Pods().Informer().GetIndexer().Update(obj)
	case *corev1.Node:
		err = f.inf.Core().V1().Nodes().Informer().GetIndexer().Update(obj)
	case *discoveryv1.EndpointSlice:
		err = f.c.sliceIndexer.Update(obj)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) uncache(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch obj.(type) {
	case *corev1.Service:
		err = f.inf.Core().V1().Services().Informer().GetIndexer().Delete(obj)
	case *corev1.Pod:
		err = f.inf.Core().V1().Pods().Informer().GetIndexer().Delete(obj)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sync runs one sync and returns its writes ("verb resource [name]").
func (f *fixture) sync(t *testing.T) ([]string, error) {
	t.Helper()
	f.client.ClearActions()
	err := f.c.sync(context.Background(), "ns/web")
	var writes []string
	for _, a := range f.client.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		switch a.GetVerb() {
		case "update":
			s += " " + a.(clienttesting.UpdateAction).GetObject().(*discoveryv1.EndpointSlice).Name
		case "delete":
			s += " " + a.(clienttesting.DeleteAction).GetName()
		}
		writes = append(writes, s)
	}
	return writes, err
}

// echo puts the slices the last sync wrote into the cache, as the
// informer would, and takes the deleted ones out.
func (f *fixture) echo(t *testing.T) {
	t.Helper()
	for _, a := range f.client.Actions() {
		switch a := a.(type) {
		case clienttesting.DeleteAction:
			if obj, ok, _ := f.c.sliceIndexer.GetByKey("ns/" + a.GetName()); ok {
				if err := f.c.sliceIndexer.Delete(obj); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	list, err := f.client.DiscoveryV1().EndpointSlices("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		f.cache(t, &list.Items[i])
	}
}

// slice returns the fake API's only slice.
func (f *fixture) slice(t *testing.T) *discoveryv1.EndpointSlice {
	t.Helper()
	list, err := f.client.DiscoveryV1().EndpointSlices("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("slices: %d, err %v", len(list.Items), err)
	}
	return &list.Items[0]
}

func TestSyncLifecycle(t *testing.T) {
	svc := mkSvc()
	p1, p2 := mkPod("p1", "10.0.0.1"), mkPod("p2", "10.0.0.2")
	f := newFixture(t, svc, p1, p2)

	writes, err := f.sync(t)
	if err != nil || !cmp.Equal([]string{"create endpointslices"}, writes) {
		t.Fatalf("first sync: writes %v, err %v", writes, err)
	}
	s := f.slice(t)
	if got := s.Annotations[corev1.EndpointsLastChangeTriggerTime]; got != svc.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z07:00") {
		t.Errorf("trigger time %q, want the service's creation", got)
	}
	if len(s.Endpoints) != 2 || *s.Ports[0].Port != 8080 || *s.Endpoints[0].Zone != "z1" {
		t.Errorf("slice %+v", s)
	}

	// The informer has not shown the create: the sync waits.
	writes, err = f.sync(t)
	if !isStale(err) || len(writes) != 0 {
		t.Fatalf("sync before the create was observed: writes %v, err %v", writes, err)
	}
	f.echo(t)
	if writes, err = f.sync(t); err != nil || len(writes) != 0 {
		t.Fatalf("sync in line: writes %v, err %v", writes, err)
	}

	// G10: the pod starts terminating; its endpoint stays, not ready.
	p1 = p1.DeepCopy()
	terminating(p1)
	f.cache(t, p1)
	writes, err = f.sync(t)
	if err != nil || !cmp.Equal([]string{"update endpointslices " + s.Name}, writes) {
		t.Fatalf("terminating pod: writes %v, err %v", writes, err)
	}
	s = f.slice(t)
	if ep := s.Endpoints[0]; ep.TargetRef.Name != "p1" || !cmp.Equal(ep.Conditions, conds(false, true, true)) {
		t.Errorf("G10 endpoint %s conditions %+v", ep.TargetRef.Name, ep.Conditions)
	}
	f.echo(t)

	// G10: terminal: the endpoint goes.
	p1 = p1.DeepCopy()
	p1.Status.Phase = corev1.PodFailed
	f.cache(t, p1)
	if writes, err = f.sync(t); err != nil || len(writes) != 1 {
		t.Fatalf("terminal pod: writes %v, err %v", writes, err)
	}
	if s = f.slice(t); len(s.Endpoints) != 1 || s.Endpoints[0].TargetRef.Name != "p2" {
		t.Errorf("endpoints after p1 turned terminal: %+v", s.Endpoints)
	}
	f.echo(t)

	// The selector goes: so do the managed slices.
	noSel := svc.DeepCopy()
	noSel.Spec.Selector = nil
	f.cache(t, noSel)
	if writes, err = f.sync(t); err != nil || !cmp.Equal([]string{"delete endpointslices " + s.Name}, writes) {
		t.Fatalf("selector removed: writes %v, err %v", writes, err)
	}
	f.echo(t)

	// Back, then the service is deleted: its slices go.
	f.cache(t, svc)
	if writes, err = f.sync(t); err != nil || len(writes) != 1 {
		t.Fatalf("selector back: writes %v, err %v", writes, err)
	}
	f.echo(t)
	f.uncache(t, svc)
	if writes, err = f.sync(t); err != nil || len(writes) != 1 || writes[0][:6] != "delete" {
		t.Fatalf("service deleted: writes %v, err %v", writes, err)
	}
}

func TestSyncSkipsWritesWhenServiceDeleting(t *testing.T) {
	svc := mkSvc()
	svc.DeletionTimestamp = &metav1.Time{Time: t0}
	f := newFixture(t, svc, mkPod("p1", "10.0.0.1"))
	if writes, err := f.sync(t); err != nil || len(writes) != 0 {
		t.Errorf("writes %v, err %v: a service being deleted gets no new slices", writes, err)
	}
}
