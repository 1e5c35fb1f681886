package deployment

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func objsRS(rss ...*appsv1.ReplicaSet) []*appsv1.ReplicaSet { return rss }

func TestReconcileNewReplicaSet(t *testing.T) {
	// Upstream TestDeploymentController_reconcileNewReplicaSet.
	tests := []struct {
		name                     string
		replicas, surge          int32
		oldReplicas, newReplicas int32
		wantScale                bool
		wantNew                  int32
	}{
		{name: "should not scale up with maxSurge 0", replicas: 10, surge: 0, oldReplicas: 10, newReplicas: 0},
		{name: "scales up by maxSurge", replicas: 10, surge: 2, oldReplicas: 10, newReplicas: 0, wantScale: true, wantNew: 2},
		{name: "scales up to fill the room old ones left", replicas: 10, surge: 2, oldReplicas: 5, newReplicas: 0, wantScale: true, wantNew: 7},
		{name: "surge used up", replicas: 10, surge: 2, oldReplicas: 10, newReplicas: 2},
		{name: "should scale down", replicas: 10, surge: 2, oldReplicas: 2, newReplicas: 11, wantScale: true, wantNew: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := intstr.FromInt32(tt.surge)
			d := mkDeployment("foo", tt.replicas, &s, nil)
			newRS, oldRS := mkRS(d, "new", tt.newReplicas), mkRS(d, "old", tt.oldReplicas)
			f := newFixture(t, newRS, oldRS)
			scaled, err := f.c.reconcileNewReplicaSet(context.Background(), objsRS(newRS, oldRS), newRS, d)
			if err != nil {
				t.Fatal(err)
			}
			if scaled != tt.wantScale {
				t.Fatalf("scaled = %v, want %v; writes %v", scaled, tt.wantScale, f.writes())
			}
			if !tt.wantScale {
				if w := f.writes(); len(w) > 0 {
					t.Errorf("unexpected writes %v", w)
				}
				return
			}
			if got := rsReplicas(f.replicaSets()["new"]); got != tt.wantNew {
				t.Errorf("new replicas = %d, want %d", got, tt.wantNew)
			}
		})
	}
}

func TestReconcileOldReplicaSets(t *testing.T) {
	// Upstream TestDeploymentController_reconcileOldReplicaSets.
	tests := []struct {
		name                       string
		replicas, unavailable      int32
		oldReplicas, newReplicas   int32
		oldAvailable, newAvailable int32
		wantScale                  bool
		wantOld                    int32
	}{
		{name: "maxUnavailable 0 still lets one go", replicas: 10, unavailable: 0, oldReplicas: 10, oldAvailable: 10, wantScale: true, wantOld: 9},
		{name: "maxUnavailable 2 lets two go", replicas: 10, unavailable: 2, oldReplicas: 10, oldAvailable: 10, wantScale: true, wantOld: 8},
		{name: "unhealthy old replicas are cleaned up", replicas: 10, unavailable: 2, oldReplicas: 10, oldAvailable: 8, wantScale: true, wantOld: 8},
		{name: "one unhealthy cleaned up and one ready scaled down", replicas: 10, unavailable: 2, oldReplicas: 10, oldAvailable: 9, wantScale: true, wantOld: 8},
		{name: "unavailable new pods do not let old ones go", replicas: 10, unavailable: 2, oldReplicas: 8, newReplicas: 2, oldAvailable: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := intstr.FromInt32(tt.unavailable)
			d := mkDeployment("foo", tt.replicas, nil, &u)
			newRS := mkRS(d, "new", tt.newReplicas, available(tt.newAvailable))
			oldRS := mkRS(d, "old", tt.oldReplicas, available(tt.oldAvailable), withImage("img:0"))
			f := newFixture(t, newRS, oldRS)
			scaled, err := f.c.reconcileOldReplicaSets(context.Background(), objsRS(oldRS, newRS), objsRS(oldRS), newRS, d)
			if err != nil {
				t.Fatal(err)
			}
			if scaled != tt.wantScale {
				t.Fatalf("scaled = %v, want %v; writes %v", scaled, tt.wantScale, f.writes())
			}
			if tt.wantScale {
				if got := rsReplicas(f.replicaSets()["old"]); got != tt.wantOld {
					t.Errorf("old replicas = %d, want %d", got, tt.wantOld)
				}
			}
		})
	}
}

