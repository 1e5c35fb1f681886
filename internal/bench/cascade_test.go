package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The fake clientset has no garbage collector or namespace controller, so
// these tests play them: reactors see the benchmark's DELETE and a
// goroutine does what the controller would. Counts stay below the fake
// watcher's 100-event buffer.

var (
	cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	nsGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// fakeGC reacts to the DELETE of a bench owner that carries a
// propagationPolicy (cleanup's plain DELETEs fall through to the tracker).
type fakeGC struct {
	c *fake.Clientset
	// collect is how many dependents the "collector" processes; -1 is all.
	collect int
	// orphanDeletes makes the Orphan "collector" delete dependents instead.
	orphanDeletes bool

	mu       sync.Mutex
	policy   metav1.DeletionPropagation
	refs     []metav1.OwnerReference // as found on the dependents
	finished chan struct{}
}

func installFakeGC(t *testing.T, c *fake.Clientset, collect int) *fakeGC {
	g := &fakeGC{c: c, collect: collect, finished: make(chan struct{})}
	c.PrependReactor("delete", "configmaps", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		d := a.(k8stesting.DeleteAction)
		pp := d.GetDeleteOptions().PropagationPolicy
		if !strings.HasPrefix(d.GetName(), "bench-owner-") || pp == nil {
			return false, nil, nil
		}
		g.mu.Lock()
		g.policy = *pp
		g.mu.Unlock()
		ns, name := d.GetNamespace(), d.GetName()
		if *pp == metav1.DeletePropagationBackground {
			// The owner goes at once; dependents follow.
			go g.run(t, ns, name, false)
			return false, nil, nil
		}
		// Foreground and Orphan: the owner stays, marked, with the
		// finalizer the API server would add, until the collector is done.
		obj, err := c.Tracker().Get(cmGVR, ns, name)
		if err != nil {
			return true, nil, err
		}
		owner := obj.(*corev1.ConfigMap).DeepCopy()
		now := metav1.Now()
		owner.DeletionTimestamp = &now
		owner.Finalizers = []string{"foregroundDeletion"}
		if *pp == metav1.DeletePropagationOrphan {
			owner.Finalizers = []string{"orphan"}
		}
		if err := c.Tracker().Update(cmGVR, owner, ns); err != nil {
			return true, nil, err
		}
		go g.run(t, ns, name, true)
		return true, owner, nil
	})
	return g
}

// run processes the owner's dependents and, if removeOwner, the owner.
func (g *fakeGC) run(t *testing.T, ns, owner string, removeOwner bool) {
	defer close(g.finished)
	ctx := context.Background()
	cms := g.c.CoreV1().ConfigMaps(ns)
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	g.mu.Lock()
	policy := g.policy
	g.mu.Unlock()
	n := 0
	for _, cm := range list.Items {
		if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].Name != owner {
			continue
		}
		g.mu.Lock()
		g.refs = append(g.refs, cm.OwnerReferences[0])
		g.mu.Unlock()
		if g.collect >= 0 && n >= g.collect {
			continue
		}
		n++
		if policy == metav1.DeletePropagationOrphan && !g.orphanDeletes {
			cm.OwnerReferences = nil
			if _, err := cms.Update(ctx, &cm, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
			continue
		}
		if err := cms.Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	}
	if removeOwner && (g.collect < 0 || n < g.collect) {
		if err := g.c.Tracker().Delete(cmGVR, ns, owner); err != nil {
			t.Error(err)
		}
	}
}

func runCascadeTest(t *testing.T, c *fake.Clientset, o Options) (map[string]any, error) {
	t.Helper()
	var out bytes.Buffer
	err := runAPI(context.Background(), o.withDefaults(), &out, c, target{server: "fake"})
	t.Logf("%s", out.String())
	lines := readLines(t, &out)
	if len(lines) != 1 {
		t.Fatalf("got %d lines (err %v): %s", len(lines), err, out.String())
	}
	return lines[0], err
}

