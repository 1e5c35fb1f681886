package podgc

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// failedStatus returns pod's status moved to phase Failed, with cond set
// as upstream's UpdatePodCondition sets it: a new condition or a changed
// status gets lastTransitionTime now; an unchanged status keeps its time.
// Observed generations follow the pod's generation (PodObservedGeneration
// tracking is GA).
func failedStatus(pod *corev1.Pod, cond *corev1.PodCondition, now time.Time) corev1.PodStatus {
	status := *pod.Status.DeepCopy()
	status.Phase = corev1.PodFailed
	status.ObservedGeneration = pod.Generation
	if cond == nil {
		return status
	}
	c := *cond
	c.ObservedGeneration = pod.Generation
	c.LastTransitionTime = metav1.NewTime(now)
	for i := range status.Conditions {
		if status.Conditions[i].Type == c.Type {
			if status.Conditions[i].Status == c.Status {
				c.LastTransitionTime = status.Conditions[i].LastTransitionTime
			}
			status.Conditions[i] = c
			return status
		}
	}
	status.Conditions = append(status.Conditions, c)
	return status
}

// failedStatusPatch is the strategic merge patch of the status subresource
// from pod's status to failedStatus, with the pod's uid in the patch as a
// precondition (upstream util/pod PatchPodStatus).
func failedStatusPatch(pod *corev1.Pod, cond *corev1.PodCondition, now time.Time) ([]byte, error) {
	oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return nil, err
	}
	newData, err := json.Marshal(corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{UID: pod.UID},
		Status:     failedStatus(pod, cond, now),
	})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("building the status patch: %w", err)
	}
	return patch, nil
}
