package replicaset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// statusUpdateRetries is how many times a failed status write is retried
// after a fresh GET before the sync fails (upstream statusUpdateRetries).
const statusUpdateRetries = 1

// calculateStatus is rs's status for its active and terminating pods at
// now (upstream calculateStatus). A failed create or delete sets the
// ReplicaFailure condition, with reason FailedCreate or FailedDelete and
// the error as message; a sync without one removes it.
func calculateStatus(rs *appsv1.ReplicaSet, active, terminating []*corev1.Pod, manageErr error, withTerminating bool, now time.Time) appsv1.ReplicaSetStatus {
	status := *rs.Status.DeepCopy()
	// The template's labels are a superset of the selector, so fully
	// labelled pods are among the active ones.
	template := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fully, ready, available int32
	for _, p := range active {
		if template.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if podcontrol.IsPodReady(p) {
			ready++
			if podcontrol.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	failure := condition(rs.Status, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		var reason string
		if diff := len(active) - replicas(rs); diff < 0 {
			reason = podcontrol.FailedCreatePodReason
		} else if diff > 0 {
			reason = podcontrol.FailedDeletePodReason
		}
		setCondition(&status, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		status.Conditions = withoutCondition(status.Conditions, appsv1.ReplicaSetReplicaFailure)
	}
	status.Replicas = int32(len(active))
	status.FullyLabeledReplicas = fully
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.TerminatingReplicas = nil
	if withTerminating {
		status.TerminatingReplicas = ptr.To(int32(len(terminating)))
	}
	return status
}

// updateStatus writes status unless nothing changed, retrying once after
// a fresh GET (upstream updateReplicaSetStatus). observedGeneration is the
// generation the status was computed for.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	old := rs.Status
	if old.Replicas == status.Replicas &&
		old.FullyLabeledReplicas == status.FullyLabeledReplicas &&
		old.ReadyReplicas == status.ReadyReplicas &&
		old.AvailableReplicas == status.AvailableReplicas &&
		ptr.Equal(old.TerminatingReplicas, status.TerminatingReplicas) &&
		rs.Generation == old.ObservedGeneration &&
		apiequality.Semantic.DeepEqual(old.Conditions, status.Conditions) {
		return rs, nil
	}
	status.ObservedGeneration = rs.Generation
	for i := 0; ; i++ {
		c.log.Debug("updating status", c.kind.gvk.Kind, keyOf(rs),
			"replicas", fmt.Sprintf("%d->%d (need %d)", rs.Status.Replicas, status.Replicas, replicas(rs)),
			"readyReplicas", fmt.Sprintf("%d->%d", rs.Status.ReadyReplicas, status.ReadyReplicas),
			"availableReplicas", fmt.Sprintf("%d->%d", rs.Status.AvailableReplicas, status.AvailableReplicas),
			"observedGeneration", fmt.Sprintf("%d->%d", rs.Status.ObservedGeneration, status.ObservedGeneration))
		rs.Status = status
		updated, err := c.kind.updateStatus(ctx, rs)
		if err == nil {
			return updated, nil
		}
		if i >= statusUpdateRetries {
			return nil, fmt.Errorf("updating status: %w", err)
		}
		fresh, getErr := c.kind.get(ctx, rs.Namespace, rs.Name)
		if getErr != nil {
			// The status can no longer be trusted; the GET's error says
			// more than the update's.
			return nil, fmt.Errorf("rereading for a status update: %w", getErr)
		}
		rs = fresh
	}
}

func condition(status appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// setCondition sets c, unless a condition of its type with the same
// status and reason is there already (upstream SetCondition).
func setCondition(status *appsv1.ReplicaSetStatus, c appsv1.ReplicaSetCondition) {
	if cur := condition(*status, c.Type); cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	status.Conditions = append(withoutCondition(status.Conditions, c.Type), c)
}

func withoutCondition(cs []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range cs {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}
