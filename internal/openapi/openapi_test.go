package openapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	openapiproto "k8s.io/kube-openapi/pkg/util/proto"
)

const protoV2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

func get(t *testing.T, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return resp, body
}

// swaggerJSON is the part of a v2 document the tests read.
type swaggerJSON struct {
	Definitions map[string]struct {
		GVK []map[string]string `json:"x-kubernetes-group-version-kind"`
	} `json:"definitions"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
	// Parameters are the shared parameters operations refer to with
	// {"$ref": "#/parameters/…"}, as upstream's v2 document does.
	Parameters map[string]struct {
		Name string `json:"name"`
	} `json:"parameters"`
}

type operationJSON struct {
	OperationID string            `json:"operationId"`
	Action      string            `json:"x-kubernetes-action"`
	GVK         map[string]string `json:"x-kubernetes-group-version-kind"`
	Consumes    []string          `json:"consumes"`
	Parameters  []struct {
		Name string `json:"name"`
		Ref  string `json:"$ref"`
	} `json:"parameters"`
}

// paramNames resolves shared parameters through doc.
func (o operationJSON) paramNames(doc swaggerJSON) []string {
	var names []string
	for _, p := range o.Parameters {
		if ref, ok := strings.CutPrefix(p.Ref, "#/parameters/"); ok {
			p.Name = doc.Parameters[ref].Name
		}
		names = append(names, p.Name)
	}
	return names
}

func TestV2JSON(t *testing.T) {
	srv := startServer(t)
	resp, body := get(t, srv.URL+"/openapi/v2", "application/json")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("Etag") == "" {
		t.Error("no ETag")
	}
	t.Logf("v2 JSON: %d bytes", len(body))
	var doc swaggerJSON
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}

	pod, ok := doc.Definitions["io.k8s.api.core.v1.Pod"]
	if !ok {
		t.Fatal("no definition io.k8s.api.core.v1.Pod")
	}
	want := []map[string]string{{"group": "", "version": "v1", "kind": "Pod"}}
	if len(pod.GVK) != 1 || !mapsEqual(pod.GVK[0], want[0]) {
		t.Errorf("Pod x-kubernetes-group-version-kind = %v, want %v", pod.GVK, want)
	}
	if gvk := doc.Definitions["io.k8s.api.autoscaling.v1.Scale"].GVK; len(gvk) != 1 || gvk[0]["group"] != "autoscaling" {
		t.Errorf("Scale x-kubernetes-group-version-kind = %v", gvk)
	}

	pods, ok := doc.Paths["/api/v1/namespaces/{namespace}/pods"]
	if !ok {
		t.Fatal("no path /api/v1/namespaces/{namespace}/pods")
	}
	for method, wantID := range map[string]string{"get": "listCoreV1NamespacedPod", "post": "createCoreV1NamespacedPod", "delete": "deleteCoreV1CollectionNamespacedPod"} {
		var op operationJSON
		if err := json.Unmarshal(pods[method], &op); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if op.OperationID != wantID {
			t.Errorf("%s operationId = %q, want %q", method, op.OperationID, wantID)
		}
	}

	var patch operationJSON
	if err := json.Unmarshal(doc.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"], &patch); err != nil {
		t.Fatal(err)
	}
	if patch.OperationID != "patchAppsV1NamespacedDeployment" || patch.Action != "patch" || patch.GVK["kind"] != "Deployment" {
		t.Errorf("deployment patch = %+v", patch)
	}
	for _, ct := range []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"} {
		if !slices.Contains(patch.Consumes, ct) {
			t.Errorf("PATCH does not consume %s: %v", ct, patch.Consumes)
		}
	}
	for _, p := range []string{"fieldValidation", "dryRun", "fieldManager", "force", "body"} {
		if !slices.Contains(patch.paramNames(doc), p) {
			t.Errorf("PATCH lacks parameter %s: %v", p, patch.paramNames(doc))
		}
	}

	// Operation ids are unique across the whole document (the builder
	// refuses duplicates, but a regression there would be silent here).
	seen := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op operationJSON
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if prev, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %s on %s and %s %s", op.OperationID, prev, method, path)
			}
			seen[op.OperationID] = method + " " + path
		}
	}
	for _, id := range []string{"readAppsV1NamespacedDeploymentScale", "watchCoreV1PodListForAllNamespaces", "createCoreV1NamespacedPodEviction",
		"connectCoreV1PostNamespacedPodExec", "listRbacAuthorizationV1ClusterRole", "getAppsV1APIResources", "getCodeVersion",
		"connectCoreV1OptionsNodeProxy", "connectCoreV1DeleteNodeProxy", "connectCoreV1DeleteNamespacedServiceProxy"} {
		if _, ok := seen[id]; !ok {
			t.Errorf("no operation %s", id)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestV2Protobuf reads /openapi/v2 as kubectl does (protobuf, through
// client-go's discovery client) and resolves PodSpec.containers with the
// parser kubectl's v2 explain and validation use.
func TestV2Protobuf(t *testing.T) {
	srv := startServer(t)
	resp, body := get(t, srv.URL+"/openapi/v2", protoV2)
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "protobuf") {
		t.Fatalf("Content-Type %q for a protobuf request", ct)
	}
	var raw openapi_v2.Document
	if err := proto.Unmarshal(body, &raw); err != nil {
		t.Fatalf("protobuf body: %v", err)
	}
	t.Logf("v2 protobuf: %d bytes", len(body))

	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema: %v", err)
	}
	models, err := openapiproto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("NewOpenAPIData: %v", err)
	}
	spec, ok := models.LookupModel("io.k8s.api.core.v1.PodSpec").(*openapiproto.Kind)
	if !ok {
		t.Fatal("io.k8s.api.core.v1.PodSpec is not a kind")
	}
	containers, ok := spec.Fields["containers"].(*openapiproto.Array)
	if !ok {
		t.Fatalf("PodSpec.containers = %T, want an array", spec.Fields["containers"])
	}
	ref, ok := containers.SubType.(*openapiproto.Ref)
	if !ok || ref.Reference() != "io.k8s.api.core.v1.Container" {
		t.Fatalf("PodSpec.containers items = %v", containers.SubType)
	}
	if _, ok := ref.SubSchema().(*openapiproto.Kind).Fields["image"]; !ok {
		t.Error("Container has no field image")
	}
	if !slices.Contains(spec.RequiredFields, "containers") {
		t.Errorf("PodSpec required = %v", spec.RequiredFields)
	}
}

// TestV3Discovery checks the /openapi/v3 index kubectl starts from.
func TestV3Discovery(t *testing.T) {
	srv := startServer(t)
	_, body := get(t, srv.URL+"/openapi/v3", "application/json")
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/batch/v1", "apis/rbac.authorization.k8s.io/v1", "apis/apiextensions.k8s.io/v1", "version"} {
		u := index.Paths[p].ServerRelativeURL
		if !strings.HasPrefix(u, "/openapi/v3/"+p+"?hash=") {
			t.Errorf("%s: serverRelativeURL %q", p, u)
		}
	}

	// A hashed URL is immutable and cached as such.
	resp, _ := get(t, srv.URL+index.Paths["api/v1"].ServerRelativeURL, "application/json")
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control %q for a hashed URL", cc)
	}
}

// TestV3GroupDocumentIsClosed fetches every v3 document and checks that
// each $ref points at a schema of the same document.
func TestV3GroupDocumentIsClosed(t *testing.T) {
	srv := startServer(t)
	_, body := get(t, srv.URL+"/openapi/v3", "application/json")
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatal(err)
	}
	for name, p := range index.Paths {
		_, body := get(t, srv.URL+p.ServerRelativeURL, "application/json")
		t.Logf("v3 %s: %d bytes", name, len(body))
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		schemas, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)
		refs := map[string]bool{}
		collectRefs(doc, refs)
		if strings.HasPrefix(name, "api/") || strings.Count(name, "/") == 2 {
			if len(refs) == 0 {
				t.Errorf("%s: no $ref at all", name)
			}
		}
		for ref := range refs {
			def, ok := strings.CutPrefix(ref, "#/components/schemas/")
			if !ok {
				t.Errorf("%s: $ref %q is not a v3 component reference", name, ref)
				continue
			}
			if _, ok := schemas[strings.ReplaceAll(def, "~1", "/")]; !ok {
				t.Errorf("%s: $ref %q does not resolve", name, ref)
			}
		}
	}
}

func collectRefs(v any, refs map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				refs[s] = true
				continue
			}
			collectRefs(e, refs)
		}
	case []any:
		for _, e := range v {
			collectRefs(e, refs)
		}
	}
}

// TestV3ClientGo reads the v3 documents through client-go's openapi3 root,
// as kubectl explain and kubectl's field-validation check do.
func TestV3ClientGo(t *testing.T) {
	srv := startServer(t)
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	root := openapi3.NewRoot(dc.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	for _, gv := range []schema.GroupVersion{corev1.SchemeGroupVersion, {Group: "apps", Version: "v1"}} {
		if !slices.Contains(gvs, gv) {
			t.Errorf("GroupVersions %v lacks %v", gvs, gv)
		}
	}

	core, err := root.GVSpec(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	podSpec, ok := core.Components.Schemas["io.k8s.api.core.v1.PodSpec"]
	if !ok {
		t.Fatal("no io.k8s.api.core.v1.PodSpec in api/v1")
	}
	containers, ok := podSpec.Properties["containers"]
	if !ok || containers.Items == nil || containers.Items.Schema == nil {
		t.Fatalf("PodSpec.containers = %+v", containers)
	}
	// v3 wraps a $ref that has siblings in allOf; either way it must name
	// the Container schema of this document.
	item := containers.Items.Schema
	ref := item.Ref.String()
	if ref == "" && len(item.AllOf) == 1 {
		ref = item.AllOf[0].Ref.String()
	}
	if ref != "#/components/schemas/io.k8s.api.core.v1.Container" {
		t.Errorf("containers items $ref = %q", ref)
	}

	apps, err := root.GVSpec(schema.GroupVersion{Group: "apps", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	} {
		if !supportsQueryParam(apps, gvk, "fieldValidation") {
			t.Errorf("%v: fieldValidation is not a parameter of a PATCH operation", gvk)
		}
	}
	if !supportsQueryParam(core, corev1.SchemeGroupVersion.WithKind("Pod"), "fieldValidation") {
		t.Error("Pod: fieldValidation is not a parameter of a PATCH operation")
	}
}

// supportsQueryParam mirrors kubectl's check (cli-runtime's v3 query
// parameter verifier): every PATCH operation tagged with gvk must list the
// parameter itself, since kubectl looks at the first one it finds and
// ignores path-level parameters.
func supportsQueryParam(doc *spec3.OpenAPI, gvk schema.GroupVersionKind, name string) bool {
	found := false
	for _, path := range doc.Paths.Paths {
		op := path.Patch
		if op == nil {
			continue
		}
		var got map[string]string
		if err := op.Extensions.GetObject("x-kubernetes-group-version-kind", &got); err != nil {
			continue
		}
		if got["group"] != gvk.Group || got["version"] != gvk.Version || got["kind"] != gvk.Kind {
			continue
		}
		if !slices.ContainsFunc(op.Parameters, func(p *spec3.Parameter) bool { return p.Name == name }) {
			return false
		}
		found = true
	}
	return found
}

func TestInstallRejectsBadTables(t *testing.T) {
	s := testScheme(t)
	for name, r := range map[string]Resource{
		"unknown verb":      {Version: "v1", Resource: "pods", Kind: "Pod", Object: &corev1.Pod{}, Verbs: []string{"frobnicate"}},
		"list without List": {Version: "v1", Resource: "pods", Kind: "Pod", Object: &corev1.Pod{}, Verbs: []string{"list"}},
		"no Object":         {Version: "v1", Resource: "pods", Kind: "Pod", Verbs: []string{"get"}},
		"bad subresource verb": {Version: "v1", Resource: "pods", Kind: "Pod", Object: &corev1.Pod{},
			Subresources: []Subresource{{Name: "status", Verbs: []string{"list"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Install(ServeMux(http.NewServeMux()), Config{Scheme: s, Resources: []Resource{r}})
			if err == nil {
				t.Fatal("Install accepted a bad table")
			}
		})
	}
	if _, err := Install(ServeMux(http.NewServeMux()), Config{}); err == nil {
		t.Error("Install accepted a nil Scheme")
	}
	// A kind whose package is not a generator input fails at Install, not
	// on kubectl's first request.
	ingress := Resource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses", Kind: "Ingress", Object: &networkingv1.Ingress{}, Verbs: []string{"get"}}
	_, err := Install(ServeMux(http.NewServeMux()), Config{Scheme: s, Resources: []Resource{ingress}})
	if err == nil || !strings.Contains(err.Error(), "io.k8s.api.networking.v1.Ingress") {
		t.Errorf("Install with an ungenerated kind: %v", err)
	}
	dup := testResources()[0]
	_, err = Install(ServeMux(http.NewServeMux()), Config{Scheme: s, Resources: []Resource{dup, dup}})
	if err == nil || !strings.Contains(err.Error(), "operation id") {
		t.Errorf("Install with a resource twice: %v", err)
	}
}

// TestConcurrentFirstRequests races the first requests of every document:
// the lazy builds must happen once and without data races (run with -race).
func TestConcurrentFirstRequests(t *testing.T) {
	srv := startServer(t)
	paths := []string{"/openapi/v2", "/openapi/v3", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1", "/openapi/v3/apis/batch/v1", "/openapi/v3/version"}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(paths))
	for range 2 {
		for _, p := range paths {
			wg.Go(func() {
				resp, err := http.Get(srv.URL + p)
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					errs <- err
					return
				}
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("GET %s: %s", p, resp.Status)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestBuildTime logs what Install and the first builds cost with the
// fixture (about the size of terminus's table) and fails past a generous
// bound, so a regression that makes them take seconds shows up.
func TestBuildTime(t *testing.T) {
	cfg := testConfig(t)
	start := time.Now()
	if _, err := Install(ServeMux(http.NewServeMux()), cfg); err != nil {
		t.Fatal(err)
	}
	install := time.Since(start)

	b, err := newSpecBuilder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	v2, err := b.v2()
	if err != nil {
		t.Fatal(err)
	}
	v2Took := time.Since(start)
	start = time.Now()
	v3, err := b.v3()
	if err != nil {
		t.Fatal(err)
	}
	v3Took := time.Since(start)
	t.Logf("Install %v; first v2 build (%d paths, %d definitions) %v; first v3 build (%d documents) %v",
		install, len(v2.Paths.Paths), len(v2.Definitions), v2Took, len(v3), v3Took)
	for what, took := range map[string]time.Duration{"Install": install, "v2": v2Took, "v3": v3Took} {
		if took > 2*time.Second {
			t.Errorf("%s took %v", what, took)
		}
	}
}

func BenchmarkInstall(b *testing.B) {
	cfg := testConfig(b)
	for b.Loop() {
		if _, err := Install(ServeMux(http.NewServeMux()), cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	cfg := testConfig(b)
	for b.Loop() {
		sb, err := newSpecBuilder(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sb.buildV2(); err != nil {
			b.Fatal(err)
		}
		if _, err := sb.buildV3(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstV2Request is what the first GET /openapi/v2 costs: the
// build and the JSON serialisation, both deferred to it.
func BenchmarkFirstV2Request(b *testing.B) {
	cfg := testConfig(b)
	for b.Loop() {
		mux := http.NewServeMux()
		if _, err := Install(ServeMux(mux), cfg); err != nil {
			b.Fatal(err)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi/v2", nil))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
