package deployment

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestScale is upstream's TestScale: proportional scaling of the active
// ReplicaSets on a scaling event (maxSurge 0, maxUnavailable 0).
func TestScale(t *testing.T) {
	type sizes struct{ v3, v2, v1 int32 }
	tests := []struct {
		name     string
		from, to int32
		have     sizes
		noNew    bool
		want     sizes
	}{
		{name: "normal scaling event: 10 -> 12", from: 10, to: 12, have: sizes{10, 0, 0}, want: sizes{12, 0, 0}},
		{name: "normal scaling event: 10 -> 5", from: 10, to: 5, have: sizes{10, 0, 0}, want: sizes{5, 0, 0}},
		{name: "proportional scaling: 5 -> 10", from: 5, to: 10, have: sizes{2, 3, 0}, want: sizes{4, 6, 0}},
		{name: "proportional scaling: 5 -> 3", from: 5, to: 3, have: sizes{2, 3, 0}, want: sizes{1, 2, 0}},
		{name: "proportional scaling: 9 -> 4", from: 9, to: 4, have: sizes{8, 1, 0}, want: sizes{4, 0, 0}},
		{name: "proportional scaling: 7 -> 10", from: 7, to: 10, have: sizes{2, 3, 2}, want: sizes{3, 4, 3}},
		{name: "proportional scaling: 13 -> 8", from: 13, to: 8, have: sizes{2, 8, 3}, want: sizes{1, 5, 2}},
		{name: "leftover distribution: 3 -> 4", from: 3, to: 4, have: sizes{1, 1, 1}, want: sizes{2, 1, 1}},
		{name: "leftover distribution: 3 -> 2", from: 3, to: 2, have: sizes{1, 1, 1}, want: sizes{1, 1, 0}},
		{name: "proportional scaling (no new rs): 4 -> 5", from: 4, to: 5, noNew: true, have: sizes{0, 2, 2}, want: sizes{0, 3, 2}},
		{name: "proportional scaling: 6 -> 0", from: 6, to: 0, have: sizes{3, 2, 1}, want: sizes{0, 0, 0}},
		{name: "proportional scaling: 0 -> 6", from: 6, to: 6, have: sizes{0, 0, 0}, want: sizes{6, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := mkDeployment("foo", tt.from, nil, nil)
			d := mkDeployment("foo", tt.to, nil, nil)
			d.Status.Replicas = tt.from
			mk := func(name string, n int32, age time.Duration, img string) *appsv1.ReplicaSet {
				return mkRS(old, name, n, created(age), withImage(img), desired(tt.from, tt.from+maxSurge(old)))
			}
			var newRS *appsv1.ReplicaSet
			if !tt.noNew {
				newRS = mk("foo-v3", tt.have.v3, 0, "img:1")
			}
			v2, v1 := mk("foo-v2", tt.have.v2, time.Hour, "img:0"), mk("foo-v1", tt.have.v1, 2*time.Hour, "img:-1")
			all := []*appsv1.ReplicaSet{v2, v1}
			if newRS != nil {
				all = append(all, newRS)
			}
			f := newFixture(t, objsRSAsObjects(all)...)
			if err := f.c.scale(context.Background(), d, newRS, []*appsv1.ReplicaSet{v2, v1}); err != nil {
				t.Fatal(err)
			}
			written := f.replicaSets()
			size := func(rs *appsv1.ReplicaSet) int32 {
				if rs == nil {
					return 0
				}
				if w, ok := written[rs.Name]; ok {
					if w.Annotations[DesiredReplicasAnnotation] != itoa(tt.to) {
						t.Errorf("%s: desired-replicas %q, want %d", rs.Name, w.Annotations[DesiredReplicasAnnotation], tt.to)
					}
					return rsReplicas(w)
				}
				return rsReplicas(rs)
			}
			got := sizes{size(newRS), size(v2), size(v1)}
			if got != tt.want {
				t.Errorf("sizes (new, v2, v1) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSyncScalingEventIsNotARollout(t *testing.T) {
	// A changed spec.replicas is a scaling event: the ReplicaSet is
	// resized with its annotations, through the proportional path.
	s := intstr.FromInt32(1)
	d := mkDeployment("web", 6, &s, nil)
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	old := mkRS(mkDeployment("web", 3, &s, nil), "old", 3, rev(1))
	f := newFixture(t, d, old)
	writes, events := f.sync(t, "ns/web")
	// The first status write records FoundNewReplicaSet: the Deployment
	// had no Progressing condition yet.
	if want := []string{"update deployments/status web", "update replicasets old", "update deployments/status web"}; !cmp.Equal(writes, want) {
		t.Errorf("writes: %s", cmp.Diff(want, writes))
	}
	if want := []string{"Normal ScalingReplicaSet Scaled up replica set old from 3 to 6"}; !cmp.Equal(events, want) {
		t.Errorf("events: %s", cmp.Diff(want, events))
	}
}

func TestCleanupDeployment(t *testing.T) {
	// Upstream TestDeploymentController_cleanupDeployment: beyond the
	// limit, the oldest revisions with no replicas go.
	d := mkDeployment("web", 1, nil, nil)
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	r1 := mkRS(d, "r1", 0, rev(1), withImage("a"))
	r2 := mkRS(d, "r2", 0, rev(2), withImage("b"))
	r3 := mkRS(d, "r3", 0, rev(3), withImage("c"))
	busy := mkRS(d, "busy", 1, rev(0), withImage("d"))
	stale := mkRS(d, "stale", 0, rev(0), withImage("e"))
	stale.Generation = 2
	f := newFixture(t, d, r1, r2, r3, busy, stale)
	if err := f.c.cleanupDeployment(context.Background(), objsRS(r3, r1, busy, r2, stale), d); err != nil {
		t.Fatal(err)
	}
	// Sorted by revision: busy(0) stale(0) r1 r2 r3; four over the limit;
	// busy has replicas, stale an unobserved generation.
	if want := []string{"delete replicasets r1", "delete replicasets r2"}; !cmp.Equal(f.writes(), want) {
		t.Errorf("writes: %s", cmp.Diff(want, f.writes()))
	}
}

func TestStatus(t *testing.T) {
	s, u := intstr.FromInt32(1), intstr.FromInt32(1)
	d := mkDeployment("web", 4, &s, &u)
	newRS := mkRS(d, "new", 2, available(1), terminatingReplicas(1))
	old := mkRS(d, "old", 3, withImage("img:0"), available(2), terminatingReplicas(2))
	f := newFixture(t)
	st := f.c.calculateStatus(objsRS(old, newRS), newRS, d)
	want := appsv1.DeploymentStatus{
		ObservedGeneration: 1, Replicas: 5, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3,
		UnavailableReplicas: 2, TerminatingReplicas: ptr.To[int32](3),
		Conditions: []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, MinimumReplicasAvailable, "Deployment has minimum availability.", t0)},
	}
	if !cmp.Equal(st, want) {
		t.Errorf("status: %s", cmp.Diff(want, st))
	}
	t.Run("G11 a ReplicaSet that reports no terminatingReplicas makes it unknown", func(t *testing.T) {
		old := old.DeepCopy()
		old.Status.TerminatingReplicas = nil
		if st := f.c.calculateStatus(objsRS(old, newRS), newRS, d); st.TerminatingReplicas != nil {
			t.Errorf("terminatingReplicas = %d, want nil", *st.TerminatingReplicas)
		}
	})
}

func TestProgressDeadline(t *testing.T) {
	s := intstr.FromInt32(1)
	d := mkDeployment("web", 2, &s, nil)
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
	newRS := mkRS(d, "web-new", 2, available(0), rev(1))
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, UnavailableReplicas: 2, TerminatingReplicas: ptr.To[int32](0),
		Conditions: []appsv1.DeploymentCondition{
			newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, MinimumReplicasUnavailable, "Deployment does not have minimum availability.", t0),
			newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewReplicaSetReason, `Created new replica set "web-new"`, t0),
		}}
	f := newFixture(t, d, newRS)

	writes, _ := f.sync(t, "ns/web")
	if len(writes) != 0 {
		t.Errorf("no progress, before the deadline: writes %v", writes)
	}
	f.clk.Step(61 * time.Second)
	f.sync(t, "ns/web")
	p := getCondition(f.lastStatus().Status, appsv1.DeploymentProgressing)
	if p == nil || p.Status != corev1.ConditionFalse || p.Reason != TimedOutReason || p.Message != `ReplicaSet "web-new" has timed out progressing.` {
		t.Errorf("Progressing = %+v", p)
	}

	t.Run("progress after the deadline is ReplicaSetUpdated", func(t *testing.T) {
		f.cache(t, f.lastStatus())
		ready := newRS.DeepCopy()
		ready.Status.AvailableReplicas, ready.Status.ReadyReplicas = 1, 1
		f.cache(t, ready)
		f.sync(t, "ns/web")
		p := getCondition(f.lastStatus().Status, appsv1.DeploymentProgressing)
		if p == nil || p.Status != corev1.ConditionTrue || p.Reason != ReplicaSetUpdatedReason || p.Message != `ReplicaSet "web-new" is progressing.` || !p.LastUpdateTime.Time.Equal(f.clk.Now()) {
			t.Errorf("Progressing = %+v", p)
		}
	})
}

