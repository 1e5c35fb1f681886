package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// api is a raw HTTPS client for one server, authenticated with the
// kubeconfig's admin token unless anonymous.
type api struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (s *server) api(t *testing.T, anonymous bool) *api {
	t.Helper()
	cfg := rest.CopyConfig(s.restConfig(t))
	if anonymous {
		cfg = rest.AnonymousClientConfig(cfg)
	}
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, base: strings.TrimSuffix(cfg.Host, "/"), client: c}
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("HTTP %d: %s", r.code, r.body) }

// json decodes the body into a generic map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object (%v): %s", err, r)
	}
	return m
}

func (a *api) do(method, path, contentType string, body []byte) response {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

func (a *api) get(path string) response { a.t.Helper(); return a.do("GET", path, "", nil) }

func (a *api) post(path, body string) response {
	a.t.Helper()
	return a.do("POST", path, "application/json", []byte(body))
}

func (a *api) put(path, body string) response {
	a.t.Helper()
	return a.do("PUT", path, "application/json", []byte(body))
}

// mustCode fails unless the response has the given status code; it returns
// the decoded body.
func (a *api) mustCode(r response, code int) map[string]any {
	a.t.Helper()
	if r.code != code {
		a.t.Fatalf("want HTTP %d, got %s", code, r)
	}
	return r.json(a.t)
}

// wantStatus describes an expected error Status body.
type wantStatus struct {
	code    int
	reason  string         // "" means the field must be absent
	message string         // exact, unless prefix is set
	prefix  bool           // message is a prefix
	details map[string]any // nil: not checked; causes are not compared
	causes  []map[string]any
}

// checkStatus compares an error response with J0's shape and w.
func checkStatus(t *testing.T, r response, w wantStatus) {
	t.Helper()
	if r.code != w.code {
		t.Errorf("HTTP status: got %d, want %d (%s %q); body %s", r.code, w.code, w.reason, w.message, r.body)
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	m := r.json(t)
	for k, v := range map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": float64(w.code)} {
		if m[k] != v {
			t.Errorf("%s: got %#v, want %#v (body %s)", k, m[k], v, r.body)
		}
	}
	if md, ok := m["metadata"].(map[string]any); !ok || len(md) != 0 {
		t.Errorf("metadata: got %#v, want {} (body %s)", m["metadata"], r.body)
	}
	if reason, ok := m["reason"]; w.reason == "" && ok {
		t.Errorf("reason: got %#v, want none (body %s)", reason, r.body)
	} else if w.reason != "" && reason != w.reason {
		t.Errorf("reason: got %#v, want %q (body %s)", reason, w.reason, r.body)
	}
	msg, _ := m["message"].(string)
	if w.prefix && !strings.HasPrefix(msg, w.message) || !w.prefix && msg != w.message {
		t.Errorf("message:\n got %q\nwant %q%s", msg, w.message, map[bool]string{true: " (prefix)"}[w.prefix])
	}
	if w.details != nil {
		d, _ := m["details"].(map[string]any)
		if d == nil && len(w.details) > 0 {
			t.Errorf("details: missing, want %v (body %s)", w.details, r.body)
		}
		got := map[string]any{}
		for k, v := range d {
			if k != "causes" {
				got[k] = v
			}
		}
		if _, ok := m["details"]; !ok && len(w.details) == 0 && w.code == 404 {
			t.Errorf("details: missing, want {} (body %s)", r.body)
		}
		if !reflect.DeepEqual(got, w.details) {
			t.Errorf("details: got %v, want %v (body %s)", got, w.details, r.body)
		}
	}
	if w.causes != nil {
		d, _ := m["details"].(map[string]any)
		var got []map[string]any
		if cs, ok := d["causes"].([]any); ok {
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				got = append(got, cm)
			}
		}
		if len(got) != len(w.causes) {
			t.Errorf("causes: got %v, want %v", got, w.causes)
		} else {
			for i := range got {
				for k, v := range w.causes[i] {
					if got[i][k] != v {
						t.Errorf("causes[%d].%s: got %#v, want %#v", i, k, got[i][k], v)
					}
				}
			}
		}
	}
}

