package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

var (
	cmGVK     = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	nsGVK     = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	crGVK     = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}
	widgetGVK = schema.GroupVersionKind{Group: "stable.example.com", Version: "v1", Kind: "Widget"}
)

// testMapper knows the kinds the step tests use.
func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(cmGVK, meta.RESTScopeNamespace)
	m.Add(nsGVK, meta.RESTScopeRoot)
	m.Add(crGVK, meta.RESTScopeRoot)
	m.Add(widgetGVK, meta.RESTScopeNamespace)
	return m
}

// stepEnv is a controller on fake clients whose graph and queues a test
// drives one step at a time, as upstream's gc_test.go does.
type stepEnv struct {
	t     *testing.T
	ctx   context.Context
	c     *Controller
	meta  *metadatafake.FakeMetadataClient
	kube  *kubefake.Clientset
	rec   *record.FakeRecorder
	clock *testingclock.FakeClock
}

func newStepEnv(t *testing.T, objs ...*metav1.PartialObjectMetadata) *stepEnv {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ros := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		ros = append(ros, o)
	}
	mc := metadatafake.NewSimpleMetadataClient(scheme, ros...)
	// Patches and deletes are recorded and acknowledged; deletes also
	// remove the object so that later GETs see it gone.
	mc.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pa := a.(clienttesting.PatchAction)
		obj, err := mc.Tracker().Get(pa.GetResource(), pa.GetNamespace(), pa.GetName())
		return true, obj, err
	})
	mc.PrependReactor("delete", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		da := a.(clienttesting.DeleteAction)
		cur, err := mc.Tracker().Get(da.GetResource(), da.GetNamespace(), da.GetName())
		if err != nil {
			return true, nil, err
		}
		// Finalizers hold the object, as the API server does (B5).
		if m := cur.(*metav1.PartialObjectMetadata); len(m.Finalizers) > 0 {
			m = m.DeepCopy()
			if m.DeletionTimestamp == nil {
				now := metav1.NewTime(time.Unix(1_700_000_000, 0))
				m.DeletionTimestamp = &now
			}
			return true, nil, mc.Tracker().Update(da.GetResource(), m, m.Namespace)
		}
		return true, nil, mc.Tracker().Delete(da.GetResource(), da.GetNamespace(), da.GetName())
	})
	kube := kubefake.NewClientset()
	clk := testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	c, err := New(Config{
		Metadata: mc, Discovery: kube.Discovery().(*fakediscovery.FakeDiscovery), Client: kube,
		Mapper: testMapper(), Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := record.NewFakeRecorder(10)
	c.recorder = rec
	t.Cleanup(func() {
		c.graphChanges.ShutDown()
		c.attemptToDelete.ShutDown()
		c.attemptToOrphan.ShutDown()
	})
	return &stepEnv{t: t, ctx: t.Context(), c: c, meta: mc, kube: kube, rec: rec, clock: clk}
}

// obj builds object metadata.
func obj(gvk schema.GroupVersionKind, ns, name, uid string, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: types.UID(uid), ResourceVersion: "10", OwnerReferences: owners,
		},
	}
}

func ownerRef(gvk schema.GroupVersionKind, name, uid string, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: name, UID: types.UID(uid)}
	if block {
		r.BlockOwnerDeletion = new(true)
	}
	return r
}

// terminating marks o as deleted with finalizers.
func terminating(o *metav1.PartialObjectMetadata, finalizers ...string) *metav1.PartialObjectMetadata {
	o = o.DeepCopy()
	now := metav1.NewTime(time.Unix(1_700_000_000, 0))
	o.DeletionTimestamp = &now
	o.Finalizers = finalizers
	return o
}

// observe feeds one informer event into the graph builder and processes
// it, plus any graph changes it caused.
func (e *stepEnv) observe(typ eventType, o, old *metav1.PartialObjectMetadata) {
	e.t.Helper()
	ev := &event{eventType: typ, obj: o, gvk: o.GroupVersionKind()}
	if old != nil {
		ev.oldObj = old
	}
	e.c.graphChanges.Add(ev)
	e.processGraph()
}

