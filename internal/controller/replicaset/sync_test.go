package replicaset

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

func TestSyncCreatesMissingReplicasOnce(t *testing.T) {
	rs := mkRS(3)
	f := newFixture(t, false, Config{}, objs(rs), objs(rs))
	writes, events, err := f.sync(t, "ns/rs")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create pods", "create pods", "create pods", "update replicasets/status"}
	if diff := cmp.Diff(want, writes); diff != "" {
		t.Fatalf("writes (-want +got):\n%s", diff)
	}
	if len(events) != 3 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: rs-") {
		t.Errorf("events = %q", events)
	}
	created := f.created(t)
	wantRef := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "uid-rs",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	for _, p := range created {
		if diff := cmp.Diff(wantRef, p.OwnerReferences); diff != "" {
			t.Errorf("D8 ownerReferences (-want +got):\n%s", diff)
		}
		if p.GenerateName != "rs-" || p.Labels["tier"] != "web" {
			t.Errorf("pod %s: generateName %q labels %v", p.Name, p.GenerateName, p.Labels)
		}
	}
	if s := f.lastStatus(); s == nil || s.Replicas != 0 || s.ObservedGeneration != 1 {
		t.Errorf("status = %+v", s)
	}

	// The informer has not shown the creates yet: the next sync waits.
	f.cacheStatus(t)
	writes, _, err = f.sync(t, "ns/rs")
	if err != nil || len(writes) != 0 {
		t.Fatalf("a sync before the creates were observed: writes %v, err %v", writes, err)
	}
	// The informer shows them: nothing left to create; status follows.
	for _, p := range created {
		p.UID = types.UID("uid-" + p.Name)
		f.cache(t, p)
		f.c.addPod(p)
	}
	writes, _, err = f.sync(t, "ns/rs")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"update replicasets/status"}, writes); diff != "" {
		t.Errorf("writes after the creates were observed (-want +got):\n%s", diff)
	}
	if s := f.lastStatus(); s == nil || s.Replicas != 3 || s.FullyLabeledReplicas != 3 {
		t.Errorf("status = %+v", s)
	}
}

func TestSyncBurst(t *testing.T) {
	rs := mkRS(8)
	f := newFixture(t, false, Config{BurstReplicas: 5}, objs(rs), objs(rs))
	writes, _, err := f.sync(t, "ns/rs")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.created(t)); n != 5 {
		t.Errorf("created %d pods in one sync, want the burst of 5 (writes %v)", n, writes)
	}
	if add, _, _ := f.c.expectations.Get("ns/rs"); add != 5 {
		t.Errorf("expected creates = %d, want 5", add)
	}
}

func TestSyncSlowStartStopsAtFirstError(t *testing.T) {
	rs := mkRS(10)
	f := newFixture(t, false, Config{}, objs(rs), objs(rs))
	// The calls of a batch run in parallel.
	var calls atomic.Int64
	f.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if calls.Add(1) < 3 {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "rs-", errString("exceeded quota: q"))
	})
	_, events, err := f.sync(t, "ns/rs")
	if !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want the create's Forbidden", err)
	}
	// Batches of 1 and 2; the second fails: 3 calls, not 10.
	if n := calls.Load(); n != 3 {
		t.Errorf("create calls = %d, want 3", n)
	}
	if add, _, _ := f.c.expectations.Get("ns/rs"); add != 2 {
		t.Errorf("expected creates = %d, want the 2 that succeeded", add)
	}
	want := `Warning FailedCreate Error creating: pods "rs-" is forbidden: exceeded quota: q`
	if events = sortStrings(events); len(events) != 3 || events[2] != want {
		t.Errorf("events = %q, want two creates and %q", events, want)
	}
	s := f.lastStatus()
	if s == nil || len(s.Conditions) != 1 {
		t.Fatalf("status = %+v", s)
	}
	c := s.Conditions[0]
	if c.Type != appsv1.ReplicaSetReplicaFailure || c.Status != corev1.ConditionTrue || c.Reason != "FailedCreate" ||
		!strings.Contains(c.Message, "exceeded quota: q") || !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("ReplicaFailure condition = %+v", c)
	}
}

