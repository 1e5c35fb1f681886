package lifecycle

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PrepareUpdate restores the deletion fields an update may not change, as
// rest.BeforeUpdate does: a set deletionTimestamp is kept whatever the
// request sends (spec C3), and an omitted deletionGracePeriodSeconds keeps
// the stored value (C4). Changing either otherwise is left to validation,
// which answers 422 "field is immutable" (C3 for a timestamp sent on a
// live object, C4 for a changed grace period).
func PrepareUpdate(updated, stored metav1.Object) {
	if ts := stored.GetDeletionTimestamp(); ts != nil {
		updated.SetDeletionTimestamp(ts)
	}
	if g := stored.GetDeletionGracePeriodSeconds(); g != nil && updated.GetDeletionGracePeriodSeconds() == nil {
		updated.SetDeletionGracePeriodSeconds(g)
	}
}

// ShouldDeleteDuringUpdate is spec C5, C6 and E7: an update that leaves a
// terminating object with no finalizers removes it in the same request,
// unless it is a pod in its grace period; a namespace must also have an
// empty spec.finalizers.
func ShouldDeleteDuringUpdate(updated, stored runtime.Object) bool {
	um, sm := updated.(metav1.Object), stored.(metav1.Object)
	if g := sm.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
		return false
	}
	if sm.GetDeletionTimestamp() == nil || len(um.GetFinalizers()) > 0 {
		return false
	}
	if ns, ok := updated.(*corev1.Namespace); ok {
		return len(ns.Spec.Finalizers) == 0
	}
	return true
}
