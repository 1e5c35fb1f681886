package deployment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// TestRecreate: old ReplicaSets go to 0 first; while an old pod is left,
// terminating included, no new ReplicaSet; then it is created at full
// size.
func TestRecreate(t *testing.T) {
	d := mkDeployment("web", 3, nil, nil, recreate, image("img:2"))
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	old := mkRS(d, "old", 3, withImage("img:1"), rev(1), created(time.Hour))
	newName := "web-" + ComputeHash(&d.Spec.Template, nil)

	t.Run("scales the old ReplicaSet to 0", func(t *testing.T) {
		f := newFixture(t, d, old)
		writes, events := f.sync(t, "ns/web")
		if want := []string{"update replicasets old", "update deployments/status web"}; !cmp.Equal(writes, want) {
			t.Errorf("writes: %s", cmp.Diff(want, writes))
		}
		if want := []string{"Normal ScalingReplicaSet Scaled down replica set old from 3 to 0"}; !cmp.Equal(events, want) {
			t.Errorf("events: %s", cmp.Diff(want, events))
		}
	})

	scaledDown := old.DeepCopy()
	scaledDown.Spec.Replicas = ptr.To[int32](0)
	scaledDown.Status.Replicas, scaledDown.Status.ReadyReplicas, scaledDown.Status.AvailableReplicas = 0, 0, 0
	scaledDown.Status.TerminatingReplicas = ptr.To[int32](1)

	t.Run("waits while an old pod is terminating", func(t *testing.T) {
		pod := mkPod(old, "old-1", corev1.PodRunning)
		pod.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
		f := newFixture(t, d, scaledDown, pod)
		writes, _ := f.sync(t, "ns/web")
		for _, w := range writes {
			if w == "create replicasets "+newName {
				t.Fatalf("created the new ReplicaSet while an old pod terminates: %v", writes)
			}
		}
		if st := f.lastStatus(); st == nil || ptr.Deref(st.Status.TerminatingReplicas, -1) != 1 {
			t.Errorf("status %v, want terminatingReplicas 1", st)
		}
	})

	t.Run("a terminal old pod does not hold it back", func(t *testing.T) {
		gone := scaledDown.DeepCopy()
		gone.Status.TerminatingReplicas = ptr.To[int32](0)
		f := newFixture(t, d, gone, mkPod(old, "old-1", corev1.PodSucceeded))
		writes, events := f.sync(t, "ns/web")
		if len(writes) == 0 || writes[0] != "create replicasets "+newName {
			t.Fatalf("writes %v, want the new ReplicaSet created", writes)
		}
		if rs := f.replicaSets()[newName]; rsReplicas(rs) != 3 || rs.Annotations[RevisionAnnotation] != "2" {
			t.Errorf("new ReplicaSet: %d replicas, revision %q", rsReplicas(rs), rs.Annotations[RevisionAnnotation])
		}
		if want := []string{"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 0 to 3"}; !cmp.Equal(events, want) {
			t.Errorf("events: %s", cmp.Diff(want, events))
		}
	})
}

func TestOldPodsRunning(t *testing.T) {
	d := mkDeployment("web", 1, nil, nil, recreate)
	newRS, old := mkRS(d, "new", 1), mkRS(d, "old", 0)
	old.Status.Replicas = 0
	tests := []struct {
		name  string
		phase corev1.PodPhase
		owner string
		want  bool
	}{
		{"no pods", "", "", false},
		{"a running old pod", corev1.PodRunning, "old", true},
		{"a pending old pod", corev1.PodPending, "old", true},
		{"an unknown old pod", corev1.PodUnknown, "old", true},
		{"a failed old pod", corev1.PodFailed, "old", false},
		{"a succeeded old pod", corev1.PodSucceeded, "old", false},
		{"a running new pod", corev1.PodRunning, "new", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			podMap := map[types.UID][]*corev1.Pod{}
			switch tt.owner {
			case "old":
				podMap[old.UID] = []*corev1.Pod{mkPod(old, "p", tt.phase)}
			case "new":
				podMap[newRS.UID] = []*corev1.Pod{mkPod(newRS, "p", tt.phase)}
			}
			if got := oldPodsRunning(newRS, objsRS(old), podMap); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
