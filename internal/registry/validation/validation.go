// Package validation reproduces the create/update validation upstream
// Kubernetes runs in its registry strategies (k8s.io/kubernetes
// pkg/apis/*/validation), on the external v1 types terminus serves. Field
// paths and messages are upstream's so that apierrors.NewInvalid(kind, name,
// errs) yields the text users and kubectl see from a real apiserver, e.g.
// `Pod "p" is invalid: spec.containers[0].image: Required value`.
//
// Objects are expected to be defaulted (package defaults) and prepared by the
// registry (generated names, Job selectors) before they are validated, as
// upstream does. Only the checks users commonly hit are reproduced; see the
// per-file comments for what is left out.
package validation

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var metaPath = field.NewPath("metadata")

// ValidateCreate validates obj for a create. namespaced tells whether the
// resource is namespace-scoped (metadata.namespace required) or cluster-scoped
// (metadata.namespace forbidden). Unknown types get ObjectMeta validation
// with DNS-subdomain names.
func ValidateCreate(obj runtime.Object, namespaced bool) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		errs := validatePod(o, namespaced)
		// ValidatePodCreate: ephemeral containers only via the subresource.
		if len(o.Spec.EphemeralContainers) > 0 {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "ephemeralContainers"), "cannot be set on create"))
		}
		if o.Spec.NodeName != "" && len(o.Spec.SchedulingGates) != 0 {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "nodeName"), "cannot be set until all schedulingGates have been cleared"))
		}
		return errs
	case *corev1.Event:
		return validateCoreEvent(o, namespaced)
	case *eventsv1.Event:
		return validateEventsV1Event(o, namespaced)
	case *batchv1.CronJob:
		errs := validateCronJob(o, namespaced)
		// ValidateCronJobCreate: the controller appends an 11-character
		// suffix to job names, which must stay DNS labels.
		if len(o.Name) > utilvalidation.DNS1035LabelMaxLength-11 {
			errs = append(errs, field.Invalid(metaPath.Child("name"), o.Name, "must be no more than 52 characters"))
		}
		return errs
	}
	return validateObject(obj, namespaced)
}

// ValidateUpdate validates obj replacing old. Both must be the same type.
func ValidateUpdate(obj, old runtime.Object, namespaced bool) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		if p, ok := old.(*corev1.Pod); ok {
			return validatePodUpdate(o, p, namespaced)
		}
	case *corev1.Event:
		if p, ok := old.(*corev1.Event); ok {
			return append(metaUpdate(&o.ObjectMeta, &p.ObjectMeta), validateCoreEvent(o, namespaced)...)
		}
	case *eventsv1.Event:
		if p, ok := old.(*eventsv1.Event); ok {
			return validateEventsV1Update(o, p, namespaced)
		}
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metaPath, err)}
	}
	om, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(metaPath, err)}
	}
	errs := metaUpdateAccessor(m, om)
	errs = append(errs, validateObject(obj, namespaced)...)
	return append(errs, validateTypeUpdate(obj, old)...)
}

// validateObject is the create-time validation shared by create and update
// (upstream's Validate*Update functions re-run the create checks).
func validateObject(obj runtime.Object, namespaced bool) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		errs := objectMeta(&o.ObjectMeta, namespaced, apimachineryvalidation.ValidateNamespaceName)
		for i := range o.Spec.Finalizers {
			// validateFinalizerName: qualified name + standard-name check.
			fin := string(o.Spec.Finalizers[i])
			p := field.NewPath("spec", "finalizers")
			errs = append(errs, apimachineryvalidation.ValidateFinalizerName(fin, p)...)
			errs = append(errs, kubeFinalizerName(fin, p)...)
		}
		return errs
	case *corev1.ConfigMap:
		return validateConfigMap(o, namespaced)
	case *corev1.Secret:
		return validateSecret(o, namespaced)
	case *corev1.ServiceAccount:
		return objectMeta(&o.ObjectMeta, namespaced, apimachineryvalidation.ValidateServiceAccountName)
	case *corev1.Pod:
		return validatePod(o, namespaced)
	case *corev1.PodTemplate:
		errs := objectMeta(&o.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
		return append(errs, validatePodTemplateSpec(&o.Template, field.NewPath("template"))...)
	case *corev1.ReplicationController:
		return validateReplicationController(o, namespaced)
	case *corev1.Service:
		return validateService(o, namespaced)
	case *corev1.Endpoints:
		return validateEndpoints(o, namespaced)
	case *corev1.Event:
		return validateCoreEvent(o, namespaced)
	case *eventsv1.Event:
		return validateEventsV1Event(o, namespaced)
	case *corev1.Node:
		return validateNode(o, namespaced)
	case *corev1.PersistentVolume:
		return validatePersistentVolume(o, namespaced)
	case *corev1.PersistentVolumeClaim:
		errs := objectMeta(&o.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
		return append(errs, validatePVCSpec(&o.Spec, field.NewPath("spec"))...)
	case *appsv1.Deployment:
		return validateDeployment(o, namespaced)
	case *appsv1.ReplicaSet:
		return validateReplicaSet(o, namespaced)
	case *appsv1.StatefulSet:
		return validateStatefulSet(o, namespaced)
	case *appsv1.DaemonSet:
		return validateDaemonSet(o, namespaced)
	case *batchv1.Job:
		return validateJob(o, namespaced)
	case *batchv1.CronJob:
		return validateCronJob(o, namespaced)
	case *coordinationv1.Lease:
		return validateLease(o, namespaced)
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o, namespaced)
	case *storagev1.StorageClass:
		return validateStorageClass(o, namespaced)
	case *autoscalingv1.Scale:
		// ValidateScale.
		errs := objectMeta(&o.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
		if o.Spec.Replicas < 0 {
			errs = append(errs, field.Invalid(field.NewPath("spec", "replicas"), o.Spec.Replicas, apimachineryvalidation.IsNegativeErrorMsg))
		}
		return errs
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metaPath, err)}
	}
	return objectMetaAccessor(m, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
}