func TestPausedAndDeleting(t *testing.T) {
	t.Run("a paused deployment does not roll out", func(t *testing.T) {
		d := mkDeployment("web", 2, nil, nil, image("img:2"))
		d.Spec.Paused = true
		old := mkRS(d, "old", 2, withImage("img:1"), rev(1))
		f := newFixture(t, d, old)
		writes, _ := f.sync(t, "ns/web")
		if want := []string{"update deployments/status web", "update deployments/status web"}; !cmp.Equal(writes, want) {
			t.Errorf("writes: %s", cmp.Diff(want, writes))
		}
		p := getCondition(f.lastStatus().Status, appsv1.DeploymentProgressing)
		if p == nil || p.Reason != PausedDeployReason || p.Status != corev1.ConditionUnknown {
			t.Errorf("Progressing = %+v", p)
		}
	})
	t.Run("B7 a deployment being deleted only gets its status", func(t *testing.T) {
		d := mkDeployment("web", 2, nil, nil, image("img:2"))
		d.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
		old := mkRS(d, "old", 2, withImage("img:1"), rev(1))
		f := newFixture(t, d, old)
		writes, _ := f.sync(t, "ns/web")
		if want := []string{"update deployments/status web"}; !cmp.Equal(writes, want) {
			t.Errorf("writes: %s", cmp.Diff(want, writes))
		}
	})
}

func TestClaimReplicaSets(t *testing.T) {
	d := mkDeployment("web", 1, nil, nil)
	orphan := mkRS(d, "orphan", 1)
	orphan.OwnerReferences = nil
	mismatched := mkRS(d, "mismatched", 0, withImage("x"))
	mismatched.Labels = map[string]string{"foo": "other"}
	foreign := mkRS(d, "foreign", 1)
	foreign.OwnerReferences[0].UID = "someone-else"
	f := newFixture(t, d, orphan, mismatched, foreign)
	got, err := f.c.replicaSetsFor(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "orphan" {
		t.Errorf("claimed %v, want the orphan", got)
	}
	writes := f.writes()
	slices.Sort(writes)
	if want := []string{"patch replicasets mismatched", "patch replicasets orphan"}; !cmp.Equal(writes, want) {
		t.Errorf("writes: %s", cmp.Diff(want, writes))
	}
}

func objsRSAsObjects(rss []*appsv1.ReplicaSet) []runtime.Object {
	out := make([]runtime.Object, len(rss))
	for i, rs := range rss {
		out[i] = rs
	}
	return out
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
