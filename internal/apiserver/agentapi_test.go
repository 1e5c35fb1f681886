package apiserver

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
)

// TestNodeAgentAPI walks the calls a node agent makes, the way the kubelet
// makes them: register its Node with status, patch the status with a
// strategic merge patch, renew its Lease in kube-node-lease, record and
// re-count Events, and patch pod status with the uid-guarded strategic
// merge patch of the kubelet's status manager.
func TestNodeAgentAPI(t *testing.T) {
	srv := newTestHandler(t)
	cs, _ := newTestClient(t, srv)
	ctx := context.Background()
	now := metav1.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))

	// Registration: the kubelet's first create carries its status.
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"kubernetes.io/hostname": "n1"}},
		Status: corev1.NodeStatus{
			Capacity:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110")},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "n1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
				LastHeartbeatTime: now, LastTransitionTime: now}},
		},
	}
	created, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Status.Addresses) != 2 || created.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Fatalf("registration lost the status: %+v", created.Status)
	}

	// Heartbeat: PATCH nodes/n1/status, strategic merge on conditions.
	ready := created.DeepCopy()
	ready.Status.Conditions[0] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.NewTime(now.Add(10 * time.Second)), LastTransitionTime: metav1.NewTime(now.Add(10 * time.Second))}
	ready.Status.Conditions = append(ready.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse,
		LastHeartbeatTime: now, LastTransitionTime: now})
	patch := twoWayPatch(t, created, ready, &corev1.Node{})
	patched, err := cs.CoreV1().Nodes().Patch(ctx, "n1", types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("node status patch: %v\n%s", err, patch)
	}
	if len(patched.Status.Conditions) != 2 || patched.Status.Conditions[0].Status != corev1.ConditionTrue || patched.Status.Conditions[0].Reason != "KubeletReady" {
		t.Fatalf("conditions after the patch: %+v", patched.Status.Conditions)
	}
	// A main-resource update (labels, taints) keeps the status.
	patched.Labels["node-role.kubernetes.io/worker"] = ""
	patched.Status = corev1.NodeStatus{}
	updated, err := cs.CoreV1().Nodes().Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(updated.Status.Conditions) != 2 {
		t.Fatalf("a node update dropped the status: %+v", updated.Status)
	}
	updated.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node status update: %v", err)
	}

	// The node lease, owned by the Node (as the kubelet's lease
	// controller writes it).
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: corev1.NamespaceNodeLease}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	lease, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: created.UID}}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("n1"), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &metav1.MicroTime{Time: now.Time}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("lease create: %v", err)
	}
	renew := metav1.MicroTime{Time: now.Add(10*time.Second + 123456*time.Microsecond)}
	lease.Spec.RenewTime = &renew
	if lease, err = leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("lease renew: %v", err)
	}
	if !lease.Spec.RenewTime.Equal(&renew) {
		t.Fatalf("renewTime %v, want %v (microseconds kept)", lease.Spec.RenewTime, renew)
	}
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](0)
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("lease with duration 0: %v, want 422", err)
	}

	// A pod on the node, its events and its status.
	pod := createTestPod(t, cs, "p", func(p *corev1.Pod) { p.Spec.NodeName = "n1" })
	events := cs.CoreV1().Events("default")
	ev, err := events.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "p.17a", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p", UID: pod.UID, APIVersion: "v1", FieldPath: "spec.containers{c}"},
		Reason:         "Started", Message: "Started container c", Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kubelet", Host: "n1"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "kubelet", ReportingInstance: "n1",
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("event create: %v", err)
	}
	// client-go's recorder bumps a repeated event's count with a strategic
	// merge patch.
	countPatch, _ := json.Marshal(map[string]any{"count": 2, "lastTimestamp": now.Add(time.Minute).UTC().Format(time.RFC3339), "message": "Started container c"})
	if ev, err = events.Patch(ctx, ev.Name, types.StrategicMergePatchType, countPatch, metav1.PatchOptions{}); err != nil || ev.Count != 2 {
		t.Fatalf("event count patch: %v (count %d)", err, ev.Count)
	}
	if _, err := cs.EventsV1().Events("default").Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "p.17b"}, EventTime: metav1.MicroTime{Time: now.Time}, Reason: "Pulled", Note: "pulled", Type: "Normal",
		Action: "Pulling", ReportingController: "kubelet", ReportingInstance: "n1",
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p", UID: pod.UID},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("events.k8s.io event create: %v", err)
	}

	// The status manager's patch: {metadata.uid, status} against the
	// last status it wrote.
	newStatus := pod.Status.DeepCopy()
	newStatus.Phase = corev1.PodRunning
	newStatus.HostIP, newStatus.PodIP = "10.0.0.5", "10.0.0.5"
	newStatus.PodIPs = []corev1.PodIP{{IP: "10.0.0.5"}}
	newStatus.StartTime = &now
	newStatus.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	newStatus.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: "x", ImageID: "sha256:1", Ready: true, Started: ptr.To(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
	statusPatch := twoWayPatch(t, &corev1.Pod{Status: pod.Status},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: pod.UID}, Status: *newStatus}, &corev1.Pod{})
	running, err := cs.CoreV1().Pods("default").Patch(ctx, "p", types.StrategicMergePatchType, statusPatch, metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("pod status patch: %v\n%s", err, statusPatch)
	}
	if running.Status.Phase != corev1.PodRunning || len(running.Status.ContainerStatuses) != 1 || running.Status.PodIP != "10.0.0.5" {
		t.Fatalf("pod status after the patch: %+v", running.Status)
	}
	// The same patch for a pod of another uid (deleted and recreated under
	// the same name) must not apply.
	stale := twoWayPatch(t, &corev1.Pod{Status: running.Status},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "other-uid"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, &corev1.Pod{})
	_, err = cs.CoreV1().Pods("default").Patch(ctx, "p", types.StrategicMergePatchType, stale, metav1.PatchOptions{}, "status")
	if want := `Pod "p" is invalid: metadata.uid: Invalid value: "other-uid": field is immutable`; !apierrors.IsInvalid(err) || err.Error() != want {
		t.Fatalf("a status patch carrying another uid: got %v, want 422 %q", err, want)
	}
}

func twoWayPatch(t *testing.T, from, to, schema any) []byte {
	t.Helper()
	a, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(to)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strategicpatch.CreateTwoWayMergePatch(a, b, schema)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