// validateTypeUpdate holds the update-only rules (immutable fields).
func validateTypeUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return namespaceStatus(o)
	case *corev1.ConfigMap:
		if p, ok := old.(*corev1.ConfigMap); ok {
			return configMapUpdate(o, p)
		}
	case *corev1.Secret:
		if p, ok := old.(*corev1.Secret); ok {
			return secretUpdate(o, p)
		}
	case *corev1.Service:
		if p, ok := old.(*corev1.Service); ok {
			return serviceUpdate(o, p)
		}
	case *corev1.Node:
		if p, ok := old.(*corev1.Node); ok {
			return nodeUpdate(o, p)
		}
	case *corev1.PersistentVolume:
		if p, ok := old.(*corev1.PersistentVolume); ok {
			return pvUpdate(o, p)
		}
	case *corev1.PersistentVolumeClaim:
		if p, ok := old.(*corev1.PersistentVolumeClaim); ok {
			return pvcUpdate(o, p)
		}
	case *appsv1.Deployment:
		if p, ok := old.(*appsv1.Deployment); ok {
			return immutable(o.Spec.Selector, p.Spec.Selector, field.NewPath("spec", "selector"))
		}
	case *appsv1.ReplicaSet:
		if p, ok := old.(*appsv1.ReplicaSet); ok {
			return immutable(o.Spec.Selector, p.Spec.Selector, field.NewPath("spec", "selector"))
		}
	case *appsv1.DaemonSet:
		if p, ok := old.(*appsv1.DaemonSet); ok {
			return immutable(o.Spec.Selector, p.Spec.Selector, field.NewPath("spec", "selector"))
		}
	case *appsv1.StatefulSet:
		if p, ok := old.(*appsv1.StatefulSet); ok {
			return statefulSetUpdate(o, p)
		}
	case *batchv1.Job:
		if p, ok := old.(*batchv1.Job); ok {
			return jobUpdate(o, p)
		}
	case *discoveryv1.EndpointSlice:
		if p, ok := old.(*discoveryv1.EndpointSlice); ok {
			return immutable(o.AddressType, p.AddressType, field.NewPath("addressType"))
		}
	case *storagev1.StorageClass:
		if p, ok := old.(*storagev1.StorageClass); ok {
			return storageClassUpdate(o, p)
		}
	}
	return nil
}

func immutable(newVal, oldVal interface{}, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newVal, oldVal, p)
}

// objectMeta is core/validation ValidateObjectMeta: apimachinery's checks
// plus the built-in finalizer-name rule (spec A11).
func objectMeta(m *metav1.ObjectMeta, namespaced bool, nameFn apimachineryvalidation.ValidateNameFunc) field.ErrorList {
	return objectMetaAccessor(m, namespaced, nameFn)
}

func objectMetaAccessor(m metav1.Object, namespaced bool, nameFn apimachineryvalidation.ValidateNameFunc) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(m, namespaced, nameFn, metaPath)
	for i, f := range m.GetFinalizers() {
		errs = append(errs, kubeFinalizerName(f, metaPath.Child("finalizers").Index(i))...)
	}
	return errs
}

// metaUpdate is core/validation ValidateObjectMetaUpdate.
func metaUpdate(m, old *metav1.ObjectMeta) field.ErrorList {
	return metaUpdateAccessor(m, old)
}

func metaUpdateAccessor(m, old metav1.Object) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaAccessorUpdate(m, old, metaPath)
	for i, f := range m.GetFinalizers() {
		errs = append(errs, kubeFinalizerName(f, metaPath.Child("finalizers").Index(i))...)
	}
	return errs
}

// kubeFinalizerName is validateKubeFinalizerName: on built-in types a name
// without a "/" must be one of the standard finalizers.
func kubeFinalizerName(name string, p *field.Path) field.ErrorList {
	if strings.Contains(name, "/") {
		return nil
	}
	switch name {
	case string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents:
		return nil
	}
	return field.ErrorList{field.Invalid(p, name, "name is neither a standard finalizer name nor is it fully qualified")}
}

// pathSegmentName is used where upstream validates no more than that the
// name can appear in a URL (core v1 Events skip ObjectMeta name rules).
func pathSegmentName(name string, prefix bool) []string {
	return path.IsValidPathSegmentName(name)
}

// namespaceStatus is ValidateNamespaceStatusUpdate (spec E6): the phase
// follows deletionTimestamp. Upstream names the field status.Phase.
func namespaceStatus(ns *corev1.Namespace) field.ErrorList {
	p := field.NewPath("status", "Phase")
	switch {
	case ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceActive:
		return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
	case ns.DeletionTimestamp != nil && ns.Status.Phase != corev1.NamespaceTerminating:
		return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}
