package replicaset

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

func TestOwnersSelecting(t *testing.T) {
	named := func(name string, sel map[string]string, ns string) *appsv1.ReplicaSet {
		rs := mkRS(1)
		rs.Name, rs.UID, rs.Namespace = name, types.UID("uid-"+name), ns
		rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
		return rs
	}
	owners := []runtime.Object{
		named("by-app", map[string]string{"app": "a"}, "ns"),
		named("by-app-and-tier", map[string]string{"app": "a", "tier": "web"}, "ns"),
		named("empty", map[string]string{}, "ns"),
		named("other-app", map[string]string{"app": "b"}, "ns"),
		named("elsewhere", map[string]string{"app": "a"}, "other"),
	}
	f := newFixture(t, false, Config{}, nil, owners)
	got := func(p *corev1.Pod) []string {
		var out []string
		for _, rs := range f.c.ownersSelecting(p) {
			out = append(out, rs.Name)
		}
		return sortStrings(out)
	}
	if diff := cmp.Diff([]string{"by-app", "by-app-and-tier"}, got(mkPod("p"))); diff != "" {
		t.Errorf("owners (-want +got); an empty selector matches nothing:\n%s", diff)
	}
	if o := got(mkPod("p", podLabels(nil))); len(o) != 0 {
		t.Errorf("a pod without labels has owners %v", o)
	}
}

func TestResolveControllerRef(t *testing.T) {
	rs := mkRS(1)
	f := newFixture(t, false, Config{}, nil, objs(rs))
	for _, tt := range []struct {
		name string
		ref  metav1.OwnerReference
		want bool
	}{
		{"the owner", metav1.OwnerReference{Kind: "ReplicaSet", Name: "rs", UID: "uid-rs"}, true},
		{"another kind of the same name", metav1.OwnerReference{Kind: "ReplicationController", Name: "rs", UID: "uid-rs"}, false},
		{"a former owner of the same name", metav1.OwnerReference{Kind: "ReplicaSet", Name: "rs", UID: "uid-old"}, false},
		{"an absent owner", metav1.OwnerReference{Kind: "ReplicaSet", Name: "gone", UID: "uid-gone"}, false},
	} {
		if got := f.c.resolveControllerRef("ns", &tt.ref) != nil; got != tt.want {
			t.Errorf("%s: resolved %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPodEventsObserveExpectations(t *testing.T) {
	rs := mkRS(1)
	f := newFixture(t, false, Config{}, nil, objs(rs))
	e := f.c.expectations

	e.ExpectCreations("ns/rs", 1)
	f.c.addPod(mkPod("orphan"))
	if e.Satisfied("ns/rs") {
		t.Fatal("an orphan's creation counted as the owner's")
	}
	f.c.addPod(mkPod("p", owned("ReplicaSet", "rs", "uid-other")))
	if e.Satisfied("ns/rs") {
		t.Fatal("a pod of a former owner of the same name counted")
	}
	f.c.addPod(mkPod("p", ofRS))
	if !e.Satisfied("ns/rs") {
		t.Fatal("the owner's created pod was not observed")
	}

	e.ExpectDeletions("ns/rs", []string{"ns/a", "ns/b"})
	// A pod first seen terminating (a restart) is a deletion.
	f.c.addPod(mkPod("a", ofRS, terminating))
	// A resync (same resourceVersion) is no event.
	f.c.updatePod(mkPod("b", ofRS), mkPod("b", ofRS, terminating))
	if _, del, _ := e.Get("ns/rs"); del != 1 {
		t.Fatalf("awaited deletes = %d, want 1", del)
	}
	// A tombstone of a missed deletion counts.
	f.c.deletePod(cache.DeletedFinalStateUnknown{Key: "ns/b", Obj: mkPod("b", ofRS)})
	if !e.Satisfied("ns/rs") {
		t.Fatal("deletions not observed")
	}
}

func TestOwnerEventsForgetExpectations(t *testing.T) {
	rs := mkRS(1)
	f := newFixture(t, false, Config{}, nil, objs(rs))
	e := f.c.expectations
	e.ExpectCreations("ns/rs", 1)
	f.c.deleteOwner(cache.DeletedFinalStateUnknown{Key: "ns/rs", Obj: rs})
	if _, _, ok := e.Get("ns/rs"); ok {
		t.Error("a deleted owner's expectations were kept")
	}
	e.ExpectCreations("ns/rs", 1)
	recreated := rs.DeepCopy()
	recreated.UID = "uid-new"
	f.c.updateOwner(rs, recreated)
	if _, _, ok := e.Get("ns/rs"); ok {
		t.Error("an owner recreated under the same name kept the old one's expectations")
	}
}

func TestReplicationControllerConversion(t *testing.T) {
	rc := mkRC(3)
	rc.Spec.MinReadySeconds = 7
	rc.Status = corev1.ReplicationControllerStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 4,
		Conditions: []corev1.ReplicationControllerCondition{{Type: corev1.ReplicationControllerReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "m"}}}
	if diff := cmp.Diff(rc, rsToRC(rcToRS(rc))); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	rc.Spec.Selector = nil
	if rs := rcToRS(rc); rs.Spec.Selector != nil {
		t.Errorf("a nil selector map became %v; it must select nothing", rs.Spec.Selector)
	}
}
