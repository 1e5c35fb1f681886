package garbagecollector

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func TestSteps(t *testing.T) {
	t.Run("D7 background: owner deleted, dependent deleted with explicit Background", func(t *testing.T) {
		owner := obj(cmGVK, "ns", "owner", "o1")
		dep := obj(cmGVK, "ns", "dep", "d1", ownerRef(cmGVK, "owner", "o1", false))
		e := newStepEnv(t, dep)
		e.observe(addEvent, owner, nil)
		e.observe(addEvent, dep, nil)
		diff(t, "queue after adds", []string(nil), e.queued())
		if n := e.graphNode("o1"); n == nil || n.dependentsLength() != 1 {
			t.Fatalf("owner node = %v, want one dependent", n)
		}
		e.observe(deleteEvent, owner, nil)
		if e.graphNode("o1") != nil {
			t.Fatal("owner still in the graph")
		}
		diff(t, "queue after owner delete", []string{"dep"}, e.queued())
		e.processDelete()
		// The owner is in the absent cache: no GET for it.
		diff(t, "actions", []string{
			"get configmaps ns/dep",
			"delete configmaps ns/dep policy=Background uid=d1 rv=10",
		}, e.actions())
	})

	t.Run("D5 owner that never existed: virtual node verified, dependent deleted", func(t *testing.T) {
		dep := obj(cmGVK, "ns", "dep", "d1", ownerRef(cmGVK, "ghost", "g1", false))
		e := newStepEnv(t, dep)
		e.observe(addEvent, dep, nil)
		v := e.graphNode("g1")
		if v == nil || v.isObserved() {
			t.Fatalf("want a virtual owner node, got %v", v)
		}
		diff(t, "queue", []string{"ghost"}, e.queued())
		e.processDelete() // verifies the virtual owner: 404 → virtual delete
		if e.graphNode("g1") != nil {
			t.Fatal("virtual node not removed")
		}
		diff(t, "queue after verification", []string{"dep"}, e.queued())
		e.processDelete()
		diff(t, "actions", []string{
			"get configmaps ns/ghost",
			"get configmaps ns/dep",
			"delete configmaps ns/dep policy=Background uid=d1 rv=10",
		}, e.actions())
	})

	t.Run("D5 owner name exists with another uid: dangling", func(t *testing.T) {
		other := obj(cmGVK, "ns", "owner", "other-uid")
		dep := obj(cmGVK, "ns", "dep", "d1", ownerRef(cmGVK, "owner", "o1", false))
		e := newStepEnv(t, other, dep)
		e.observe(addEvent, dep, nil)
		e.processDelete()
		e.processDelete()
		diff(t, "actions", []string{
			"get configmaps ns/owner",
			"get configmaps ns/dep",
			"delete configmaps ns/dep policy=Background uid=d1 rv=10",
		}, e.actions())
	})

	t.Run("D6 two owners, one deleted: only that reference is pruned by strategic merge patch", func(t *testing.T) {
		o1 := obj(cmGVK, "ns", "o1", "u1")
		o2 := obj(cmGVK, "ns", "o2", "u2")
		dep := obj(cmGVK, "ns", "dep", "d1", ownerRef(cmGVK, "o1", "u1", false), ownerRef(cmGVK, "o2", "u2", false))
		e := newStepEnv(t, o2, dep)
		e.observe(addEvent, o1, nil)
		e.observe(addEvent, o2, nil)
		e.observe(addEvent, dep, nil)
		e.observe(deleteEvent, o1, nil)
		e.processDelete()
		diff(t, "actions", []string{
			"get configmaps ns/dep",
			"get configmaps ns/o2",
			`patch configmaps ns/dep strategic {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"u1"}],"uid":"d1"}}`,
		}, e.actions())
	})

	t.Run("D4 custom resource: 415 on strategic merge patch falls back to JSON merge patch with resourceVersion", func(t *testing.T) {
		o2 := obj(widgetGVK, "ns", "o2", "u2")
		dep := obj(widgetGVK, "ns", "dep", "d1", ownerRef(widgetGVK, "o1", "u1", false), ownerRef(widgetGVK, "o2", "u2", false))
		e := newStepEnv(t, o2, dep)
		e.meta.PrependReactor("patch", "widgets", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if a.(clienttesting.PatchAction).GetPatchType() == "application/strategic-merge-patch+json" {
				return true, nil, &apierrors.StatusError{ErrStatus: metav1.Status{
					Status: metav1.StatusFailure, Code: 415, Reason: metav1.StatusReasonUnsupportedMediaType,
				}}
			}
			return false, nil, nil
		})
		e.observe(addEvent, o2, nil)
		e.observe(addEvent, dep, nil)
		e.processDelete() // virtual o1: 404
		e.processDelete()
		diff(t, "actions", []string{
			"get widgets ns/o1",
			"get widgets ns/dep",
			"get widgets ns/o2",
			`patch widgets ns/dep strategic {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"u1"}],"uid":"d1"}}`,
			"get widgets ns/dep",
			`patch widgets ns/dep merge {"metadata":{"resourceVersion":"10","ownerReferences":[{"apiVersion":"stable.example.com/v1","kind":"Widget","name":"o2","uid":"u2"}]}}`,
		}, e.actions())
	})

	t.Run("D9 foreground: blocking dependent deleted and waited for until gone, then foregroundDeletion removed", func(t *testing.T) {
		owner := obj(cmGVK, "ns", "owner", "o1")
		blocking := obj(cmGVK, "ns", "blocking", "d1", ownerRef(cmGVK, "owner", "o1", true))
		blocking.Finalizers = []string{"example.com/hold"}
		loose := obj(cmGVK, "ns", "loose", "d2", ownerRef(cmGVK, "owner", "o1", false))
		deleting := terminating(owner, metav1.FinalizerDeleteDependents)
		e := newStepEnv(t, deleting, blocking, loose)
		e.observe(addEvent, owner, nil)
		e.observe(addEvent, blocking, nil)
		e.observe(addEvent, loose, nil)
		e.observe(updateEvent, deleting, owner)
		if !e.graphNode("o1").isDeletingDependents() {
			t.Fatal("owner not marked deletingDependents")
		}
		diff(t, "queue", []string{"blocking", "loose", "owner"}, e.queued())
		for e.c.attemptToDelete.Len() > 0 {
			e.processDelete()
		}
		got := e.actions()
		for _, want := range []string{
			"delete configmaps ns/blocking policy=Background uid=d1 rv=10",
			"delete configmaps ns/loose policy=Background uid=d2 rv=10",
		} {
			if !contains(got, want) {
				t.Errorf("actions lack %q: %q", want, got)
			}
		}
		for _, a := range got {
			if strings.HasPrefix(a, "patch") {
				t.Errorf("owner finalized while a blocking dependent exists: %q", a)
			}
		}
		// The blocking dependent is held by its own finalizer: it still
		// blocks, and the owner re-queues it.
		e.observe(updateEvent, terminating(blocking, "example.com/hold"), blocking)
		e.c.attemptToDelete.Add(e.graphNode("o1"))
		e.processDelete()
		diff(t, "actions while the dependent is held", []string{"get configmaps ns/owner"}, e.actions())
		diff(t, "queue while the dependent is held", []string{"blocking"}, e.queued())
		e.clearQueue()
		// The non-blocking dependent going away does not release the owner
		// by itself; the blocking one physically gone does.
		e.observe(deleteEvent, loose, nil)
		e.observe(deleteEvent, blocking, nil)
		diff(t, "queue after the blocking dependent is gone", []string{"owner"}, e.queued())
		e.processDelete()
		diff(t, "actions", []string{
			"get configmaps ns/owner",
			"get configmaps ns/owner",
			`patch configmaps ns/owner merge {"metadata":{"resourceVersion":"10","finalizers":[]}}`,
		}, e.actions())
	})

	t.Run("D10 orphan: references removed from every dependent, then the orphan finalizer", func(t *testing.T) {
		owner := obj(cmGVK, "ns", "owner", "o1")
		d1 := obj(cmGVK, "ns", "d1", "u1", ownerRef(cmGVK, "owner", "o1", true))
		d2 := obj(cmGVK, "ns", "d2", "u2", ownerRef(cmGVK, "owner", "o1", false), ownerRef(cmGVK, "other", "x", false))
		deleting := terminating(owner, "example.com/keep", metav1.FinalizerOrphanDependents)
		e := newStepEnv(t, deleting, d1, d2)
		e.observe(addEvent, owner, nil)
		e.observe(addEvent, d1, nil)
		e.observe(addEvent, d2, nil)
		e.clearQueue() // the virtual "other"
		e.observe(updateEvent, deleting, owner)
		if e.c.attemptToOrphan.Len() != 1 {
			t.Fatalf("attemptToOrphan has %d items, want 1", e.c.attemptToOrphan.Len())
		}
		e.processOrphan()
		got := e.actions()
		for _, want := range []string{
			`patch configmaps ns/d1 strategic {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"o1"}],"uid":"u1"}}`,
			`patch configmaps ns/d2 strategic {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"o1"}],"uid":"u2"}}`,
			`patch configmaps ns/owner merge {"metadata":{"resourceVersion":"10","finalizers":["example.com/keep"]}}`,
		} {
			if !contains(got, want) {
				t.Errorf("actions lack %q: %q", want, got)
			}
		}
		if last := got[len(got)-1]; last[:len("patch configmaps ns/owner")] != "patch configmaps ns/owner" {
			t.Errorf("the finalizer must go last; last action %q", last)
		}
	})

	t.Run("D11 finalizer removal retries a conflict on the clock", func(t *testing.T) {
		owner := obj(cmGVK, "ns", "owner", "o1")
		deleting := terminating(owner, metav1.FinalizerOrphanDependents)
		e := newStepEnv(t, deleting)
		conflicts := 1
		e.meta.PrependReactor("patch", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
			if conflicts > 0 {
				conflicts--
				return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "owner", errors.New("changed"))
			}
			return false, nil, nil
		})
		e.observe(updateEvent, deleting, owner)
		done := make(chan struct{})
		go func() { defer close(done); e.processOrphan() }()
		// The 10ms backoff runs on the fake clock: step it until done.
		waitFor(t, func() bool {
			select {
			case <-done:
				return true
			default:
				e.clock.Step(finalizerBackoffFirst)
				return false
			}
		})
		diff(t, "actions", []string{
			"get configmaps ns/owner",
			`patch configmaps ns/owner merge {"metadata":{"resourceVersion":"10","finalizers":[]}}`,
			"get configmaps ns/owner",
			`patch configmaps ns/owner merge {"metadata":{"resourceVersion":"10","finalizers":[]}}`,
		}, e.actions())
		if e.c.attemptToOrphan.NumRequeues(e.graphNode("o1")) != 0 {
			t.Error("item requeued despite success")
		}
	})

	t.Run("D12 owner observed in another namespace: Warning event and the dependent is deleted", func(t *testing.T) {
		owner := obj(cmGVK, "t2", "xowner", "o1")
		dep := obj(cmGVK, "t1", "dep", "d1", ownerRef(cmGVK, "xowner", "o1", false))
		e := newStepEnv(t, owner, dep)
		e.observe(addEvent, owner, nil)
		e.observe(addEvent, dep, nil)
		diff(t, "event", []string{
			`Warning OwnerRefInvalidNamespace ownerRef [v1/ConfigMap, namespace: t1, name: xowner, uid: o1] does not exist in namespace "t1"`,
		}, drain(e.rec))
		diff(t, "queue", []string{"dep"}, e.queued())
		e.processDelete()
		diff(t, "actions", []string{
			"get configmaps t1/dep",
			"get configmaps t1/xowner",
			"delete configmaps t1/dep policy=Background uid=d1 rv=10",
		}, e.actions())
	})

	t.Run("D13 cluster-scoped dependent of a namespaced owner: event, never deleted", func(t *testing.T) {
		owner := obj(cmGVK, "t1", "xowner", "o1")
		dep := obj(crGVK, "", "role", "d1", ownerRef(cmGVK, "xowner", "o1", false))
		e := newStepEnv(t, owner, dep)
		e.observe(addEvent, owner, nil)
		e.observe(addEvent, dep, nil)
		diff(t, "event", []string{
			`Warning OwnerRefInvalidNamespace ownerRef [v1/ConfigMap, namespace: , name: xowner, uid: o1] does not exist in namespace ""`,
		}, drain(e.rec))
		e.processDelete()
		diff(t, "actions", []string{"get clusterroles /role"}, e.actions())
		if e.c.attemptToDelete.Len() != 0 || e.c.attemptToDelete.NumRequeues(e.graphNode("d1")) != 0 {
			t.Error("D13 item must be forgotten, not retried")
		}
	})

	t.Run("D15 same uid, other name: verified at its own coordinates and dangling", func(t *testing.T) {
		owner := obj(cmGVK, "ns", "a", "o1")
		dep := obj(cmGVK, "ns", "dep", "d1", ownerRef(cmGVK, "b", "o1", false))
		e := newStepEnv(t, owner, dep)
		e.observe(addEvent, owner, nil)
		e.observe(addEvent, dep, nil)
		diff(t, "queue", []string{"dep"}, e.queued())
		e.processDelete()
		diff(t, "actions", []string{
			"get configmaps ns/dep",
			"get configmaps ns/b",
			"delete configmaps ns/dep policy=Background uid=d1 rv=10",
		}, e.actions())
	})

	t.Run("D16 unmappable reference: retried with backoff, never deleted, rediscovery asked", func(t *testing.T) {
		dep := obj(cmGVK, "ns", "dep", "d1", metav1.OwnerReference{APIVersion: "nope.example.com/v1", Kind: "Nope", Name: "n", UID: "n1"})
		e := newStepEnv(t, dep)
		e.observe(addEvent, dep, nil)
		e.processDelete() // the virtual owner cannot be mapped either
		if e.c.attemptToDelete.NumRequeues(e.graphNode("n1")) != 1 {
			t.Error("virtual owner not requeued with backoff")
		}
		e.c.attemptToDelete.Add(e.graphNode("d1"))
		e.processDelete()
		if e.c.attemptToDelete.NumRequeues(e.graphNode("d1")) != 1 {
			t.Error("dependent not requeued with backoff")
		}
		diff(t, "actions", []string{"get configmaps ns/dep"}, e.actions())
		select {
		case <-e.c.rediscover:
		default:
			t.Error("no rediscovery requested")
		}
	})

	t.Run("D4 no ownerReferences: nothing happens", func(t *testing.T) {
		o := obj(cmGVK, "ns", "lonely", "l1")
		e := newStepEnv(t, o)
		e.observe(addEvent, o, nil)
		e.c.attemptToDelete.Add(e.graphNode("l1"))
		e.processDelete()
		diff(t, "actions", []string{"get configmaps ns/lonely"}, e.actions())
	})

	t.Run("D4 Foreground for a dependent with dependents when its owner is waiting", func(t *testing.T) {
		owner := terminating(obj(cmGVK, "ns", "owner", "o1"), metav1.FinalizerDeleteDependents)
		mid := obj(cmGVK, "ns", "mid", "m1", ownerRef(cmGVK, "owner", "o1", true))
		leaf := obj(cmGVK, "ns", "leaf", "l1", ownerRef(cmGVK, "mid", "m1", true))
		e := newStepEnv(t, owner, mid, leaf)
		e.observe(addEvent, mid, nil)
		e.observe(addEvent, leaf, nil)
		e.observe(addEvent, owner, nil)
		e.clearQueue()
		e.c.attemptToDelete.Add(e.graphNode("m1"))
		e.processDelete()
		diff(t, "actions", []string{
			"get configmaps ns/mid",
			"get configmaps ns/owner",
			"delete configmaps ns/mid policy=Foreground uid=m1 rv=10",
		}, e.actions())
	})

	t.Run("D18 dependent carrying orphan is deleted with Orphan", func(t *testing.T) {
		dep := obj(cmGVK, "ns", "dep", "d1", ownerRef(cmGVK, "gone", "g1", false))
		dep.Finalizers = []string{metav1.FinalizerOrphanDependents}
		e := newStepEnv(t, dep)
		e.observe(addEvent, dep, nil)
		e.processDelete()
		e.processDelete()
		acts := e.actions()
		diff(t, "last action", "delete configmaps ns/dep policy=Orphan uid=d1 rv=10", acts[len(acts)-1])
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// drain returns the events the fake recorder holds.
func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// waitFor polls cond with a deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}