func TestCleanupUnhealthyReplicas(t *testing.T) {
	// Upstream TestDeploymentController_cleanupUnhealthyReplicas.
	tests := []struct {
		name                          string
		replicas, available, maxClean int32
		wantCleaned                   int32
	}{
		{"two unhealthy, room for one", 10, 8, 1, 1},
		{"two unhealthy, room for three", 10, 8, 3, 2},
		{"no room", 10, 8, 0, 0},
		{"all healthy", 10, 10, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mkDeployment("foo", 10, nil, nil)
			old := mkRS(d, "old", tt.replicas, available(tt.available))
			f := newFixture(t, old)
			_, cleaned, err := f.c.cleanupUnhealthyReplicas(context.Background(), objsRS(old), d, tt.maxClean)
			if err != nil || cleaned != tt.wantCleaned {
				t.Errorf("cleaned %d, %v; want %d", cleaned, err, tt.wantCleaned)
			}
		})
	}
}

func TestScaleDownOldReplicaSetsForRollingUpdate(t *testing.T) {
	// Upstream TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate.
	tests := []struct {
		name                  string
		replicas, unavailable int32
		oldReplicas, oldAvail int32
		wantScaled, wantOld   int32
	}{
		{name: "maxUnavailable 0: one at a time", replicas: 10, unavailable: 0, oldReplicas: 10, oldAvail: 10, wantScaled: 1, wantOld: 9},
		{name: "maxUnavailable 2", replicas: 10, unavailable: 2, oldReplicas: 10, oldAvail: 10, wantScaled: 2, wantOld: 8},
		{name: "not enough available", replicas: 10, unavailable: 2, oldReplicas: 8, oldAvail: 8},
		{name: "down to 0 once the deployment wants 0", replicas: 0, unavailable: 2, oldReplicas: 10, oldAvail: 10, wantScaled: 10, wantOld: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := intstr.FromInt32(tt.unavailable)
			d := mkDeployment("foo", tt.replicas, nil, &u)
			old := mkRS(d, "old", tt.oldReplicas, available(tt.oldAvail))
			f := newFixture(t, old)
			n, err := f.c.scaleDownOldReplicaSetsForRollingUpdate(context.Background(), objsRS(old), objsRS(old), d)
			if err != nil || n != tt.wantScaled {
				t.Fatalf("scaled %d, %v; want %d", n, err, tt.wantScaled)
			}
			if n > 0 {
				if got := rsReplicas(f.replicaSets()["old"]); got != tt.wantOld {
					t.Errorf("old replicas = %d, want %d", got, tt.wantOld)
				}
			}
		})
	}
}

