package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/terminus-project/terminus/internal/registry"
	"github.com/terminus-project/terminus/internal/storage/memory"
)

// newTestHandler is the API handler over a memory store with its watch
// caches running; no TLS, no authentication.
func newTestHandler(tb testing.TB) *Server {
	tb.Helper()
	return newTestHandlerWith(tb, Config{})
}

// newTestHandlerWith is newTestHandler with cfg's other fields (Registry
// and Scheme are filled in).
func newTestHandlerWith(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	scheme, err := registry.NewScheme()
	if err != nil {
		tb.Fatal(err)
	}
	st := memory.New(memory.Options{})
	reg, err := registry.New(registry.Config{Storage: st, Scheme: scheme, Resources: registry.BuiltinResources()})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done; st.Close() })
	if err := reg.WaitSynced(ctx); err != nil {
		tb.Fatal(err)
	}
	cfg.Registry, cfg.Scheme = reg, scheme
	srv, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for _, ns := range []string{"default"} {
		rec := do(srv, http.MethodPost, "/api/v1/namespaces", "application/json", []byte(`{"metadata":{"name":"`+ns+`"}}`))
		if rec.Code != http.StatusCreated {
			tb.Fatalf("creating namespace: %d %s", rec.Code, rec.Body)
		}
	}
	return srv
}

func do(h http.Handler, method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkStatusBody asserts an error response is a well-formed Status whose
// code equals the HTTP code (spec J0) and that no request produced a 500
// other than J11's.
func checkResponse(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code < 400 {
		return
	}
	var st struct {
		Kind    string `json:"kind"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("%d response is not JSON: %v: %q", rec.Code, err, rec.Body)
	}
	if st.Kind != "Status" || st.Code != rec.Code {
		t.Fatalf("%d response is not a matching Status: %s", rec.Code, rec.Body)
	}
	if rec.Code >= 500 && st.Message != "resourceVersion should not be set on objects to be created" {
		t.Fatalf("server error for client input: %s", rec.Body)
	}
}

func FuzzCreate(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`), "application/json", uint8(0))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"), "application/yaml", uint8(0))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}`), "application/json", uint8(1))
	f.Add([]byte(`{"metadata":{"name":"a","resourceVersion":"3"}}`), "application/json", uint8(0))
	f.Add([]byte("\x6b\x38\x73\x00garbage"), "application/vnd.kubernetes.protobuf", uint8(2))
	f.Add([]byte(`{"metadata":{"name":"Bad_Name"}}`), "application/json", uint8(2))
	srv := newTestHandler(f)
	paths := []string{"/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/pods", "/apis/apps/v1/namespaces/default/deployments"}
	f.Fuzz(func(t *testing.T, body []byte, contentType string, which uint8) {
		path := paths[int(which)%len(paths)]
		rec := do(srv, http.MethodPost, path+"?fieldValidation=Strict", contentType, body)
		checkResponse(t, rec)
		if rec.Code == http.StatusCreated {
			var obj struct {
				Metadata struct{ Name, ResourceVersion string } `json:"metadata"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &obj); err != nil {
				t.Fatalf("201 body: %v", err)
			}
			got := do(srv, http.MethodGet, path+"/"+url.PathEscape(obj.Metadata.Name), "", nil)
			if got.Code != http.StatusOK {
				t.Fatalf("created %q but GET says %d", obj.Metadata.Name, got.Code)
			}
			do(srv, http.MethodDelete, path+"/"+url.PathEscape(obj.Metadata.Name), "", nil)
		}
	})
}

func FuzzPatch(f *testing.F) {
	f.Add([]byte(`{"data":{"x":"y"}}`), uint8(0))
	f.Add([]byte(`[{"op":"add","path":"/data/z","value":"1"}]`), uint8(1))
	f.Add([]byte(`{"metadata":{"labels":{"a":"b"}}}`), uint8(2))
	f.Add([]byte(`[{"op":"test","path":"/data/k","value":"nope"}]`), uint8(1))
	f.Add([]byte(`{"$patch":"replace"}`), uint8(2))
	srv := newTestHandler(f)
	const path = "/api/v1/namespaces/default/configmaps/target"
	if rec := do(srv, http.MethodPost, "/api/v1/namespaces/default/configmaps", "application/json", []byte(`{"metadata":{"name":"target"},"data":{"k":"v"}}`)); rec.Code != http.StatusCreated {
		f.Fatalf("seed object: %d %s", rec.Code, rec.Body)
	}
	types := []string{"application/merge-patch+json", "application/json-patch+json", "application/strategic-merge-patch+json"}
	f.Fuzz(func(t *testing.T, patch []byte, which uint8) {
		before := do(srv, http.MethodGet, path, "", nil)
		rec := do(srv, http.MethodPatch, path, types[int(which)%len(types)], patch)
		checkResponse(t, rec)
		if rec.Code != http.StatusOK {
			after := do(srv, http.MethodGet, path, "", nil)
			if !bytes.Equal(before.Body.Bytes(), after.Body.Bytes()) {
				t.Fatalf("failed patch (%d) changed the object:\n%s\n%s", rec.Code, before.Body, after.Body)
			}
		}
	})
}

func FuzzSelectors(f *testing.F) {
	f.Add("app=web,tier!=db", "metadata.name=x")
	f.Add("app in (a,b),!legacy", "status.phase=Running,spec.nodeName!=n1")
	f.Add("a=(", "metadata.name==x")
	f.Add("", "spec.unknown=1")
	srv := newTestHandler(f)
	f.Fuzz(func(t *testing.T, labelSel, fieldSel string) {
		q := url.Values{"labelSelector": {labelSel}, "fieldSelector": {fieldSel}}.Encode()
		for _, p := range []string{"/api/v1/namespaces/default/pods?", "/api/v1/namespaces/default/configmaps?"} {
			rec := do(srv, http.MethodGet, p+q, "", nil)
			checkResponse(t, rec)
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("selector %q %q: %d %s", labelSel, fieldSel, rec.Code, rec.Body)
			}
		}
	})
}

func FuzzDeleteOptions(f *testing.F) {
	f.Add([]byte(`{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1","propagationPolicy":"Foreground"}`))
	f.Add([]byte(`{"orphanDependents":true,"propagationPolicy":"Orphan"}`))
	f.Add([]byte(`{"dryRun":["Some"]}`))
	f.Add([]byte(`{"preconditions":{"uid":"x"}}`))
	f.Add([]byte(`{"gracePeriodSeconds":-5}`))
	srv := newTestHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if rec := do(srv, http.MethodPost, "/api/v1/namespaces/default/configmaps", "application/json", []byte(`{"metadata":{"name":"victim"}}`)); rec.Code != http.StatusCreated && rec.Code != http.StatusConflict {
			t.Fatalf("seed: %d %s", rec.Code, rec.Body)
		}
		rec := do(srv, http.MethodDelete, "/api/v1/namespaces/default/configmaps/victim", "application/json", body)
		checkResponse(t, rec)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("DELETE with %q: %d %s", body, rec.Code, rec.Body)
		}
	})
}
