package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Obj is a decoded JSON object.
type Obj = map[string]any

// Resp is one HTTP answer.
type Resp struct {
	Method, Path string
	Code         int
	Header       http.Header
	Body         []byte
}

func (r Resp) String() string {
	return fmt.Sprintf("%s %s → HTTP %d: %s", r.Method, r.Path, r.Code, bytes.TrimSpace(r.Body))
}

// Warnings returns the texts of the response's Warning headers.
func (r Resp) Warnings() []string {
	ws, _ := utilnet.ParseWarningHeaders(r.Header.Values("Warning"))
	var out []string
	for _, w := range ws {
		out = append(out, w.Text)
	}
	return out
}

const (
	jsonType  = "application/json"
	mergeType = "application/merge-patch+json"
	tableType = "application/json;as=Table;v=v1;g=meta.k8s.io"
)

// Do sends one request. body is nil, a string, []byte, or anything else
// (encoded as JSON). contentType defaults to application/json.
func (h *H) Do(method, path, contentType string, body any) Resp {
	return h.DoAccept(method, path, contentType, jsonType, body)
}

// DoAccept is Do with an explicit Accept header.
func (h *H) DoAccept(method, path, contentType, accept string, body any) Resp {
	h.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.Fatalf("encoding request body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		h.Fatal(err)
	}
	if rd != nil {
		if contentType == "" {
			contentType = jsonType
		}
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", accept)
	resp, err := h.hc.Do(req)
	if err != nil {
		h.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return Resp{Method: method, Path: path, Code: resp.StatusCode, Header: resp.Header, Body: data}
}

func (h *H) Get(path string) Resp         { h.Helper(); return h.Do("GET", path, "", nil) }
func (h *H) Post(path string, b any) Resp { h.Helper(); return h.Do("POST", path, "", b) }
func (h *H) Put(path string, b any) Resp  { h.Helper(); return h.Do("PUT", path, "", b) }
func (h *H) Merge(path string, b any) Resp {
	h.Helper()
	return h.Do("PATCH", path, mergeType, b)
}

// Delete sends DELETE with an optional DeleteOptions body (nil: no body).
func (h *H) Delete(path string, opts any) Resp {
	h.Helper()
	return h.Do("DELETE", path, "", opts)
}

// Want fails the scenario unless r has the given status code, and returns
// the decoded body.
func (h *H) Want(r Resp, code int) Obj {
	h.Helper()
	if r.Code != code {
		h.Fatalf("want HTTP %d, got %s", code, r)
	}
	return decode(h, r.Body)
}

func decode(h *H, b []byte) Obj {
	h.Helper()
	var o Obj
	if err := json.Unmarshal(b, &o); err != nil {
		h.Fatalf("body is not a JSON object (%v): %s", err, b)
	}
	return o
}

// WantStatus fails unless r's code is want.Code (or 200 for a success
// Status without code) and its body equals want as JSON, field by field.
func (h *H) WantStatus(r Resp, want metav1.Status) {
	h.Helper()
	code := int(want.Code)
	if code == 0 {
		code = http.StatusOK
	}
	want.Kind, want.APIVersion = "Status", "v1"
	got := h.Want(r, code)
	h.Equal(fmt.Sprintf("%s %s body", r.Method, r.Path), got, toObj(h, want))
}

// CheckStatus is WantStatus that reports a mismatch and lets the scenario go on.
func (h *H) CheckStatus(r Resp, want metav1.Status) {
	h.Helper()
	code := int(want.Code)
	if code == 0 {
		code = http.StatusOK
	}
	want.Kind, want.APIVersion = "Status", "v1"
	if r.Code != code {
		h.Errorf("want HTTP %d with %s, got %s", code, js(want), r)
		return
	}
	h.Equal(fmt.Sprintf("%s %s body", r.Method, r.Path), decode(h, r.Body), toObj(h, want))
}

// Equal compares two JSON-like values structurally.
func (h *H) Equal(what string, got, want any) {
	h.Helper()
	if !reflect.DeepEqual(got, want) {
		h.Errorf("%s:\n got: %s\nwant: %s", what, js(got), js(want))
	}
}

func toObj(h *H, v any) Obj {
	h.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		h.Fatal(err)
	}
	return decode(h, data)
}

func js(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(data)
}

// --- paths ---

// P is the path of a core namespaced resource in the scenario's namespace:
// P("configmaps"), P("configmaps", "x"), P("pods", "p", "status").
func (h *H) P(resource string, rest ...string) string {
	return h.GP("", "v1", resource, rest...)
}

// GP is P for a group resource ("" group means core).
func (h *H) GP(group, version, resource string, rest ...string) string {
	prefix := "/apis/" + group + "/" + version
	if group == "" {
		prefix = "/api/" + version
	}
	return strings.Join(append([]string{prefix, "namespaces", h.NS, resource}, rest...), "/")
}

// NSPath is the path of a Namespace object (and its subresources).
func NSPath(name string, rest ...string) string {
	return strings.Join(append([]string{"/api/v1/namespaces", name}, rest...), "/")
}

// --- JSON accessors ---

// F returns the value at a path of map keys, or nil.
func F(o Obj, path ...string) any {
	var cur any = o
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// S returns the string at path, or "".
func S(o Obj, path ...string) string {
	s, _ := F(o, path...).(string)
	return s
}

// N returns the number at path and whether it is present.
func N(o Obj, path ...string) (int64, bool) {
	f, ok := F(o, path...).(float64)
	return int64(f), ok
}

func RV(o Obj) string   { return S(o, "metadata", "resourceVersion") }
func UID(o Obj) string  { return S(o, "metadata", "uid") }
func Name(o Obj) string { return S(o, "metadata", "name") }

// Finalizers returns metadata.finalizers (nil when absent or empty).
func Finalizers(o Obj) []string {
	l, _ := F(o, "metadata", "finalizers").([]any)
	var out []string
	for _, v := range l {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// DeletionTime parses metadata.deletionTimestamp; ok is false when absent.
func DeletionTime(h *H, o Obj) (time.Time, bool) {
	h.Helper()
	s := S(o, "metadata", "deletionTimestamp")
	if s == "" {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		h.Fatalf("deletionTimestamp %q: %v", s, err)
	}
	return ts, true
}

// rvLess compares two resourceVersions numerically (A5: decimal strings).
func rvLess(h *H, a, b string) bool {
	h.Helper()
	var x, y uint64
	if _, err := fmt.Sscan(a, &x); err != nil {
		h.Fatalf("resourceVersion %q: %v", a, err)
	}
	if _, err := fmt.Sscan(b, &y); err != nil {
		h.Fatalf("resourceVersion %q: %v", b, err)
	}
	return x < y
}

func typesUID(s string) types.UID { return types.UID(s) }