func TestCascadeScenarios(t *testing.T) {
	for _, tt := range []struct {
		scenario string
		policy   metav1.DeletionPropagation
	}{
		{ScenarioCascadeBackground, metav1.DeletePropagationBackground},
		{ScenarioCascadeForeground, metav1.DeletePropagationForeground},
		{ScenarioOrphan, metav1.DeletePropagationOrphan},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			c := newFakeClient()
			g := installFakeGC(t, c, -1)
			l, err := runCascadeTest(t, c, Options{Scenario: tt.scenario, Count: 40, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			<-g.finished
			if g.policy != tt.policy {
				t.Errorf("owner deleted with policy %q, want %q", g.policy, tt.policy)
			}
			if len(g.refs) != 40 {
				t.Fatalf("collector saw %d dependents, want 40", len(g.refs))
			}
			for _, r := range g.refs {
				wantBlock := tt.policy == metav1.DeletePropagationForeground
				if r.Kind != "ConfigMap" || r.APIVersion != "v1" || r.Controller == nil || *r.Controller ||
					(r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion) != wantBlock {
					t.Fatalf("ownerReference = %+v", r)
				}
			}
			if l["scenario"] != tt.scenario || l["count"] != 40.0 || l["timed_out"] != false || l["remaining"] != 0.0 ||
				l["errors"] != 0.0 || l["watch_relists"] != 0.0 {
				t.Errorf("line = %v", l)
			}
			elapsed := l["elapsed_ms"].(float64)
			first, _ := l["first_dependent_event_ms"].(float64)
			ownerGone, _ := l["owner_gone_ms"].(float64)
			if l["objects_per_sec"].(float64) <= 0 || first <= 0 || ownerGone <= 0 || first > elapsed || ownerGone > elapsed {
				t.Errorf("implausible timings: %v", l)
			}
			if tt.policy != metav1.DeletePropagationBackground && ownerGone != elapsed {
				// The owner goes last: its DELETED event ends the clock.
				t.Errorf("owner_gone_ms %v != elapsed_ms %v", ownerGone, elapsed)
			}
			assertClean(t, c)
		})
	}
}

func TestCascadeTimeoutReportsRemaining(t *testing.T) {
	for _, tt := range []struct {
		scenario      string
		collect       int
		wantRemaining float64
		ownerGone     bool
	}{
		// The owner is gone but 15 dependents are never collected.
		{ScenarioCascadeBackground, 10, 15, true},
		// Nothing happens: the owner stays with its foregroundDeletion
		// finalizer, which cleanup must remove.
		{ScenarioCascadeForeground, 0, 26, false},
		// Five orphaned, the owner stays with its orphan finalizer.
		{ScenarioOrphan, 5, 21, false},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			c := newFakeClient()
			g := installFakeGC(t, c, tt.collect)
			l, err := runCascadeTest(t, c, Options{Scenario: tt.scenario, Count: 25, Timeout: time.Second})
			var partial *incompleteError
			if !errors.As(err, &partial) || !strings.Contains(err.Error(), "timed out") {
				t.Fatalf("err = %v, want a timeout", err)
			}
			<-g.finished
			if l["timed_out"] != true || l["remaining"] != tt.wantRemaining || partial.remaining != int(tt.wantRemaining) {
				t.Errorf("line = %v, want %v remaining", l, tt.wantRemaining)
			}
			if gone := l["owner_gone_ms"] != nil; gone != tt.ownerGone {
				t.Errorf("owner_gone_ms = %v", l["owner_gone_ms"])
			}
			if e := l["elapsed_ms"].(float64); e <= 0 || e > 1000 {
				t.Errorf("elapsed_ms = %v, want within the 1s timeout", e)
			}
			assertClean(t, c)
		})
	}
}

