package garbagecollector

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
)

// TestDiscovery is D1: preferred resources with delete, list and watch,
// minus Events; monitors follow discovery; Ready names unsynced monitors.
func TestDiscovery(t *testing.T) {
	e := newStepEnv(t)
	all := []string{"delete", "list", "watch", "get"}
	fd := e.c.discovery.(*fakediscovery.FakeDiscovery)
	fd.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: all},
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: all},
			{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "patch"}},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: all},
		}},
	}
	if err := e.c.Ready(); err == nil || !strings.Contains(err.Error(), "no resource monitors") {
		t.Fatalf("Ready before discovery = %v", err)
	}
	known := e.c.syncDiscovery(e.ctx, nil)
	diff(t, "monitored", map[schema.GroupVersionResource]schema.GroupVersionKind{cmGVR: cmGVK}, known)
	err := e.c.Ready()
	if err == nil || !strings.Contains(err.Error(), "configmaps") {
		t.Fatalf("Ready with an unsynced monitor = %v, want an error naming configmaps", err)
	}

	// A resource added later (a CRD) gets a monitor on the next sync.
	fd.Resources = append(fd.Resources, &metav1.APIResourceList{GroupVersion: "stable.example.com/v1", APIResources: []metav1.APIResource{
		{Name: "widgets", Namespaced: true, Kind: "Widget", Verbs: all},
	}})
	known = e.c.syncDiscovery(e.ctx, known)
	if _, ok := known[widgetGVR]; !ok {
		t.Fatalf("widgets not monitored: %v", known)
	}
	e.c.monitorLock.RLock()
	n := len(e.c.monitors)
	e.c.monitorLock.RUnlock()
	if n != 2 {
		t.Fatalf("%d monitors, want 2", n)
	}
	if err := e.c.Ready(); err == nil || !strings.Contains(err.Error(), "widgets.v1.stable.example.com") {
		t.Fatalf("Ready = %v", err)
	}
}
