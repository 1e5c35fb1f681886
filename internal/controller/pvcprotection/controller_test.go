package pvcprotection

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func terminating(c *corev1.PersistentVolumeClaim) {
	c.DeletionTimestamp = &metav1.Time{Time: time.Unix(1000, 0)}
}

func finalizers(f ...string) func(*corev1.PersistentVolumeClaim) {
	return func(c *corev1.PersistentVolumeClaim) { c.Finalizers = f }
}

// newTestController builds a controller whose informers list from cached
// and whose client (live reads and writes) is live, so that a test can
// show the cache and the API server different pods.
func newTestController(t *testing.T, cached, live []runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	cacheClient := fake.NewClientset(cached...)
	liveClient := fake.NewClientset(live...)
	f := informers.NewSharedInformerFactory(cacheClient, 0)
	c, err := New(Config{Client: liveClient, Informers: f, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		f.Shutdown()
	})
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache of %v did not sync", typ)
		}
	}
	return c, liveClient
}

func TestSync(t *testing.T) {
	scheduled := pod("user", "node", withClaim("data"))
	tests := []struct {
		name       string
		pvc        *corev1.PersistentVolumeClaim
		cachePods  []*corev1.Pod
		livePods   []*corev1.Pod
		want       []string
		wantLists  int
		wantUpdate bool
	}{
		{
			name: "F1 a live claim without the finalizer gets it",
			pvc:  claim("data", finalizers("example.com/keep")),
			want: []string{"example.com/keep", Finalizer}, wantUpdate: true,
		},
		{
			name: "F1 a live claim with the finalizer is left alone",
			pvc:  claim("data", finalizers(Finalizer)),
			want: []string{Finalizer},
		},
		{
			name: "F1 a terminating claim without the finalizer is left alone",
			pvc:  claim("data", terminating, finalizers("example.com/keep")),
			want: []string{"example.com/keep"},
		},
		{
			name:      "F1 a terminating claim no pod uses loses the finalizer after a live list",
			pvc:       claim("data", terminating, finalizers("example.com/keep", Finalizer)),
			want:      []string{"example.com/keep"},
			wantLists: 1, wantUpdate: true,
		},
		{
			name:      "F1 a scheduled pod in the cache holds the claim without a live list",
			pvc:       claim("data", terminating, finalizers(Finalizer)),
			cachePods: []*corev1.Pod{scheduled},
			livePods:  []*corev1.Pod{scheduled},
			want:      []string{Finalizer},
		},
		{
			name:      "F1 a Succeeded scheduled pod holds the claim",
			pvc:       claim("data", terminating, finalizers(Finalizer)),
			cachePods: []*corev1.Pod{pod("done", "node", withClaim("data"), phase(corev1.PodSucceeded))},
			want:      []string{Finalizer},
		},
		{
			name:      "F1 a pod the cache has not seen yet holds the claim",
			pvc:       claim("data", terminating, finalizers(Finalizer)),
			livePods:  []*corev1.Pod{scheduled},
			want:      []string{Finalizer},
			wantLists: 1,
		},
		{
			name:      "F1 a pod already gone from the API server but still cached holds the claim until the cache catches up",
			pvc:       claim("data", terminating, finalizers(Finalizer)),
			cachePods: []*corev1.Pod{scheduled},
			want:      []string{Finalizer},
		},
		{
			name:      "F1 an unscheduled pod does not hold the claim",
			pvc:       claim("data", terminating, finalizers(Finalizer)),
			cachePods: []*corev1.Pod{pod("pending", "", withClaim("data"))},
			livePods:  []*corev1.Pod{pod("pending", "", withClaim("data"))},
			want:      nil,
			wantLists: 1, wantUpdate: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cached := []runtime.Object{tt.pvc.DeepCopy()}
			for _, p := range tt.cachePods {
				cached = append(cached, p.DeepCopy())
			}
			live := []runtime.Object{tt.pvc.DeepCopy()}
			for _, p := range tt.livePods {
				live = append(live, p.DeepCopy())
			}
			c, client := newTestController(t, cached, live)
			if err := c.sync(context.Background(), ns, tt.pvc.Name, &livePods{}); err != nil {
				t.Fatalf("sync: %v", err)
			}
			got, err := client.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), tt.pvc.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Finalizers, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("finalizers (-want +got):\n%s", diff)
			}
			var lists, updates int
			for _, a := range client.Actions() {
				switch {
				case a.GetVerb() == "list" && a.GetResource().Resource == "pods":
					lists++
				case a.GetVerb() == "update":
					updates++
				}
			}
			if lists != tt.wantLists {
				t.Errorf("live pod lists = %d, want %d", lists, tt.wantLists)
			}
			if (updates > 0) != tt.wantUpdate {
				t.Errorf("updates = %d, want update %v", updates, tt.wantUpdate)
			}
		})
	}
}

func TestSyncMissingClaim(t *testing.T) {
	c, client := newTestController(t, nil, nil)
	if err := c.sync(context.Background(), ns, "gone", &livePods{}); err != nil {
		t.Fatalf("sync of a missing claim: %v", err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Errorf("%d API calls for a missing claim, want none", n)
	}
}

// TestOneLiveListPerBatch checks that the claims of one namespace batch
// share one live pod LIST.
func TestOneLiveListPerBatch(t *testing.T) {
	var objs []runtime.Object
	for _, n := range []string{"a", "b", "c"} {
		objs = append(objs, claim(n, terminating, finalizers(Finalizer)))
	}
	c, client := newTestController(t, objs, objs)
	live := &livePods{}
	for _, n := range []string{"a", "b", "c"} {
		if err := c.sync(context.Background(), ns, n, live); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	for _, a := range client.Actions() {
		if a.GetVerb() == "list" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("live lists = %d, want 1", n)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without a client succeeded")
	}
	client := fake.NewClientset()
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	if _, err := New(Config{Client: client, Informers: f, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Client: client, Informers: f, Registerer: reg}); err == nil {
		t.Error("a second controller on the same registerer succeeded")
	}
}

// TestRunRequeuesOnPodDelete runs the controller on a fake client: the
// claim is held while its pod exists and released by the pod's delete
// event.
func TestRunRequeuesOnPodDelete(t *testing.T) {
	client := fake.NewClientset(
		claim("data", terminating, finalizers(Finalizer)),
		pod("user", "node", withClaim("data"), phase(corev1.PodSucceeded)),
		claim("fresh"),
	)
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: f})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	f.Start(ctx.Done())
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Shutdown()
	}()
	get := func(name string) *corev1.PersistentVolumeClaim {
		pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pvc
	}
	waitFor(t, "F1 a live claim gets the finalizer", func() bool { return slices.Contains(get("fresh").Finalizers, Finalizer) })
	if !slices.Contains(get("data").Finalizers, Finalizer) {
		t.Fatal("F1 a claim used by a Succeeded scheduled pod lost its finalizer")
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, "user", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "F1 the pod's delete releases the claim", func() bool { return !slices.Contains(get("data").Finalizers, Finalizer) })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}
