package garbagecollector_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/garbagecollector"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// eventually polls cond until it holds or 30s pass.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

type env struct {
	t    *testing.T
	ctx  context.Context
	kube kubernetes.Interface
	reg  *prometheus.Registry
}

// counter sums a counter family from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				if c := m.GetCounter(); c != nil {
					sum += c.GetValue()
				} else if g := m.GetGauge(); g != nil {
					sum += g.GetValue()
				}
			}
		}
	}
	return sum
}

// TestIntegration runs the GC against an in-process terminus server.
func TestIntegration(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	kube, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	md, err := metadata.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	gc, err := garbagecollector.New(garbagecollector.Config{
		Metadata: md, Discovery: kube.Discovery(), Client: kube, Registerer: reg, Workers: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	eventually(t, "all monitors synced", func() (bool, error) { return gc.Ready() == nil, nil })
	e := &env{t: t, ctx: t.Context(), kube: kube, reg: reg}
	if counter(t, reg, "terminus_gc_monitor_synced") < 1 {
		t.Error("terminus_gc_monitor_synced reports no synced monitor")
	}
	t.Cleanup(func() {
		if counter(t, reg, "terminus_gc_deletes_total") == 0 || counter(t, reg, "terminus_gc_orphans_total") == 0 {
			t.Error("deletes and orphans were not counted")
		}
	})

	t.Run("D7 background cascade of a ConfigMap owner with N dependents", func(t *testing.T) {
		ns := e.namespace(t, "bg")
		owner := e.cm(t, ns, "owner", nil)
		const n = 20
		for i := range n {
			e.cm(t, ns, fmt.Sprintf("dep-%d", i), []metav1.OwnerReference{ref(owner, false)})
		}
		e.delete(t, ns, "owner", metav1.DeletePropagationBackground)
		eventually(t, "dependents collected", func() (bool, error) {
			l, err := kube.CoreV1().ConfigMaps(ns).List(e.ctx, metav1.ListOptions{})
			return err == nil && len(l.Items) == 0, err
		})
	})

	t.Run("D9 foreground waits for a blockOwnerDeletion dependent held by its own finalizer", func(t *testing.T) {
		ns := e.namespace(t, "fg")
		owner := e.cm(t, ns, "owner", nil)
		e.cm(t, ns, "held", []metav1.OwnerReference{ref(owner, true)}, "example.com/hold")
		e.cm(t, ns, "loose", []metav1.OwnerReference{ref(owner, false)})
		e.delete(t, ns, "owner", metav1.DeletePropagationForeground)
		eventually(t, "held dependent terminating and loose one gone", func() (bool, error) {
			h, err := e.get(ns, "held")
			if err != nil || h == nil || h.DeletionTimestamp == nil {
				return false, err
			}
			l, err := e.get(ns, "loose")
			return l == nil, err
		})
		o, err := e.get(ns, "owner")
		if err != nil || o == nil {
			t.Fatalf("owner gone while a blocking dependent exists (err %v)", err)
		}
		if !slices.Contains(o.Finalizers, metav1.FinalizerDeleteDependents) {
			t.Fatalf("owner finalizers = %v, want foregroundDeletion", o.Finalizers)
		}
		h, err := e.get(ns, "held")
		if err != nil || h == nil {
			t.Fatalf("held dependent: %v", err)
		}
		patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q,"finalizers":null}}`, h.ResourceVersion)
		if _, err := kube.CoreV1().ConfigMaps(ns).Patch(e.ctx, "held", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "owner gone after the dependent", func() (bool, error) {
			o, err := e.get(ns, "owner")
			return o == nil, err
		})
	})

	t.Run("D10 orphan keeps the dependents without the reference", func(t *testing.T) {
		ns := e.namespace(t, "orphan")
		owner := e.cm(t, ns, "owner", nil)
		other := e.cm(t, ns, "other", nil)
		e.cm(t, ns, "d1", []metav1.OwnerReference{ref(owner, true)})
		e.cm(t, ns, "d2", []metav1.OwnerReference{ref(owner, false), ref(other, false)})
		e.delete(t, ns, "owner", metav1.DeletePropagationOrphan)
		eventually(t, "owner gone", func() (bool, error) {
			o, err := e.get(ns, "owner")
			return o == nil, err
		})
		for name, want := range map[string][]types.UID{"d1": nil, "d2": {other.UID}} {
			d, err := e.get(ns, name)
			if err != nil || d == nil {
				t.Fatalf("%s: gone or error %v", name, err)
			}
			if got := uids(d.OwnerReferences); !slices.Equal(got, want) {
				t.Errorf("%s owner uids = %v, want %v", name, got, want)
			}
		}
	})

	t.Run("D6 two owners, one deleted: only its reference is pruned", func(t *testing.T) {
		ns := e.namespace(t, "two")
		o1 := e.cm(t, ns, "o1", nil)
		o2 := e.cm(t, ns, "o2", nil)
		e.cm(t, ns, "dep", []metav1.OwnerReference{ref(o1, false), ref(o2, false)})
		e.delete(t, ns, "o1", metav1.DeletePropagationBackground)
		eventually(t, "reference to o1 pruned", func() (bool, error) {
			d, err := e.get(ns, "dep")
			if err != nil || d == nil {
				return false, fmt.Errorf("dependent gone or error: %v", err)
			}
			return slices.Equal(uids(d.OwnerReferences), []types.UID{o2.UID}), nil
		})
	})

	t.Run("D5 owner that never existed, or exists with another uid: dependent collected", func(t *testing.T) {
		ns := e.namespace(t, "absent")
		e.cm(t, ns, "never", []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "ghost", UID: "6a1b9d1e-0000-4000-8000-000000000001"}})
		e.cm(t, ns, "impostor", nil)
		e.cm(t, ns, "wrong-uid", []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "impostor", UID: "6a1b9d1e-0000-4000-8000-000000000002"}})
		eventually(t, "both dependents collected", func() (bool, error) {
			a, err := e.get(ns, "never")
			if err != nil {
				return false, err
			}
			b, err := e.get(ns, "wrong-uid")
			return a == nil && b == nil, err
		})
	})

	t.Run("D12 owner in another namespace: collected with an OwnerRefInvalidNamespace event", func(t *testing.T) {
		ns1, ns2 := e.namespace(t, "t1"), e.namespace(t, "t2")
		owner := e.cm(t, ns2, "xowner", nil)
		dep := e.cm(t, ns1, "dep", []metav1.OwnerReference{ref(owner, false)})
		eventually(t, "dependent collected", func() (bool, error) {
			d, err := e.get(ns1, "dep")
			return d == nil, err
		})
		want := fmt.Sprintf(`ownerRef [v1/ConfigMap, namespace: %s, name: xowner, uid: %s] does not exist in namespace %q`, ns1, owner.UID, ns1)
		eventually(t, "event recorded", func() (bool, error) {
			l, err := kube.CoreV1().Events(ns1).List(e.ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, ev := range l.Items {
				if ev.Reason == "OwnerRefInvalidNamespace" && ev.InvolvedObject.UID == dep.UID {
					if ev.Type != corev1.EventTypeWarning || ev.Source.Component != garbagecollector.EventSourceComponent || ev.Message != want {
						return false, fmt.Errorf("event %+v", ev)
					}
					return true, nil
				}
			}
			return false, nil
		})
	})
}

func (e *env) namespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := e.kube.CoreV1().Namespaces().Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func (e *env) cm(t *testing.T, ns, name string, owners []metav1.OwnerReference, finalizers ...string) *corev1.ConfigMap {
	t.Helper()
	cm, err := e.kube.CoreV1().ConfigMaps(ns).Create(e.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, OwnerReferences: owners, Finalizers: finalizers,
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// get returns the ConfigMap, or nil if it is gone.
func (e *env) get(ns, name string) (*corev1.ConfigMap, error) {
	cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(e.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return cm, err
}

func (e *env) delete(t *testing.T, ns, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := e.kube.CoreV1().ConfigMaps(ns).Delete(e.ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
}

func ref(owner *corev1.ConfigMap, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}
	if block {
		r.BlockOwnerDeletion = new(true)
	}
	return r
}

func uids(refs []metav1.OwnerReference) []types.UID {
	var out []types.UID
	for _, r := range refs {
		out = append(out, r.UID)
	}
	return out
}