func TestOrphanCountsDeletedDependents(t *testing.T) {
	c := newFakeClient()
	g := installFakeGC(t, c, -1)
	g.orphanDeletes = true
	l, err := runCascadeTest(t, c, Options{Scenario: ScenarioOrphan, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	<-g.finished
	if l["errors"] != 10.0 || !strings.Contains(l["first_error"].(string), "deleted under propagationPolicy Orphan") {
		t.Errorf("line = %v", l)
	}
	assertClean(t, c)
}

// A watch that fails (410 Gone, as after a compaction) is followed by a
// relist that notices what vanished meanwhile, and a new watch.
func TestCascadeRelistsAfterWatchError(t *testing.T) {
	c := newFakeClient()
	first := watch.NewFake()
	var watches atomic.Int64
	second := make(chan struct{})
	c.PrependWatchReactor("configmaps", func(k8stesting.Action) (bool, watch.Interface, error) {
		switch watches.Add(1) {
		case 1:
			return true, first, nil
		case 2:
			close(second) // the tracker registers it before the lock is released
		}
		return false, nil, nil
	})
	done := make(chan struct{})
	c.PrependReactor("delete", "configmaps", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		d := a.(k8stesting.DeleteAction)
		if !strings.HasPrefix(d.GetName(), "bench-owner-") || d.GetDeleteOptions().PropagationPolicy == nil {
			return false, nil, nil
		}
		ns := d.GetNamespace()
		go func() {
			defer close(done)
			// The owner's DELETED went to the tracker's watchers, not to
			// first: only the relist can tell it is gone.
			first.Error(&apierrors.NewResourceExpired("too old resource version").ErrStatus)
			<-second
			list, err := c.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			for _, cm := range list.Items {
				if err := c.CoreV1().ConfigMaps(ns).Delete(context.Background(), cm.Name, metav1.DeleteOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
		return false, nil, nil
	})
	l, err := runCascadeTest(t, c, Options{Scenario: ScenarioCascadeBackground, Count: 20})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if l["timed_out"] != false || l["watch_relists"] != 1.0 || l["remaining"] != 0.0 || l["owner_gone_ms"] == nil {
		t.Errorf("line = %v", l)
	}
	assertClean(t, c)
}

// fakeNamespaceController marks a deleted namespace Terminating and, if
// finish, deletes its ConfigMaps and then the namespace.
func fakeNamespaceController(t *testing.T, c *fake.Clientset, finish bool) <-chan struct{} {
	done := make(chan struct{})
	var once sync.Once
	c.PrependReactor("delete", "namespaces", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		name := a.(k8stesting.DeleteAction).GetName()
		obj, err := c.Tracker().Get(nsGVR, "", name)
		if err != nil {
			return true, nil, err
		}
		ns := obj.(*corev1.Namespace).DeepCopy()
		if ns.DeletionTimestamp != nil {
			return true, ns, nil
		}
		now := metav1.Now()
		ns.DeletionTimestamp = &now
		ns.Status.Phase = corev1.NamespaceTerminating
		if err := c.Tracker().Update(nsGVR, ns, ""); err != nil {
			return true, nil, err
		}
		once.Do(func() {
			go func() {
				defer close(done)
				if !finish {
					return
				}
				ctx := context.Background()
				list, err := c.CoreV1().ConfigMaps(name).List(ctx, metav1.ListOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				for _, cm := range list.Items {
					if err := c.CoreV1().ConfigMaps(name).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
						t.Error(err)
					}
				}
				if err := c.Tracker().Delete(nsGVR, "", name); err != nil {
					t.Error(err)
				}
			}()
		})
		return true, ns, nil
	})
	return done
}

func TestNamespaceDeleteScenario(t *testing.T) {
	for _, tt := range []struct {
		name      string
		o         Options
		count     any
		failWatch bool
		via       string
	}{
		{"configmaps", Options{Scenario: ScenarioNamespaceDelete, Count: 30, Namespace: "ignored"}, 30.0, false, "watch"},
		{"empty", Options{Scenario: ScenarioNamespaceDelete, Count: 0, CountSet: true}, 0.0, false, "watch"},
		{"poll", Options{Scenario: ScenarioNamespaceDelete, Count: 5}, 5.0, true, "poll"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient()
			if tt.failWatch {
				c.PrependWatchReactor("namespaces", func(k8stesting.Action) (bool, watch.Interface, error) {
					return true, nil, errors.New("no watch here")
				})
			}
			done := fakeNamespaceController(t, c, true)
			l, err := runCascadeTest(t, c, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			<-done
			wantErrors := 0.0
			if tt.failWatch {
				wantErrors = 1
			}
			if l["scenario"] != ScenarioNamespaceDelete || l["count"] != tt.count || l["timed_out"] != false || l["remaining"] != 0.0 ||
				l["observed_by"] != tt.via || l["errors"] != wantErrors || l["elapsed_ms"].(float64) <= 0 {
				t.Errorf("line = %v", l)
			}
			if ns := l["namespace"].(string); !strings.HasPrefix(ns, namespacePref) {
				t.Errorf("namespace = %q, want a fresh one", ns)
			}
			created := 0
			for _, a := range c.Actions() {
				if a.GetVerb() == "create" && a.GetResource().Resource == "namespaces" {
					created++
				}
			}
			if created != 1 {
				t.Errorf("%d namespaces created, want exactly the run's own", created)
			}
			assertClean(t, c)
		})
	}
}

func TestNamespaceDeleteTimeoutLeavesTerminating(t *testing.T) {
	c := newFakeClient()
	done := fakeNamespaceController(t, c, false)
	l, err := runCascadeTest(t, c, Options{Scenario: ScenarioNamespaceDelete, Count: 12, Timeout: time.Second})
	var partial *incompleteError
	if !errors.As(err, &partial) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	<-done
	if l["timed_out"] != true || l["remaining"] != 12.0 || l["namespace_phase"] != "Terminating" {
		t.Errorf("line = %v", l)
	}
	ns := l["namespace"].(string)
	got, err := c.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil || got.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("namespace %s: %v, %v; want it left Terminating", ns, got, err)
	}
	cms, err := c.CoreV1().ConfigMaps(metav1.NamespaceAll).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(cms.Items) != 0 {
		t.Errorf("ConfigMaps left: %v, %v", cms, err)
	}
}

// A failed setup removes its namespace and objects without waiting.
func TestNamespaceDeleteSetupFailureCleansUp(t *testing.T) {
	c := newFakeClient()
	var n atomic.Int64
	c.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if n.Add(1) == 3 {
			return true, nil, errors.New("injected failure")
		}
		return false, nil, nil
	})
	err := runAPI(context.Background(), Options{Scenario: ScenarioNamespaceDelete, Count: 8, Concurrency: 2}.withDefaults(), &bytes.Buffer{}, c, target{server: "fake"})
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err = %v", err)
	}
	assertClean(t, c)
}
