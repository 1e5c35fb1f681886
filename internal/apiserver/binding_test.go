package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// newTestClient serves srv over a local HTTP listener and returns a
// client-go clientset for it.
func newTestClient(t *testing.T, srv http.Handler) (*kubernetes.Clientset, *httptest.Server) {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	return cs, ts
}

func createTestPod(t *testing.T, cs kubernetes.Interface, name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
	}
	for _, m := range mutate {
		m(p)
	}
	out, err := cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBindingThroughClientGo(t *testing.T) {
	srv := newTestHandler(t)
	cs, _ := newTestClient(t, srv)
	ctx := context.Background()
	pods := cs.CoreV1().Pods("default")
	createTestPod(t, cs, "p")

	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("dry-run bind: %v", err)
	}
	if p, _ := pods.Get(ctx, "p", metav1.GetOptions{}); p.Spec.NodeName != "" {
		t.Fatalf("dry-run bind stored nodeName %q", p.Spec.NodeName)
	}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	p, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "n1" || len(p.Status.Conditions) != 1 || p.Status.Conditions[0].Type != corev1.PodScheduled || p.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("bound pod: nodeName %q conditions %+v", p.Spec.NodeName, p.Status.Conditions)
	}
	b.Target.Name = "n2"
	err = pods.Bind(ctx, b, metav1.CreateOptions{})
	want := `Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"`
	if !apierrors.IsConflict(err) || err.Error() != want {
		t.Fatalf("second bind: got %v, want 409 %q", err, want)
	}
}

func TestBindingHTTP(t *testing.T) {
	srv := newTestHandler(t)
	cs, _ := newTestClient(t, srv)
	for _, name := range []string{"a", "b", "c", "d"} {
		createTestPod(t, cs, name)
	}
	body := func(name, ns, node string) []byte {
		b, _ := json.Marshal(corev1.Binding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		})
		return b
	}
	tests := []struct {
		name, method, path string
		body               []byte
		wantCode           int
		wantMsg            string
	}{
		{"pods/binding answers 201 with a success Status", http.MethodPost, "/api/v1/namespaces/default/pods/a/binding", body("a", "", "n1"), 201, ""},
		{"legacy bindings binds the Binding's pod", http.MethodPost, "/api/v1/namespaces/default/bindings", body("b", "default", "n1"), 201, ""},
		{"legacy bindings without a name", http.MethodPost, "/api/v1/namespaces/default/bindings", body("", "", "n1"), 400, "Name parameter required."},
		{"J10 namespace differs from the URL", http.MethodPost, "/api/v1/namespaces/default/pods/c/binding", body("c", "other", "n1"), 400,
			"the namespace of the provided object does not match the namespace sent on the request"},
		{"J1 missing pod", http.MethodPost, "/api/v1/namespaces/default/pods/nope/binding", body("nope", "", "n1"), 404, `pods "nope" not found`},
		{"J6 GET on bindings", http.MethodGet, "/api/v1/namespaces/default/bindings", nil, 405, ""},
		{"J6 PUT on pods/binding", http.MethodPut, "/api/v1/namespaces/default/pods/d/binding", body("d", "", "n1"), 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(srv, tc.method, tc.path, "application/json", tc.body)
			checkResponse(t, rec)
			if rec.Code != tc.wantCode {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.wantCode)
			}
			var st metav1.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			if tc.wantCode == 201 {
				if st.Kind != "Status" || st.Status != metav1.StatusSuccess || st.Code != 201 {
					t.Fatalf("got %s, want a success Status with code 201", rec.Body)
				}
				return
			}
			if tc.wantMsg != "" && st.Message != tc.wantMsg {
				t.Fatalf("message %q, want %q", st.Message, tc.wantMsg)
			}
		})
	}
}

// TestBindingReachesTheNodeWatch: a node agent watches its pods with
// fieldSelector spec.nodeName=<node>; binding a pending pod to the node
// makes it enter that selection, which the watch reports as ADDED.
func TestBindingReachesTheNodeWatch(t *testing.T) {
	srv := newTestHandler(t)
	cs, _ := newTestClient(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods := cs.CoreV1().Pods("default")
	createTestPod(t, cs, "p")
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		p, isPod := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Added || !isPod || p.Name != "p" || p.Spec.NodeName != "n1" {
			t.Fatalf("got %s %#v, want ADDED of the bound pod", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no event for the bound pod")
	}
}
