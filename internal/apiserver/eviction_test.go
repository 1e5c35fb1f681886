package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestEvictionThroughClientGo(t *testing.T) {
	srv := newTestHandler(t)
	cs, _ := newTestClient(t, srv)
	ctx := context.Background()
	pods := cs.CoreV1().Pods("default")
	createTestPod(t, cs, "unscheduled")
	createTestPod(t, cs, "running", func(p *corev1.Pod) { p.Spec.NodeName = "n1" })

	// G1: an unscheduled pod goes at once.
	if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "unscheduled"}}); err != nil {
		t.Fatalf("evict: %v", err)
	}
	if _, err := pods.Get(ctx, "unscheduled", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicted unscheduled pod: %v", err)
	}
	// A scheduled pod is deleted gracefully with the Eviction's options.
	err := cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{
		ObjectMeta:    metav1.ObjectMeta{Name: "running", Namespace: "default"}, // client-go posts to the Eviction's namespace
		DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](7)},
	})
	if err != nil {
		t.Fatalf("evict: %v", err)
	}
	p, err := pods.Get(ctx, "running", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 7 {
		t.Fatalf("evicted running pod: deletionTimestamp %v grace %v", p.DeletionTimestamp, p.DeletionGracePeriodSeconds)
	}
	if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "nope"}}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicting a missing pod: got %v, want 404", err)
	}
}

func TestEvictionHTTP(t *testing.T) {
	srv := newTestHandler(t)
	cs, _ := newTestClient(t, srv)
	for _, name := range []string{"a", "b", "c"} {
		createTestPod(t, cs, name)
	}
	tests := []struct {
		name, path, body string
		wantCode         int
		wantMsg          string
	}{
		{"policy/v1 answers 201 with a success Status", "/api/v1/namespaces/default/pods/a/eviction",
			`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a"}}`, 201, ""},
		{"policy/v1beta1 is accepted", "/api/v1/namespaces/default/pods/b/eviction",
			`{"apiVersion":"policy/v1beta1","kind":"Eviction","metadata":{"name":"b"},"deleteOptions":{"gracePeriodSeconds":0}}`, 201, ""},
		{"dry run", "/api/v1/namespaces/default/pods/c/eviction?dryRun=All",
			`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"c"}}`, 201, ""},
		{"J10 namespace differs", "/api/v1/namespaces/default/pods/c/eviction",
			`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"c","namespace":"other"}}`, 400,
			"the namespace of the provided object does not match the namespace sent on the request"},
		{"another kind", "/api/v1/namespaces/default/pods/c/eviction",
			`{"apiVersion":"v1","kind":"Binding","metadata":{"name":"c"}}`, 400, ""},
		{"B2 bad propagation policy", "/api/v1/namespaces/default/pods/c/eviction",
			`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"c"},"deleteOptions":{"propagationPolicy":"Sideways"}}`, 422, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(srv, http.MethodPost, tc.path, "application/json", []byte(tc.body))
			checkResponse(t, rec)
			if rec.Code != tc.wantCode {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.wantCode)
			}
			var st metav1.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			if tc.wantCode == 201 && (st.Status != metav1.StatusSuccess || st.Code != 201) {
				t.Fatalf("got %s, want a success Status with code 201", rec.Body)
			}
			if tc.wantMsg != "" && st.Message != tc.wantMsg {
				t.Fatalf("message %q, want %q", st.Message, tc.wantMsg)
			}
		})
	}
	if _, err := cs.CoreV1().Pods("default").Get(context.Background(), "c", metav1.GetOptions{}); err != nil {
		t.Fatalf("dry-run eviction removed the pod: %v", err)
	}
}