func TestSyncDeletesExtraPodsInG11Order(t *testing.T) {
	rs := mkRS(2)
	pods := []*corev1.Pod{
		mkPod("ready-old", ofRS, on("n"), readySince(time.Hour)),
		mkPod("ready-new", ofRS, on("n"), readySince(time.Minute)),
		mkPod("pending", ofRS, on("n"), phase(corev1.PodPending)),
		mkPod("unscheduled", ofRS, phase(corev1.PodPending)),
	}
	f := newFixture(t, false, Config{}, append(objs(rs), objs(pods...)...), append(objs(rs), objs(pods...)...))
	writes, events, err := f.sync(t, "ns/rs")
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, w := range writes {
		if name, ok := strings.CutPrefix(w, "delete pods "); ok {
			deleted = append(deleted, name)
		}
	}
	if diff := cmp.Diff([]string{"pending", "unscheduled"}, sortStrings(deleted)); diff != "" {
		t.Errorf("G11 victims (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Normal SuccessfulDelete Deleted pod: pending", "Normal SuccessfulDelete Deleted pod: unscheduled"}, sortStrings(events)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, del, _ := f.c.expectations.Get("ns/rs"); del != 2 {
		t.Errorf("expected deletes = %d, want 2", del)
	}
	// G11: seen terminating, then gone, each victim counts once.
	for _, name := range []string{"pending", "unscheduled"} {
		p := mkPod(name, ofRS, terminating)
		p.ResourceVersion = "2"
		f.c.updatePod(mkPod(name, ofRS), p)
		f.c.deletePod(p)
	}
	if !f.c.expectations.Satisfied("ns/rs") {
		t.Error("expectations not satisfied after both deletions were observed")
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestSyncReplacesTerminatingPods(t *testing.T) {
	tests := []struct {
		name            string
		rc              bool
		wantTerminating *int32
	}{
		{name: "G11 ReplicaSet", wantTerminating: ptr.To[int32](1)},
		{name: "G11 ReplicationController (no terminatingReplicas field)", rc: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var owner runtime.Object = mkRS(2)
			of := ofRS
			key, kind := "ns/rs", "replicasets/status"
			if tt.rc {
				owner, of, key, kind = mkRC(2), owned("ReplicationController", "rc", "uid-rc"), "ns/rc", "replicationcontrollers/status"
			}
			pods := []*corev1.Pod{
				mkPod("live", of, on("n")),
				mkPod("going", of, on("n"), terminating),
				mkPod("done", of, on("n"), phase(corev1.PodSucceeded)),
			}
			f := newFixture(t, tt.rc, Config{}, objs(owner), append(objs(owner), objs(pods...)...))
			writes, _, err := f.sync(t, key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"create pods", "update " + kind}, writes); diff != "" {
				t.Errorf("G11 a replacement is created while the pod terminates (-want +got):\n%s", diff)
			}
			s := f.lastStatus()
			if s == nil || s.Replicas != 1 || !ptr.Equal(s.TerminatingReplicas, tt.wantTerminating) {
				t.Errorf("status = %+v, want replicas 1, terminatingReplicas %v", s, tt.wantTerminating)
			}
		})
	}
}

func TestSyncClaims(t *testing.T) {
	rs := mkRS(2)
	pods := []*corev1.Pod{
		mkPod("mine", ofRS),
		mkPod("stray", ofRS, podLabels(map[string]string{"app": "other"})),
		mkPod("orphan"),
		mkPod("orphan-terminating", terminating),
		mkPod("theirs", owned("ReplicaSet", "other", "uid-other")),
	}
	f := newFixture(t, false, Config{}, append(objs(rs), objs(pods...)...), append(objs(rs), objs(pods...)...))
	writes, _, err := f.sync(t, "ns/rs")
	if err != nil {
		t.Fatal(err)
	}
	// The stray pod is released; the orphan adopted after a live GET of
	// the owner; mine and the adopted orphan make 2 replicas.
	want := []string{"patch pods stray", "get replicasets rs", "patch pods orphan", "update replicasets/status"}
	if diff := cmp.Diff(want, writes); diff != "" {
		t.Fatalf("D writes (-want +got):\n%s", diff)
	}
	patches := map[string]string{}
	for _, a := range f.client.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok {
			patches[p.GetName()] = string(p.GetPatch())
			if p.GetPatchType() != "application/strategic-merge-patch+json" {
				t.Errorf("patch type %s", p.GetPatchType())
			}
		}
	}
	if want := `{"metadata":{"uid":"uid-stray","ownerReferences":[{"$patch":"delete","uid":"uid-rs"}]}}`; patches["stray"] != want {
		t.Errorf("release patch %s\nwant %s", patches["stray"], want)
	}
	if want := `{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"uid-rs","controller":true,"blockOwnerDeletion":true}],"uid":"uid-orphan"}}`; patches["orphan"] != want {
		t.Errorf("adopt patch %s\nwant %s", patches["orphan"], want)
	}
	if s := f.lastStatus(); s == nil || s.Replicas != 2 || s.TerminatingReplicas == nil || *s.TerminatingReplicas != 0 {
		t.Errorf("status = %+v (a terminating orphan is not ours)", s)
	}
}

