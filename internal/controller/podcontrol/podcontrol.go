package podcontrol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Event reasons of pod creates and deletes; FailedCreate and FailedDelete
// are also the reasons of a ReplicaFailure condition (upstream
// controller_utils.go).
const (
	FailedCreatePodReason     = "FailedCreate"
	SuccessfulCreatePodReason = "SuccessfulCreate"
	FailedDeletePodReason     = "FailedDelete"
	SuccessfulDeletePodReason = "SuccessfulDelete"
)

// PodControl creates, deletes and patches the pods of an owner and
// records upstream's events on the owner (upstream RealPodControl).
type PodControl struct {
	// Client writes the pods. Required.
	Client kubernetes.Interface
	// Recorder records the events. Nil: none.
	Recorder record.EventRecorder
	// Logger receives debug logs. Nil: none.
	Logger *slog.Logger
}

// NewControllerRef is the reference of a controller to what it creates
// or adopts: controller and blockOwnerDeletion true (spec D8, upstream
// metav1.NewControllerRef).
func NewControllerRef(owner metav1.Object, kind schema.GroupVersionKind) *metav1.OwnerReference {
	return metav1.NewControllerRef(owner, kind)
}

// ObjectReference is the reference events name owner by: kind and
// apiVersion from gvk, since objects from informers carry no TypeMeta.
func ObjectReference(owner metav1.Object, gvk schema.GroupVersionKind) *corev1.ObjectReference {
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	return &corev1.ObjectReference{
		Kind: kind, APIVersion: apiVersion, Namespace: owner.GetNamespace(), Name: owner.GetName(),
		UID: owner.GetUID(), ResourceVersion: owner.GetResourceVersion(),
	}
}

// PodFromTemplate builds a pod of template owned by ref (upstream
// GetPodFromTemplate): labels, annotations and finalizers are copied from
// the template, the name is generated from "<owner>-" (or "<owner>" when
// the dash would make an invalid name), the spec is a deep copy.
func PodFromTemplate(template *corev1.PodTemplateSpec, ref *metav1.OwnerReference) *corev1.Pod {
	prefix := ref.Name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = ref.Name
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels:          maps.Clone(template.Labels),
			Annotations:     maps.Clone(template.Annotations),
			Finalizers:      slices.Clone(template.Finalizers),
			GenerateName:    prefix,
			OwnerReferences: []metav1.OwnerReference{*ref},
		},
		Spec: *template.Spec.DeepCopy(),
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Finalizers == nil {
		pod.Finalizers = []string{}
	}
	return pod
}

// validateControllerRef checks what upstream checks before a create: a
// complete controller reference that blocks owner deletion.
func validateControllerRef(ref *metav1.OwnerReference) error {
	switch {
	case ref == nil:
		return errors.New("controllerRef is nil")
	case ref.APIVersion == "":
		return errors.New("controllerRef has empty APIVersion")
	case ref.Kind == "":
		return errors.New("controllerRef has empty Kind")
	case ref.Controller == nil || !*ref.Controller:
		return errors.New("controllerRef.Controller is not set to true")
	case ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion:
		return errors.New("controllerRef.BlockOwnerDeletion is not set")
	}
	return nil
}

// CreatePod creates a pod of template in namespace, controlled by ref,
// with generateName generateName if not empty (else PodFromTemplate's).
// It records SuccessfulCreate "Created pod: <name>" on owner, or
// FailedCreate "Error creating: <err>" unless the namespace is
// terminating (upstream CreatePodsWithGenerateName).
func (c *PodControl) CreatePod(ctx context.Context, namespace string, template *corev1.PodTemplateSpec, owner runtime.Object, ref *metav1.OwnerReference, generateName string) (*corev1.Pod, error) {
	if err := validateControllerRef(ref); err != nil {
		return nil, err
	}
	pod := PodFromTemplate(template, ref)
	if generateName != "" {
		pod.GenerateName = generateName
	}
	if len(pod.Labels) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	created, err := c.Client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.event(owner, corev1.EventTypeWarning, FailedCreatePodReason, "Error creating: %v", err)
		}
		return nil, fmt.Errorf("creating a pod: %w", err)
	}
	c.debug("created pod", "namespace", namespace, "pod", created.Name, "controller", ref.Name)
	c.event(owner, corev1.EventTypeNormal, SuccessfulCreatePodReason, "Created pod: %v", created.Name)
	return created, nil
}

// DeletePod deletes the pod name in namespace with no options, as
// upstream: the pod's own grace period applies (an unscheduled pod goes
// at once, spec G1). It records SuccessfulDelete "Deleted pod: <name>" on
// owner, or FailedDelete "Error deleting: <err>" for errors other than
// NotFound, which it returns unrecorded (the pod is gone already).
func (c *PodControl) DeletePod(ctx context.Context, namespace, name string, owner runtime.Object) error {
	c.debug("deleting pod", "namespace", namespace, "pod", name)
	if err := c.Client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pod %s: %w", name, err)
		}
		c.event(owner, corev1.EventTypeWarning, FailedDeletePodReason, "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	c.event(owner, corev1.EventTypeNormal, SuccessfulDeletePodReason, "Deleted pod: %v", name)
	return nil
}

// PatchPod applies a strategic merge patch to the pod name in namespace.
func (c *PodControl) PatchPod(ctx context.Context, namespace, name string, data []byte) error {
	if _, err := c.Client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching pod %s: %w", name, err)
	}
	return nil
}

func (c *PodControl) event(owner runtime.Object, typ, reason, format string, args ...any) {
	if c.Recorder != nil && owner != nil {
		c.Recorder.Eventf(owner, typ, reason, format, args...)
	}
}

func (c *PodControl) debug(msg string, args ...any) {
	if c.Logger != nil {
		c.Logger.Debug(msg, args...)
	}
}
