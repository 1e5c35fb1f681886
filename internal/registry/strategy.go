package registry

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The strategies below are generic over the typed k8s.io/api objects: a
// built-in object is TypeMeta, ObjectMeta, and then "spec-like" fields and
// an optional Status. Upstream writes one strategy per type; most of them
// reset Status on create and on a main-resource update, and spec-like
// fields on a status update, which reflection expresses once.

// prepareForCreate resets what a client may not set on create: status for
// resources with a status subresource (upstream's PrepareForCreate), with
// the per-type initial status upstream writes.
func prepareForCreate(r *Resource, obj runtime.Object) {
	if _, ok := r.HasSubresource("status"); ok {
		switch obj.(type) {
		case *corev1.Node:
			// Nodes register with their status (the kubelet's first
			// create carries it); upstream keeps it.
		default:
			setStatus(obj, nil)
		}
	}
	switch o := obj.(type) {
	case *corev1.Namespace:
		// Spec E1: phase Active and the kubernetes finalizer.
		o.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
		if !containsFinalizer(o.Spec.Finalizers, corev1.FinalizerKubernetes) {
			o.Spec.Finalizers = append(o.Spec.Finalizers, corev1.FinalizerKubernetes)
		}
	case *corev1.Pod:
		o.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOSClass(o)}
	case *corev1.PersistentVolume:
		o.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending}
	case *corev1.PersistentVolumeClaim:
		o.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
	case *batchv1.Job:
		generateJobSelector(o)
	}
}

// Job labels upstream's job strategy puts on the pod template.
const (
	jobNameLabel             = "batch.kubernetes.io/job-name"
	legacyJobNameLabel       = "job-name"
	controllerUIDLabel       = "batch.kubernetes.io/controller-uid"
	legacyControllerUIDLabel = "controller-uid"
)

// generateJobSelector is the job strategy's generateSelectorIfNeeded: unless
// the Job asks for a manual selector, its pods are labelled with the Job's
// name and uid and selected by the uid, so a plain `kubectl create job`
// needs no selector. The name and uid must be set already.
func generateJobSelector(job *batchv1.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	for _, l := range []string{legacyJobNameLabel, jobNameLabel} {
		if _, ok := job.Spec.Template.Labels[l]; !ok {
			job.Spec.Template.Labels[l] = job.Name
		}
	}
	for _, l := range []string{legacyControllerUIDLabel, controllerUIDLabel} {
		if _, ok := job.Spec.Template.Labels[l]; !ok {
			job.Spec.Template.Labels[l] = string(job.UID)
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := job.Spec.Selector.MatchLabels[controllerUIDLabel]; !ok {
		job.Spec.Selector.MatchLabels[controllerUIDLabel] = string(job.UID)
	}
}

// prepareForUpdate keeps the stored status on a main-resource update and
// the stored spec on a status update, as upstream's update and status
// strategies do (a status update keeps metadata changes, except those the
// type's status strategy resets).
func prepareForUpdate(r *Resource, subresource string, obj, old runtime.Object) {
	switch subresource {
	case "":
		if _, ok := r.HasSubresource("status"); ok {
			setStatus(obj, statusOf(old))
		}
		if ns, ok := obj.(*corev1.Namespace); ok {
			// Namespace spec.finalizers change only through /finalize.
			ns.Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
			ns.Status = old.(*corev1.Namespace).Status
		}
	case "status":
		copySpecFields(obj, old)
		switch o := obj.(type) {
		case *corev1.Pod:
			o.OwnerReferences = old.(*corev1.Pod).OwnerReferences
		case *appsv1.Deployment:
			o.Labels = old.(*appsv1.Deployment).Labels
		}
	case "finalize":
		// Spec E6: /finalize changes spec.finalizers (and metadata), never
		// status.
		obj.(*corev1.Namespace).Status = old.(*corev1.Namespace).Status
	}
}

// specChanged reports whether any field other than metadata and status
// differs; such changes bump metadata.generation (spec A7).
func specChanged(obj, old runtime.Object) bool {
	changed := false
	eachSpecField(obj, old, func(n, o reflect.Value) {
		changed = changed || !apiequality.Semantic.DeepEqual(n.Interface(), o.Interface())
	})
	return changed
}

func copySpecFields(obj, old runtime.Object) {
	eachSpecField(obj, old, func(n, o reflect.Value) { n.Set(o) })
}

// eachSpecField calls f with each pair of top-level fields other than
// metadata and status: the "spec-like" part of a built-in object.
func eachSpecField(obj, old runtime.Object, f func(n, o reflect.Value)) {
	nv, ov := structOf(obj), structOf(old)
	t := nv.Type()
	for i := 0; i < t.NumField(); i++ {
		switch t.Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		f(nv.Field(i), ov.Field(i))
	}
}

func structOf(obj runtime.Object) reflect.Value {
	return reflect.ValueOf(obj).Elem()
}

// setStatus sets obj's Status field to from's (nil: the zero value).
func setStatus(obj runtime.Object, from *reflect.Value) {
	f := structOf(obj).FieldByName("Status")
	if !f.IsValid() {
		return
	}
	if from == nil {
		f.Set(reflect.Zero(f.Type()))
		return
	}
	f.Set(*from)
}

func statusOf(obj runtime.Object) *reflect.Value {
	f := structOf(obj).FieldByName("Status")
	if !f.IsValid() {
		return nil
	}
	return &f
}

func metaOf(obj runtime.Object) metav1.Object {
	return obj.(metav1.Object)
}

func containsFinalizer(list []corev1.FinalizerName, f corev1.FinalizerName) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}

// podQOSClass computes status.qosClass as upstream's qos.GetPodQOS does for
// the common cases: BestEffort without requests or limits, Guaranteed when
// every container's requests equal its limits for cpu and memory,
// Burstable otherwise.
func podQOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	any, guaranteed := false, true
	for _, c := range containers {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			any = true
		}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, hasL := c.Resources.Limits[name]
			r, hasR := c.Resources.Requests[name]
			if !hasL || (hasR && r.Cmp(l) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	default:
		return corev1.PodQOSBurstable
	}
}
