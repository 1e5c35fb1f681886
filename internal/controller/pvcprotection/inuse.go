package pvcprotection

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podUsesPVC reports whether pod holds pvc for deletion (spec F1,
// upstream podUsesPVCForDeletion). Only a scheduled pod (spec.nodeName set)
// counts, because the kubelet sees pods only once they are scheduled and
// never starts one whose claim is terminating. A scheduled pod counts
// whatever its phase: a Succeeded or Failed pod holds the claim until the
// pod object is gone. For a generic ephemeral volume the claim must be the
// one created for this pod (named <pod>-<volume> and controlled by the pod),
// and a pod that is shut down (see podIsShutDown) no longer counts.
func podUsesPVC(pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) bool {
	if pod.Spec.NodeName == "" || pod.Namespace != pvc.Namespace {
		return false
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.PersistentVolumeClaim != nil:
			if v.PersistentVolumeClaim.ClaimName == pvc.Name {
				return true
			}
		case v.Ephemeral != nil:
			if ephemeralClaimName(pod, v) == pvc.Name && metav1.IsControlledBy(pvc, pod) && !podIsShutDown(pod) {
				return true
			}
		}
	}
	return false
}

// podIsShutDown reports whether the kubelet is done with pod or it was
// force-deleted: deletionTimestamp set with a grace of 0. Such a pod only
// waits for its own finalizers; counting it could deadlock a pod finalizer
// that waits for the claim.
func podIsShutDown(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds == 0
}

// ephemeralClaimName is the name of the claim of a generic ephemeral
// volume: <pod name>-<volume name> (k8s.io/component-helpers
// storage/ephemeral.VolumeClaimName).
func ephemeralClaimName(pod *corev1.Pod, v *corev1.Volume) string {
	return pod.Name + "-" + v.Name
}

// claimNames lists the claims a pod's volumes name, ephemeral ones
// included; it backs the pod index and the requeue on pod events.
func claimNames(pod *corev1.Pod) []string {
	var names []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.PersistentVolumeClaim != nil:
			names = append(names, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			names = append(names, ephemeralClaimName(pod, v))
		}
	}
	return names
}

// podIsTerminated is upstream's volume util IsPodTerminated: the pod
// succeeded or failed, or it is terminating with no container running.
func podIsTerminated(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return true
	}
	return pod.DeletionTimestamp != nil &&
		notRunning(pod.Status.InitContainerStatuses) &&
		notRunning(pod.Status.ContainerStatuses) &&
		notRunning(pod.Status.EphemeralContainerStatuses)
}

func notRunning(statuses []corev1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.State.Terminated == nil && s.State.Waiting == nil {
			return false
		}
	}
	return true
}

// mayReleaseClaims reports whether an event about pod can let a claim go:
// a deleted pod, a terminated one, or an unscheduled one. A live scheduled
// pod only keeps holding its claims, so its events need no work
// (upstream enqueuePVCs).
func mayReleaseClaims(pod *corev1.Pod, deleted bool) bool {
	return deleted || podIsTerminated(pod) || pod.Spec.NodeName == ""
}
