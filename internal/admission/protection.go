// Package admission holds terminus's built-in admission: pure functions
// over the object being written, called by the registry on the request
// path. They do no I/O and read no clock, so they can be table-tested and
// reused by anything that previews a write.
package admission

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The storage protection finalizers (spec F1, F2). Their controllers
// (controller/pvcprotection, controller/pvprotection) remove them once the
// object is no longer in use.
const (
	// PVCProtectionFinalizer holds a PersistentVolumeClaim while a
	// scheduled pod uses it.
	PVCProtectionFinalizer = "kubernetes.io/pvc-protection"
	// PVProtectionFinalizer holds a PersistentVolume while it is bound.
	PVProtectionFinalizer = "kubernetes.io/pv-protection"
)

// MutateOnCreate is the create-time half of upstream's
// StorageObjectInUseProtection admission plugin (spec F1, F2): it appends
// kubernetes.io/pvc-protection to a PersistentVolumeClaim and
// kubernetes.io/pv-protection to a PersistentVolume unless they already
// carry it. Other objects are left alone.
//
// Call it on CREATE of the main resource only: upstream does not add the
// finalizers on update, nor on subresource writes. It mutates obj in place.
// VolumeAttributesClasses (F3) are not served, so they are not handled.
func MutateOnCreate(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.PersistentVolumeClaim:
		if o != nil {
			o.Finalizers = ensure(o.Finalizers, PVCProtectionFinalizer)
		}
	case *corev1.PersistentVolume:
		if o != nil {
			o.Finalizers = ensure(o.Finalizers, PVProtectionFinalizer)
		}
	}
}

// ensure appends f to finalizers unless it is already there.
func ensure(finalizers []string, f string) []string {
	if slices.Contains(finalizers, f) {
		return finalizers
	}
	return append(finalizers, f)
}
