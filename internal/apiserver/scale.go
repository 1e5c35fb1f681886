package apiserver

import (
	"fmt"
	"math"
	"net/http"

	"github.com/terminus-project/terminus/internal/registry"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The /scale subresource exchanges autoscaling/v1 Scale objects with the
// parent's spec.replicas, status.replicas and selector, as upstream's scale
// REST storage does.

// scaleTarget gives access to a scalable object's replica fields.
func scaleFields(obj runtime.Object) (spec *int32, status int32, selector string, err error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return replicasPtr(&o.Spec.Replicas), o.Status.Replicas, labelSelectorString(o.Spec.Selector), nil
	case *appsv1.ReplicaSet:
		return replicasPtr(&o.Spec.Replicas), o.Status.Replicas, labelSelectorString(o.Spec.Selector), nil
	case *appsv1.StatefulSet:
		return replicasPtr(&o.Spec.Replicas), o.Status.Replicas, labelSelectorString(o.Spec.Selector), nil
	case *corev1.ReplicationController:
		return replicasPtr(&o.Spec.Replicas), o.Status.Replicas, metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: o.Spec.Selector}), nil
	}
	return nil, 0, "", apierrors.NewInternalError(fmt.Errorf("%T has no scale subresource", obj))
}

func replicasPtr(p **int32) *int32 {
	if *p == nil {
		var one int32 = 1
		*p = &one
	}
	return *p
}

func labelSelectorString(sel *metav1.LabelSelector) string {
	if sel == nil {
		return ""
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

// toScale reads the Scale of a built-in or custom resource.
func (h *resourceHandler) toScale(obj runtime.Object) (*autoscalingv1.Scale, error) {
	if cv := h.res.Custom; cv != nil {
		return cv.Scale(obj.(*unstructured.Unstructured))
	}
	return toScale(obj)
}

// unsetReplicas stands for a custom resource's missing spec replicas in
// the Scale an update starts from, as upstream's ScaleREST marks it: an
// update must set it.
const unsetReplicas = math.MinInt32

// currentScale is the Scale an update starts from. A custom resource
// without its spec replicas field can still be scaled (upstream's
// ScaleREST.Update), unlike read (500).
func (h *resourceHandler) currentScale(obj runtime.Object) (*autoscalingv1.Scale, error) {
	cv := h.res.Custom
	if cv == nil {
		return toScale(obj)
	}
	scale, found, err := cv.ScaleForUpdate(obj.(*unstructured.Unstructured))
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if !found {
		scale.Spec.Replicas = unsetReplicas
	}
	return scale, nil
}

func toScale(obj runtime.Object) (*autoscalingv1.Scale, error) {
	spec, status, selector, err := scaleFields(obj)
	if err != nil {
		return nil, err
	}
	m := obj.(metav1.Object)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: *spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}, nil
}

// scaleUpdate returns the UpdateFunc that applies a new Scale to the parent.
func (h *resourceHandler) scaleUpdate(compute func(current *autoscalingv1.Scale) (*autoscalingv1.Scale, error)) registry.UpdateFunc {
	return func(existing runtime.Object) (runtime.Object, error) {
		cur, err := h.currentScale(existing)
		if err != nil {
			return nil, err
		}
		next, err := compute(cur)
		if err != nil {
			return nil, err
		}
		if cv := h.res.Custom; cv != nil && next.Spec.Replicas == unsetReplicas {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the spec replicas field %q cannot be empty", cv.SpecReplicasPath()))
		}
		if next.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), cur.Name,
				fieldErrorList("spec.replicas", next.Spec.Replicas, "must be greater than or equal to 0"))
		}
		if next.ResourceVersion != "" && next.ResourceVersion != cur.ResourceVersion {
			existing.(metav1.Object).SetResourceVersion(next.ResourceVersion)
		}
		if cv := h.res.Custom; cv != nil {
			if err := cv.SetSpecReplicas(existing.(*unstructured.Unstructured), next.Spec.Replicas); err != nil {
				return nil, err
			}
			return existing, nil
		}
		spec, _, _, _ := scaleFields(existing)
		*spec = next.Spec.Replicas
		return existing, nil
	}
}

func (h *resourceHandler) updateScale(w http.ResponseWriter, r *http.Request, opts metav1.UpdateOptions) {
	obj, err := h.s.decodeBody(r, h.res, autoscalingv1.SchemeGroupVersion.WithKind("Scale"), &autoscalingv1.Scale{}, opts.FieldValidation)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	body := obj.(*autoscalingv1.Scale)
	h.finishScale(w, r, h.scaleUpdate(func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error) { return body, nil }), len(opts.DryRun) > 0)
}

func (h *resourceHandler) patchScale(w http.ResponseWriter, r *http.Request, pt types.PatchType, patch []byte, opts metav1.PatchOptions) {
	h.finishScale(w, r, h.scaleUpdate(func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
		original, err := json.Marshal(cur)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		patched, err := applyPatch(pt, original, patch, &autoscalingv1.Scale{})
		if err != nil {
			return nil, err
		}
		out := &autoscalingv1.Scale{}
		if err := json.Unmarshal(patched, out); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}), len(opts.DryRun) > 0)
}

func (h *resourceHandler) finishScale(w http.ResponseWriter, r *http.Request, update registry.UpdateFunc, dryRun bool) {
	out, err := h.store.Update(r.Context(), h.info.namespace, h.info.name, update, registry.UpdateOptions{DryRun: dryRun})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	scale, err := h.toScale(out)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeObject(w, r, h.res, http.StatusOK, scale)
}

func fieldErrorList(path string, value interface{}, msg string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}
}
