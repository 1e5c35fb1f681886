package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/terminus-project/terminus/internal/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// bindingResource is the resource upstream names in a binding's conflicts
// ("Operation cannot be fulfilled on pods/binding ...").
var bindingResource = schema.GroupResource{Resource: "pods/binding"}

// initContainerAnnotations are the pre-1.6 init-container annotations that
// upstream drops from the annotations a Binding merges into the pod
// (podutil.DropInitContainerAnnotations): a binding must not resurrect them.
var initContainerAnnotations = []string{
	"pod.beta.kubernetes.io/init-containers",
	"pod.alpha.kubernetes.io/init-containers",
	"pod.beta.kubernetes.io/init-container-statuses",
	"pod.alpha.kubernetes.io/init-container-statuses",
}

// Bind assigns the pod name to the Binding's target node: POST
// pods/{name}/binding, and the legacy POST bindings with name taken from the
// Binding. It does what upstream's BindingREST does:
//   - the URL's name must be the Binding's (400 otherwise);
//   - the target is a Node (kind empty or "Node") with a valid name
//     (ValidatePodBinding; upstream returns that list as a plain error,
//     which its handler turns into a reasonless 500);
//   - a uid or resourceVersion on the Binding are preconditions on the pod;
//   - spec.nodeName is set only when empty, on a pod not being deleted and
//     without scheduling gates (409 Conflict on pods/binding otherwise);
//   - status.nominatedNodeName is cleared, the Binding's annotations and
//     labels are merged into the pod's, and the PodScheduled condition
//     becomes True (upstream's UpdatePodCondition: lastTransitionTime moves
//     only when the status changes; reason and message are cleared).
//
// The write bypasses the pod's update strategy (validation would forbid a
// nodeName change), as upstream's direct GuaranteedUpdate does; dryRun runs
// every check and writes nothing.
func (s *Store) Bind(ctx context.Context, ns, name string, b *corev1.Binding, dryRun bool) (*corev1.Pod, error) {
	if s.res.GVR != corev1.SchemeGroupVersion.WithResource("pods") {
		return nil, apierrors.NewInternalError(fmt.Errorf("binding is served by pods, not %s", s.res.GVR.Resource))
	}
	if name != b.Name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Binding object")
	}
	if errs := validateBinding(b); len(errs) > 0 {
		return nil, reasonless(errs.ToAggregate())
	}
	now := metav1.NewTime(s.now())
	out, err := s.guaranteedUpdate(ctx, ns, name, func(obj runtime.Object) error {
		pod := obj.(*corev1.Pod)
		if err := s.checkPreconditions(ns, pod, b.UID, b.ResourceVersion); err != nil {
			return err
		}
		if pod.DeletionTimestamp != nil {
			return apierrors.NewConflict(bindingResource, name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return apierrors.NewConflict(bindingResource, name, fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		if len(pod.Spec.SchedulingGates) != 0 {
			return apierrors.NewConflict(bindingResource, name, fmt.Errorf("pod %v has non-empty .spec.schedulingGates", pod.Name))
		}
		pod.Spec.NodeName = b.Target.Name
		// ClearingNominatedNodeNameAfterBinding (beta, on since 1.35).
		pod.Status.NominatedNodeName = ""
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		for k, v := range b.Annotations {
			pod.Annotations[k] = v
		}
		for _, k := range initContainerAnnotations {
			delete(pod.Annotations, k)
		}
		// PodTopologyLabelsAdmission (beta, on since 1.35): the Binding's
		// labels overwrite the pod's.
		if len(b.Labels) > 0 && pod.Labels == nil {
			pod.Labels = map[string]string{}
		}
		for k, v := range b.Labels {
			pod.Labels[k] = v
		}
		setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, now)
		return nil
	}, dryRun)
	if err != nil {
		return nil, err
	}
	return out.(*corev1.Pod), nil
}

// validateBinding is upstream's ValidatePodBinding.
func validateBinding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	target := field.NewPath("target")
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(target.Child("kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(target.Child("name"), ""))
	} else if b.Target.Kind == "" || b.Target.Kind == "Node" {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(b.Target.Name, false) {
			errs = append(errs, field.Invalid(target.Child("name"), b.Target.Name, msg))
		}
	}
	return errs
}

// setPodCondition is upstream's podutil.UpdatePodCondition: the condition
// replaces one of its type (or is appended), and keeps the old
// lastTransitionTime when its status does not change.
func setPodCondition(status *corev1.PodStatus, c corev1.PodCondition, now metav1.Time) {
	c.LastTransitionTime = now
	for i := range status.Conditions {
		if status.Conditions[i].Type != c.Type {
			continue
		}
		if status.Conditions[i].Status == c.Status {
			c.LastTransitionTime = status.Conditions[i].LastTransitionTime
		}
		status.Conditions[i] = c
		return
	}
	status.Conditions = append(status.Conditions, c)
}

// checkPreconditions applies a write's uid and resourceVersion
// preconditions with the messages of upstream's storage.Preconditions,
// which its update path reports as a 409 Conflict on the resource.
func (s *Store) checkPreconditions(ns string, obj metav1.Object, uid types.UID, rv string) error {
	msg := ""
	switch {
	case uid != "" && uid != obj.GetUID():
		msg = fmt.Sprintf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, obj.GetUID())
	case rv != "" && rv != obj.GetResourceVersion():
		msg = fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", rv, obj.GetResourceVersion())
	default:
		return nil
	}
	// Upstream's StorageError text, verbatim, so clients matching on it
	// see the same message.
	return apierrors.NewConflict(s.res.GroupResource(), obj.GetName(), fmt.Errorf(
		"StorageError: invalid object, Code: 4, Key: %s, ResourceVersion: 0, AdditionalErrorMsg: %s", s.key(ns, obj.GetName()), msg))
}

// guaranteedUpdate reads the object, lets mutate change it, and writes it
// on the revision read, again after a lost race; no strategy, defaults or
// validation run (the caller is a subresource that owns its rules, as
// upstream's binding writes straight to storage). An unchanged object is
// not written. With dryRun nothing is written.
func (s *Store) guaranteedUpdate(ctx context.Context, ns, name string, mutate func(runtime.Object) error, dryRun bool) (runtime.Object, error) {
	key := s.key(ns, name)
	for {
		kv, err := s.storage.Get(ctx, key)
		if err != nil {
			return nil, s.storageError(err, name)
		}
		obj, err := s.decodeKV(kv)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if err := mutate(obj); err != nil {
			return nil, err
		}
		obj.(metav1.Object).SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
		data, err := s.encode(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if dryRun || bytes.Equal(data, kv.Value) {
			return obj, nil
		}
		rev, err := s.storage.Update(ctx, key, data, kv.ModRevision)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, s.storageError(err, name)
		}
		setResourceVersion(obj, rev)
		return obj, nil
	}
}

// reasonless is how upstream's handlers answer an error that is not an API
// status: 500 with the error's text and no reason (ErrorToAPIStatus).
func reasonless(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 500, Message: err.Error(),
	}}
}
