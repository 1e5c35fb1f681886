package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDiscoveryListsPodSubresources: discovery lists the pod and node
// subresources with upstream's kinds and verbs (kubectl drain finds
// pods/eviction by its group and version there; the scheduler's bind and
// kubectl logs/exec need nothing more than the routes).
func TestDiscoveryListsPodSubresources(t *testing.T) {
	srv := newTestHandler(t)
	rec := do(srv, http.MethodGet, "/api/v1", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1: %d %s", rec.Code, rec.Body)
	}
	var list metav1.APIResourceList
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		byName[r.Name] = r
	}
	want := []metav1.APIResource{
		{Name: "bindings", SingularName: "binding", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}},
		{Name: "pods/binding", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}},
		{Name: "pods/eviction", Namespaced: true, Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{"create"}},
		{Name: "pods/attach", Namespaced: true, Kind: "PodAttachOptions", Verbs: []string{"create", "get"}},
		{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
		{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
		{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}},
		{Name: "nodes/proxy", Kind: "NodeProxyOptions", Verbs: []string{"create", "delete", "get", "patch", "update"}},
	}
	for _, w := range want {
		got, ok := byName[w.Name]
		if !ok {
			t.Errorf("%s is not listed", w.Name)
			continue
		}
		if d := cmp.Diff(w, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", w.Name, d)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, "/api", nil)
	req.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	arec := serve(srv, req)
	var agg apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(arec.Body.Bytes(), &agg); err != nil {
		t.Fatal(err)
	}
	subs := map[string]apidiscoveryv2.APISubresourceDiscovery{}
	for _, g := range agg.Items {
		for _, v := range g.Versions {
			for _, r := range v.Resources {
				if r.Resource != "pods" {
					continue
				}
				for _, s := range r.Subresources {
					subs[s.Subresource] = s
				}
			}
		}
	}
	wantSubs := []apidiscoveryv2.APISubresourceDiscovery{
		{Subresource: "binding", ResponseKind: &metav1.GroupVersionKind{Version: "v1", Kind: "Binding"}, Verbs: []string{"create"}},
		{Subresource: "eviction", ResponseKind: &metav1.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, Verbs: []string{"create"}},
		{Subresource: "exec", ResponseKind: &metav1.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}, Verbs: []string{"create", "get"}},
		{Subresource: "log", ResponseKind: &metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Verbs: []string{"get"}},
	}
	for _, w := range wantSubs {
		if d := cmp.Diff(w, subs[w.Subresource]); d != "" {
			t.Errorf("aggregated pods/%s (-want +got):\n%s", w.Subresource, d)
		}
	}
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