// TestSyncCreatesReplicaSet is upstream TestSyncDeploymentCreatesReplicaSet
// with the name, labels, annotations, status and event checked.
func TestSyncCreatesReplicaSet(t *testing.T) {
	s, u := intstr.FromString("25%"), intstr.FromString("25%")
	d := mkDeployment("web", 3, &s, &u)
	f := newFixture(t, d)
	writes, events := f.sync(t, "ns/web")
	hash := ComputeHash(&d.Spec.Template, nil)
	name := "web-" + hash
	if want := []string{"create replicasets " + name, "update deployments/status web", "update deployments/status web"}; !cmp.Equal(writes, want) {
		t.Errorf("writes: %s", cmp.Diff(want, writes))
	}
	if want := []string{"Normal ScalingReplicaSet Scaled up replica set " + name + " from 0 to 3"}; !cmp.Equal(events, want) {
		t.Errorf("events: %s", cmp.Diff(want, events))
	}
	rs := f.replicaSets()[name]
	if rsReplicas(rs) != 3 || rs.Labels["pod-template-hash"] != hash || rs.Spec.Selector.MatchLabels["pod-template-hash"] != hash || rs.Spec.Template.Labels["pod-template-hash"] != hash {
		t.Errorf("replica set: replicas %d labels %v selector %v", rsReplicas(rs), rs.Labels, rs.Spec.Selector)
	}
	wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	if !cmp.Equal(rs.Annotations, wantAnn) {
		t.Errorf("annotations: %s", cmp.Diff(wantAnn, rs.Annotations))
	}
	if ref := rs.OwnerReferences; len(ref) != 1 || ref[0].UID != d.UID || !*ref[0].Controller || !*ref[0].BlockOwnerDeletion {
		t.Errorf("owner references %v", ref)
	}
	st := f.lastStatus()
	if st.Annotations[RevisionAnnotation] != "1" || st.Status.ObservedGeneration != 1 {
		t.Errorf("deployment revision %q observedGeneration %d", st.Annotations[RevisionAnnotation], st.Status.ObservedGeneration)
	}
	p := getCondition(st.Status, appsv1.DeploymentProgressing)
	if p == nil || p.Reason != NewReplicaSetReason || p.Message != `Created new replica set "`+name+`"` || p.Status != corev1.ConditionTrue {
		t.Errorf("Progressing = %+v", p)
	}
	a := getCondition(st.Status, appsv1.DeploymentAvailable)
	if a == nil || a.Reason != MinimumReplicasUnavailable || a.Message != "Deployment does not have minimum availability." {
		t.Errorf("Available = %+v", a)
	}
}

// TestRollingUpdateSteps walks a rollout of 3 replicas with maxSurge 1,
// maxUnavailable 0 through the syncs, each fed the last sync's writes
// as if the ReplicaSet controller had made the pods available.
func TestRollingUpdateSteps(t *testing.T) {
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	d := mkDeployment("web", 3, &one, &zero, image("img:2"))
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	old := mkRS(d, "old", 3, withImage("img:1"), rev(1), created(1))
	f := newFixture(t, d, old)
	newName := "web-" + ComputeHash(&d.Spec.Template, nil)

	type step struct{ newReps, oldReps int32 }
	var got []step
	for i := 0; i < 10; i++ {
		f.sync(t, "ns/web")
		for _, rs := range f.replicaSets() {
			// The ReplicaSet controller's part: all pods there and available.
			rs = rs.DeepCopy()
			n := rsReplicas(rs)
			rs.Status = appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n, ObservedGeneration: rs.Generation}
			f.cache(t, rs)
		}
		if st := f.lastStatus(); st != nil {
			f.cache(t, st)
		}
		newRS, _ := f.c.rsLister.ReplicaSets("ns").Get(newName)
		oldRS, _ := f.c.rsLister.ReplicaSets("ns").Get("old")
		s := step{rsReplicas(newRS), rsReplicas(oldRS)}
		if len(got) > 0 && got[len(got)-1] == s {
			break
		}
		got = append(got, s)
	}
	want := []step{{1, 3}, {1, 2}, {2, 2}, {2, 1}, {3, 1}, {3, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("steps (new, old) = %v, want %v", got, want)
	}
	d2, _ := f.c.dLister.Deployments("ns").Get("web")
	p := getCondition(d2.Status, appsv1.DeploymentProgressing)
	if p == nil || p.Reason != NewRSAvailableReason || p.Message != `ReplicaSet "`+newName+`" has successfully progressed.` {
		t.Errorf("Progressing = %+v", p)
	}
	if d2.Status.UpdatedReplicas != 3 || d2.Status.Replicas != 3 || d2.Status.AvailableReplicas != 3 || d2.Annotations[RevisionAnnotation] != "2" {
		t.Errorf("status %+v revision %q", d2.Status, d2.Annotations[RevisionAnnotation])
	}
}