func cmJSON(name string, extraMeta string) string {
	if extraMeta != "" {
		extraMeta = "," + extraMeta
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q%s},"data":{"k":"v"}}`, name, extraMeta)
}

const cms = "/api/v1/namespaces/default/configmaps"

// TestErrorStatuses checks the J table (and A2, B4, B6) with raw HTTPS.
func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	t.Run("J1 missing object", func(t *testing.T) {
		a := s.api(t, false)
		for _, method := range []string{"GET", "DELETE"} {
			checkStatus(t, a.do(method, cms+"/x", "", nil), wantStatus{code: 404, reason: "NotFound",
				message: `configmaps "x" not found`, details: map[string]any{"name": "x", "kind": "configmaps"}})
		}
		checkStatus(t, a.put(cms+"/x", cmJSON("x", "")), wantStatus{code: 404, reason: "NotFound",
			message: `configmaps "x" not found`, details: map[string]any{"name": "x", "kind": "configmaps"}})
		checkStatus(t, a.do("PATCH", cms+"/x", "application/merge-patch+json", []byte(`{"data":{"a":"b"}}`)),
			wantStatus{code: 404, reason: "NotFound", message: `configmaps "x" not found`,
				details: map[string]any{"name": "x", "kind": "configmaps"}})
		// details.group is present for a named group.
		checkStatus(t, a.get("/apis/apps/v1/namespaces/default/deployments/nope"), wantStatus{code: 404, reason: "NotFound",
			message: `deployments.apps "nope" not found`, details: map[string]any{"name": "nope", "group": "apps", "kind": "deployments"}})
	})

	t.Run("J1b missing namespace on create", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.post("/api/v1/namespaces/nope/configmaps", cmJSON("c", "")), wantStatus{code: 404, reason: "NotFound",
			message: `namespaces "nope" not found`, details: map[string]any{"name": "nope", "kind": "namespaces"}})
	})

	t.Run("J1c unknown resource", func(t *testing.T) {
		a := s.api(t, false)
		for _, p := range []string{"/api/v1/namespaces/default/widgets", "/apis/example.com/v1/widgets", "/apis/apps/v1/namespaces/default/nothing/x"} {
			checkStatus(t, a.get(p), wantStatus{code: 404, reason: "NotFound",
				message: "the server could not find the requested resource", details: map[string]any{}})
		}
	})

	t.Run("J2 AlreadyExists", func(t *testing.T) {
		a := s.api(t, false)
		a.mustCode(a.post(cms, cmJSON("dup", "")), 201)
		checkStatus(t, a.post(cms, cmJSON("dup", "")), wantStatus{code: 409, reason: "AlreadyExists",
			message: `configmaps "dup" already exists`, details: map[string]any{"name": "dup", "kind": "configmaps"}})
	})

	t.Run("J3 stale resourceVersion", func(t *testing.T) {
		a := s.api(t, false)
		created := a.mustCode(a.post(cms, cmJSON("rvtest", "")), 201)
		rv1 := created["metadata"].(map[string]any)["resourceVersion"].(string)
		updated := a.mustCode(a.put(cms+"/rvtest", cmJSON("rvtest", fmt.Sprintf(`"resourceVersion":%q,"labels":{"a":"b"}`, rv1))), 200)
		if rv2 := updated["metadata"].(map[string]any)["resourceVersion"].(string); rv2 == rv1 {
			t.Errorf("A5: update kept resourceVersion %s", rv1)
		}
		checkStatus(t, a.put(cms+"/rvtest", cmJSON("rvtest", fmt.Sprintf(`"resourceVersion":%q,"labels":{"a":"c"}`, rv1))), wantStatus{
			code: 409, reason: "Conflict",
			message: `Operation cannot be fulfilled on configmaps "rvtest": the object has been modified; please apply your changes to the latest version and try again`,
			details: map[string]any{"name": "rvtest", "kind": "configmaps"}})
	})

	t.Run("J4 Invalid name", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.post(cms, cmJSON("Bad_Name", "")), wantStatus{code: 422, reason: "Invalid",
			message: `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of`,
			prefix:  true, details: map[string]any{"name": "Bad_Name", "kind": "ConfigMap"},
			causes: []map[string]any{{"reason": "FieldValueInvalid", "field": "metadata.name"}}})
	})

	t.Run("A11 bad finalizer name", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.post(cms, cmJSON("badfin", `"finalizers":["foo"]`)), wantStatus{code: 422, reason: "Invalid",
			message: `ConfigMap "badfin" is invalid: metadata.finalizers[0]: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified`,
			details: map[string]any{"name": "badfin", "kind": "ConfigMap"},
			causes:  []map[string]any{{"reason": "FieldValueInvalid", "field": "metadata.finalizers[0]"}}})
	})

	t.Run("malformed JSON 400", func(t *testing.T) {
		a := s.api(t, false)
		r := a.post(cms, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":`)
		checkStatus(t, r, wantStatus{code: 400, reason: "BadRequest", message: r.json(t)["message"].(string)})
		if msg, _ := r.json(t)["message"].(string); msg == "" {
			t.Errorf("400 without a message: %s", r)
		}
	})

	t.Run("J10 namespace mismatch", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.post(cms, cmJSON("nsm", `"namespace":"kube-system"`)), wantStatus{code: 400, reason: "BadRequest",
			message: "the namespace of the provided object does not match the namespace sent on the request"})
	})

	t.Run("415 unknown content type", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.do("POST", cms, "text/plain", []byte(cmJSON("ct", ""))), wantStatus{code: 415, reason: "UnsupportedMediaType",
			message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"})
		checkStatus(t, a.do("PATCH", cms+"/dup", "application/x-unknown-patch", []byte(`{}`)), wantStatus{code: 415, reason: "UnsupportedMediaType",
			// Upstream also lists application/apply-patch+yaml; terminus
			// accepts server-side apply only from issue 8 on, and lists
			// what it accepts.
			message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"})
	})

	t.Run("413 body over 3 MiB", func(t *testing.T) {
		a := s.api(t, false)
		big := cmJSON("big", "")
		big = strings.Replace(big, `"k":"v"`, `"k":"`+strings.Repeat("x", 3*1024*1024+10)+`"`, 1)
		r := a.post(cms, big)
		checkStatus(t, r, wantStatus{code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is 3145728"})
	})

	t.Run("J6 method not allowed", func(t *testing.T) {
		a := s.api(t, false)
		w := wantStatus{code: 405, reason: "MethodNotAllowed",
			message: "the server does not allow this method on the requested resource", details: map[string]any{}}
		checkStatus(t, a.put(cms, cmJSON("x", "")), w)
		checkStatus(t, a.post(cms+"/dup", cmJSON("dup", "")), w)
	})

	t.Run("401 without a token", func(t *testing.T) {
		anon := s.api(t, true)
		for _, p := range []string{"/api/v1/namespaces", cms, "/apis/apps/v1/deployments", "/api", "/apis"} {
			checkStatus(t, anon.get(p), wantStatus{code: 401, reason: "Unauthorized", message: "Unauthorized"})
		}
		for _, p := range []string{"/healthz", "/livez", "/readyz"} {
			r := anon.get(p)
			if r.code != 200 || string(r.body) != "ok" {
				t.Errorf("anonymous GET %s: got %s, want HTTP 200: ok", p, r)
			}
		}
		r := anon.get("/version")
		v := anon.mustCode(r, 200)
		if gv, _ := v["gitVersion"].(string); !strings.HasPrefix(gv, "v1.37.") || v["major"] != "1" || v["minor"] != "37" {
			t.Errorf("/version: got %s", r.body)
		}
		// A wrong token is no better than none.
		a := s.api(t, false)
		req, _ := http.NewRequest("GET", a.base+cms, nil)
		req.Header.Set("Authorization", "Bearer not-the-token")
		cfg := rest.AnonymousClientConfig(s.restConfig(t))
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkStatus(t, response{code: resp.StatusCode, header: resp.Header, body: body},
			wantStatus{code: 401, reason: "Unauthorized", message: "Unauthorized"})
	})

	t.Run("J11 create with resourceVersion", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.post(cms, cmJSON("withrv", `"resourceVersion":"5"`)), wantStatus{code: 500,
			message: "resourceVersion should not be set on objects to be created"})
		if r := a.get(cms + "/withrv"); r.code != 404 {
			t.Errorf("the rejected object exists: %s", r)
		}
	})

	t.Run("A2 re-create a terminating object", func(t *testing.T) {
		a := s.api(t, false)
		a.mustCode(a.post(cms, cmJSON("f2", `"finalizers":["e2e.terminus.dev/hold"]`)), 201)
		// B6: a pending delete answers 200 with the object as now stored.
		del := a.mustCode(a.do("DELETE", cms+"/f2", "", nil), 200)
		md, _ := del["metadata"].(map[string]any)
		if del["kind"] != "ConfigMap" || md["deletionTimestamp"] == nil || md["deletionGracePeriodSeconds"] != float64(0) {
			t.Errorf("B6/A9: pending delete body: got %v", del)
		}
		checkStatus(t, a.post(cms, cmJSON("f2", "")), wantStatus{code: 409, reason: "AlreadyExists",
			message: `object is being deleted: configmaps "f2" already exists`, details: map[string]any{"name": "f2", "kind": "configmaps"}})

		// C5: removing the last finalizer deletes the object in the same
		// request: 200 with the submitted object (same resourceVersion), then 404.
		r := a.do("PATCH", cms+"/f2", "application/json-patch+json", []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`))
		patched := a.mustCode(r, 200)
		pmd, _ := patched["metadata"].(map[string]any)
		if pmd["resourceVersion"] != md["resourceVersion"] || pmd["finalizers"] != nil || pmd["deletionTimestamp"] != md["deletionTimestamp"] {
			t.Errorf("C5: answer metadata %v, want the terminating object's resourceVersion %v and deletionTimestamp %v, no finalizers",
				pmd, md["resourceVersion"], md["deletionTimestamp"])
		}
		checkStatus(t, a.get(cms+"/f2"), wantStatus{code: 404, reason: "NotFound", message: `configmaps "f2" not found`,
			details: map[string]any{"name": "f2", "kind": "configmaps"}})
		a.mustCode(a.post(cms, cmJSON("f2", "")), 201)
	})

	t.Run("B4 delete precondition mismatch", func(t *testing.T) {
		a := s.api(t, false)
		obj := a.mustCode(a.post(cms, cmJSON("f3", "")), 201)
		md := obj["metadata"].(map[string]any)
		uid, rv := md["uid"].(string), md["resourceVersion"].(string)
		const otherUID = "00000000-0000-0000-0000-000000000000"
		checkStatus(t, a.do("DELETE", cms+"/f3", "application/json", []byte(`{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"`+otherUID+`"}}`)),
			wantStatus{code: 409, reason: "Conflict",
				message: `Operation cannot be fulfilled on ConfigMap "f3": the UID in the precondition (` + otherUID + `) does not match the UID in record (` + uid + `). The object might have been deleted and then recreated`,
				details: map[string]any{"name": "f3", "kind": "ConfigMap"}})
		checkStatus(t, a.do("DELETE", cms+"/f3", "application/json", []byte(`{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"resourceVersion":"1"}}`)),
			wantStatus{code: 409, reason: "Conflict",
				message: `Operation cannot be fulfilled on ConfigMap "f3": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (` + rv + `). The object might have been modified`,
				details: map[string]any{"name": "f3", "kind": "ConfigMap"}})
		a.mustCode(a.get(cms+"/f3"), 200)

		// B6/J12: an immediate delete answers a success Status with the uid.
		r := a.do("DELETE", cms+"/f3", "application/json", []byte(`{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"`+uid+`"}}`))
		m := a.mustCode(r, 200)
		want := map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Success",
			"details": map[string]any{"name": "f3", "kind": "configmaps", "uid": uid}}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("J12 delete body:\n got %s\nwant %v", r.body, want)
		}
	})

	t.Run("I8 sendInitialEvents needs NotOlderThan", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.get(cms+"?watch=1&sendInitialEvents=true"), wantStatus{code: 422, reason: "Invalid",
			message: `ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan`})
	})
	// Last: on a server with the bug it marks default Terminating.
	t.Run("J5b protected namespace", func(t *testing.T) {
		a := s.api(t, false)
		checkStatus(t, a.do("DELETE", "/api/v1/namespaces/default", "", nil), wantStatus{code: 403, reason: "Forbidden",
			message: `namespaces "default" is forbidden: this namespace may not be deleted`, details: map[string]any{"name": "default", "kind": "namespaces"}})
	})
}