func TestSyncRecheckRefusesAdoption(t *testing.T) {
	cached := mkRS(1)
	live := mkRS(1, deletingRS)
	orphan := mkPod("orphan")
	f := newFixture(t, false, Config{}, []runtime.Object{live, orphan}, []runtime.Object{cached, orphan})
	writes, _, err := f.sync(t, "ns/rs")
	if err == nil || !strings.Contains(err.Error(), "has just been deleted") {
		t.Fatalf("err = %v, want the recheck's refusal", err)
	}
	if diff := cmp.Diff([]string{"get replicasets rs"}, writes); diff != "" {
		t.Errorf("D writes (-want +got):\n%s", diff)
	}
}

func TestSyncDeletingOwnerActsOnNothing(t *testing.T) {
	rs := mkRS(3, deletingRS)
	pods := []*corev1.Pod{mkPod("stray", ofRS, podLabels(map[string]string{"app": "other"})), mkPod("orphan")}
	f := newFixture(t, false, Config{}, objs(rs), append(objs(rs), objs(pods...)...))
	writes, _, err := f.sync(t, "ns/rs")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"update replicasets/status"}, writes); diff != "" {
		t.Errorf("G11 a ReplicaSet being deleted only writes status (-want +got):\n%s", diff)
	}
	if s := f.lastStatus(); s == nil || s.Replicas != 0 {
		t.Errorf("status = %+v", s)
	}
}

func TestSyncOwnerGoneForgetsExpectations(t *testing.T) {
	f := newFixture(t, false, Config{}, nil, nil)
	f.c.expectations.ExpectCreations("ns/rs", 3)
	writes, _, err := f.sync(t, "ns/rs")
	if err != nil || len(writes) != 0 {
		t.Fatalf("writes %v, err %v", writes, err)
	}
	if _, _, ok := f.c.expectations.Get("ns/rs"); ok {
		t.Error("expectations of a gone owner kept")
	}
}

func TestReplicationControllerSync(t *testing.T) {
	rc := mkRC(2)
	f := newFixture(t, true, Config{}, objs(rc), objs(rc))
	writes, events, err := f.sync(t, "ns/rc")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"create pods", "create pods", "update replicationcontrollers/status"}, writes); diff != "" {
		t.Fatalf("writes (-want +got):\n%s", diff)
	}
	want := []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "rc", UID: "uid-rc",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	for _, p := range f.created(t) {
		if diff := cmp.Diff(want, p.OwnerReferences); diff != "" {
			t.Errorf("D8 ownerReferences (-want +got):\n%s", diff)
		}
		if p.GenerateName != "rc-" {
			t.Errorf("generateName %q", p.GenerateName)
		}
	}
	if len(events) != 2 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: rc-") {
		t.Errorf("events = %q", events)
	}
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok && a.GetVerb() == "update" {
			got := u.GetObject().(*corev1.ReplicationController)
			if got.Spec.Selector["app"] != "a" || got.Spec.Template == nil || got.Status.ObservedGeneration != 1 {
				t.Errorf("the status update changed the spec or missed observedGeneration: %+v", got)
			}
		}
	}
}

func TestEventsNameTheOwnerKind(t *testing.T) {
	rc := mkRC(1)
	ref := podcontrol.ObjectReference(rcToRS(rc), corev1.SchemeGroupVersion.WithKind("ReplicationController"))
	want := corev1.ObjectReference{Kind: "ReplicationController", APIVersion: "v1", Namespace: "ns", Name: "rc", UID: "uid-rc", ResourceVersion: "1"}
	if diff := cmp.Diff(want, *ref); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