func (e *stepEnv) processGraph() {
	for e.c.graphChanges.Len() > 0 {
		e.c.processGraphChanges()
	}
}

// processDelete runs one attemptToDelete item, then the graph changes it
// caused; it fails if the queue is empty.
func (e *stepEnv) processDelete() {
	e.t.Helper()
	if e.c.attemptToDelete.Len() == 0 {
		e.t.Fatal("attemptToDelete is empty")
	}
	e.c.processAttemptToDeleteWorker(e.ctx)
	e.processGraph()
}

func (e *stepEnv) processOrphan() {
	e.t.Helper()
	if e.c.attemptToOrphan.Len() == 0 {
		e.t.Fatal("attemptToOrphan is empty")
	}
	e.c.processAttemptToOrphanWorker(e.ctx)
}

// queued lists the names in the attemptToDelete queue (sorted) without
// removing them.
func (e *stepEnv) queued() []string {
	var items []*node
	var names []string
	for e.c.attemptToDelete.Len() > 0 {
		n, _ := e.c.attemptToDelete.Get()
		e.c.attemptToDelete.Done(n)
		items = append(items, n)
		names = append(names, n.identity.Name)
	}
	for _, n := range items {
		e.c.attemptToDelete.Add(n)
	}
	slices.Sort(names)
	return names
}

// clearQueue empties attemptToDelete.
func (e *stepEnv) clearQueue() {
	for e.c.attemptToDelete.Len() > 0 {
		n, _ := e.c.attemptToDelete.Get()
		e.c.attemptToDelete.Done(n)
		e.c.attemptToDelete.Forget(n)
	}
}

// actions renders the recorded write and read actions, and clears them.
func (e *stepEnv) actions() []string {
	var out []string
	for _, a := range e.meta.Actions() {
		ns := a.GetNamespace()
		var name string
		var extra string
		switch a := a.(type) {
		case clienttesting.DeleteAction:
			name = a.GetName()
			o := a.GetDeleteOptions()
			if o.PropagationPolicy != nil {
				extra += " policy=" + string(*o.PropagationPolicy)
			}
			if p := o.Preconditions; p != nil {
				if p.UID != nil {
					extra += " uid=" + string(*p.UID)
				}
				if p.ResourceVersion != nil {
					extra += " rv=" + *p.ResourceVersion
				}
			}
		case clienttesting.PatchAction:
			name = a.GetName()
			extra = fmt.Sprintf(" %s %s", patchKind(a.GetPatchType()), a.GetPatch())
		case clienttesting.GetAction:
			name = a.GetName()
		default:
			continue
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s/%s%s", a.GetVerb(), a.GetResource().Resource, ns, name, extra)))
	}
	e.meta.ClearActions()
	return out
}

func patchKind(pt types.PatchType) string {
	switch pt {
	case types.StrategicMergePatchType:
		return "strategic"
	case types.MergePatchType:
		return "merge"
	}
	return string(pt)
}

// graphNode returns the node of uid or nil.
func (e *stepEnv) graphNode(uid string) *node {
	n, _ := e.c.uidToNode.Read(types.UID(uid))
	return n
}

func (e *stepEnv) deleteFromAPI(gvr schema.GroupVersionResource, ns, name string) {
	e.t.Helper()
	if err := e.meta.Tracker().Delete(gvr, ns, name); err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
}

func (e *stepEnv) putToAPI(gvr schema.GroupVersionResource, o *metav1.PartialObjectMetadata) {
	e.t.Helper()
	if err := e.meta.Tracker().Update(gvr, o, o.Namespace); err != nil {
		e.t.Fatal(err)
	}
}

// mustJSON renders v compactly, for expected patch bodies.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	cmGVR     = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	widgetGVR = schema.GroupVersionResource{Group: "stable.example.com", Version: "v1", Resource: "widgets"}
)
