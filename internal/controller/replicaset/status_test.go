package replicaset

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestCalculateStatus(t *testing.T) {
	failure := appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
		Reason: "FailedCreate", Message: "old", LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}
	tests := []struct {
		name        string
		rs          *appsv1.ReplicaSet
		active      []*corev1.Pod
		terminating []*corev1.Pod
		manageErr   error
		rc          bool
		want        appsv1.ReplicaSetStatus
	}{
		{name: "counts: fully labelled, ready, available with minReadySeconds on the clock",
			rs: mkRS(4, minReady(10)),
			active: []*corev1.Pod{
				mkPod("a", readySince(time.Minute)),
				mkPod("b", readySince(5*time.Second)),
				mkPod("c", podLabels(map[string]string{"app": "a"})),
				mkPod("d"),
			},
			terminating: []*corev1.Pod{mkPod("e", terminating)},
			want: appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 1,
				TerminatingReplicas: ptr.To[int32](1)}},
		{name: "G11 ReplicationControllers have no terminatingReplicas", rs: mkRS(1), rc: true,
			active: []*corev1.Pod{mkPod("a")}, terminating: []*corev1.Pod{mkPod("e", terminating)},
			want: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1}},
		{name: "a failed create sets ReplicaFailure FailedCreate", rs: mkRS(2), active: []*corev1.Pod{mkPod("a")},
			manageErr: errors.New("quota"),
			want: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, TerminatingReplicas: ptr.To[int32](0),
				Conditions: []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
					Reason: "FailedCreate", Message: "quota", LastTransitionTime: metav1.NewTime(t0)}}}},
		{name: "a failed delete sets ReplicaFailure FailedDelete", rs: mkRS(0), active: []*corev1.Pod{mkPod("a")},
			manageErr: errors.New("boom"),
			want: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, TerminatingReplicas: ptr.To[int32](0),
				Conditions: []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
					Reason: "FailedDelete", Message: "boom", LastTransitionTime: metav1.NewTime(t0)}}}},
		{name: "an existing ReplicaFailure is kept on a new failure",
			rs:        mkRS(2, func(rs *appsv1.ReplicaSet) { rs.Status.Conditions = []appsv1.ReplicaSetCondition{failure} }),
			manageErr: errors.New("new"),
			want:      appsv1.ReplicaSetStatus{TerminatingReplicas: ptr.To[int32](0), Conditions: []appsv1.ReplicaSetCondition{failure}}},
		{name: "a sync without failure removes ReplicaFailure",
			rs:   mkRS(0, func(rs *appsv1.ReplicaSet) { rs.Status.Conditions = []appsv1.ReplicaSetCondition{failure} }),
			want: appsv1.ReplicaSetStatus{TerminatingReplicas: ptr.To[int32](0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := calculateStatus(tt.rs, tt.active, tt.terminating, tt.manageErr, !tt.rc, t0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusUpdateRetriesOnceAfterAGet(t *testing.T) {
	rs := mkRS(0)
	tests := []struct {
		name       string
		failures   int
		wantWrites []string
		wantErr    bool
	}{
		{name: "a conflict is retried after a fresh GET", failures: 1,
			wantWrites: []string{"update replicasets/status", "get replicasets rs", "update replicasets/status"}},
		{name: "a second failure fails the sync", failures: 2, wantErr: true,
			wantWrites: []string{"update replicasets/status", "get replicasets rs", "update replicasets/status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stale := rs.DeepCopy()
			stale.Status.Replicas = 5
			f := newFixture(t, false, Config{}, objs(rs), objs(stale))
			n := 0
			f.client.PrependReactor("update", "replicasets", func(clienttesting.Action) (bool, runtime.Object, error) {
				if n++; n <= tt.failures {
					return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "rs", errors.New("modified"))
				}
				return false, nil, nil
			})
			writes, _, err := f.sync(t, "ns/rs")
			if (err != nil) != tt.wantErr || (err != nil && !apierrors.IsConflict(err)) {
				t.Fatalf("err = %v, want a conflict: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantWrites, writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusUnchangedIsNotWritten(t *testing.T) {
	rs := mkRS(1)
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ObservedGeneration: 1, TerminatingReplicas: ptr.To[int32](0)}
	f := newFixture(t, false, Config{}, objs(rs), append(objs(rs), mkPod("a", ofRS)))
	writes, _, err := f.sync(t, "ns/rs")
	if err != nil || len(writes) != 0 {
		t.Fatalf("writes %v, err %v", writes, err)
	}
	// A new generation is written even when the counts stay.
	rs = rs.DeepCopy()
	rs.Generation = 2
	f.cache(t, rs)
	writes, _, err = f.sync(t, "ns/rs")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"update replicasets/status"}, writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if s := f.lastStatus(); s == nil || s.ObservedGeneration != 2 {
		t.Errorf("status = %+v, want observedGeneration 2", s)
	}
}
