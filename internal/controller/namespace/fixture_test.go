package namespace

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// stubDiscovery answers ServerPreferredNamespacedResources, which the
// client-go fake leaves empty.
type stubDiscovery struct {
	*fakediscovery.FakeDiscovery
	lists []*metav1.APIResourceList
	err   error
}

func (d *stubDiscovery) ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error) {
	return d.lists, d.err
}

func (d *stubDiscovery) ServerPreferredNamespacedResourcesWithContext(context.Context) ([]*metav1.APIResourceList, error) {
	return d.lists, d.err
}

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// standardResources is a small discovery answer: pods, configmaps and
// secrets in the core group, deployments in apps, and a subresource.
func standardResources() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: allVerbs},
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch", "update"}},
			{Name: "secrets", Namespaced: true, Kind: "Secret", Verbs: allVerbs},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: allVerbs},
		}},
	}
}

var (
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretsGVR    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	deployGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

const testNS = "doomed"

// fixture is a controller on client-go fakes that delete like the API
// server: items with finalizers are only marked.
type fixture struct {
	t      *testing.T
	client *kubefake.Clientset
	meta   *metadatafake.FakeMetadataClient
	disc   *stubDiscovery
	clock  *clocktesting.FakeClock
	c      *Controller
	// informers is the factory the controller was built with.
	informers informers.SharedInformerFactory
	// stuck lists resources whose deletes do nothing at all.
	stuck map[schema.GroupVersionResource]bool
	// finalizes records the spec.finalizers sent to /finalize.
	mu        sync.Mutex
	finalizes [][]corev1.FinalizerName
}

// terminating returns a namespace deleted at the given time.
func terminating(at time.Time, finalizers ...corev1.FinalizerName) *corev1.Namespace {
	ts := metav1.NewTime(at)
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: testNS, UID: "ns-uid", DeletionTimestamp: &ts},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

var epoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, ns *corev1.Namespace, cfg Config) *fixture {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		t:      t,
		client: kubefake.NewClientset(ns),
		meta:   metadatafake.NewSimpleMetadataClient(scheme),
		clock:  clocktesting.NewFakeClock(epoch),
		stuck:  map[schema.GroupVersionResource]bool{},
	}
	f.disc = &stubDiscovery{FakeDiscovery: f.client.Discovery().(*fakediscovery.FakeDiscovery), lists: standardResources()}
	f.meta.PrependReactor("delete-collection", "*", f.deleteCollection)
	f.meta.PrependReactor("delete", "*", f.deleteOne)
	f.client.PrependReactor("create", "namespaces", f.finalize)

	cfg.Client, cfg.Metadata, cfg.Discovery, cfg.Clock = f.client, f.meta, f.disc, f.clock
	f.informers = informers.NewSharedInformerFactory(f.client, 0)
	cfg.Informers = f.informers
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

// add stores a content item; pods also go to the typed client, which the
// grace estimate reads.
func (f *fixture) add(gvr schema.GroupVersionResource, kind, name string, grace *int64, finalizers ...string) {
	f.t.Helper()
	om := metav1.ObjectMeta{Name: name, Namespace: testNS, Finalizers: finalizers}
	obj := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: gvr.GroupVersion().String(), Kind: kind},
		ObjectMeta: om,
	}
	if err := f.meta.Tracker().Create(gvr, obj, testNS); err != nil {
		f.t.Fatal(err)
	}
	if gvr == podsGVR {
		p := &corev1.Pod{ObjectMeta: om, Spec: corev1.PodSpec{TerminationGracePeriodSeconds: grace}}
		if _, err := f.client.CoreV1().Pods(testNS).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.client.ClearActions()
}

// remove deletes an item as the API server would once it is unblocked.
func (f *fixture) remove(gvr schema.GroupVersionResource, name string) {
	f.t.Helper()
	if err := f.meta.Tracker().Delete(gvr, testNS, name); err != nil {
		f.t.Fatal(err)
	}
}

// apiDelete marks obj terminating if it has finalizers, else removes it.
func (f *fixture) apiDelete(gvr schema.GroupVersionResource, obj runtime.Object) error {
	m := obj.(*metav1.PartialObjectMetadata).DeepCopy()
	if len(m.Finalizers) == 0 {
		return f.meta.Tracker().Delete(gvr, m.Namespace, m.Name)
	}
	if m.DeletionTimestamp == nil {
		now := metav1.NewTime(f.clock.Now())
		m.DeletionTimestamp = &now
	}
	return f.meta.Tracker().Update(gvr, m, m.Namespace)
}

func (f *fixture) deleteCollection(action clienttesting.Action) (bool, runtime.Object, error) {
	gvr := action.GetResource()
	if f.stuck[gvr] {
		return true, nil, nil
	}
	list, err := f.meta.Tracker().List(gvr, schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}, action.GetNamespace())
	if err != nil {
		return true, nil, err
	}
	for _, item := range list.(*metav1.List).Items {
		if err := f.apiDelete(gvr, item.Object); err != nil {
			return true, nil, err
		}
	}
	return true, nil, nil
}

func (f *fixture) deleteOne(action clienttesting.Action) (bool, runtime.Object, error) {
	gvr := action.GetResource()
	if f.stuck[gvr] {
		return true, nil, nil
	}
	obj, err := f.meta.Tracker().Get(gvr, action.GetNamespace(), action.(clienttesting.DeleteAction).GetName())
	if err != nil {
		return true, nil, err
	}
	return true, nil, f.apiDelete(gvr, obj)
}

// finalize plays PUT /finalize: it sets spec.finalizers and removes a
// terminating namespace left with no finalizers at all (E7).
func (f *fixture) finalize(action clienttesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "finalize" {
		return false, nil, nil
	}
	ns := action.(clienttesting.CreateAction).GetObject().(*corev1.Namespace).DeepCopy()
	f.mu.Lock()
	f.finalizes = append(f.finalizes, ns.Spec.Finalizers)
	f.mu.Unlock()
	tracker := f.client.Tracker()
	gvr := corev1.SchemeGroupVersion.WithResource("namespaces")
	if len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 && ns.DeletionTimestamp != nil {
		return true, ns, tracker.Delete(gvr, "", ns.Name)
	}
	return true, ns, tracker.Update(gvr, ns, "")
}

// namespace reads the namespace back; nil if it is gone.
func (f *fixture) namespace() *corev1.Namespace {
	f.t.Helper()
	obj, err := f.client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("namespaces"), "", testNS)
	if err != nil {
		return nil
	}
	return obj.(*corev1.Namespace)
}

// metaCalls lists "verb resource" for each call to the metadata client.
func (f *fixture) metaCalls() []string {
	var out []string
	for _, a := range f.meta.Actions() {
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return out
}
