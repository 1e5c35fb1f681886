package registry

import (
	"context"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// evictionRetries bounds the re-reads after a conflicting write, as
// upstream's EvictionsRetry (20 steps). The retries are immediate: the
// conflict means someone else wrote the pod, and the next read sees it.
const evictionRetries = 20

var evictionKind = policyv1.SchemeGroupVersion.WithKind("Eviction").GroupKind()

// Evict serves POST pods/{name}/eviction as upstream's EvictionREST does
// when no PodDisruptionBudget selects the pod (terminus serves none): the
// pod gets the DisruptionTarget condition (reason EvictionByEvictionAPI)
// through the status strategy, then is deleted with the Eviction's
// DeleteOptions, so the grace rules of spec G1–G4 apply unchanged (an
// unscheduled or terminal pod goes at once, a running one gets its grace).
//
//   - The URL's name must be the Eviction's (400).
//   - ignoreStoreReadErrorWithClusterBreakingPotential is refused (422).
//   - The request's dryRun and the options' must agree (upstream answers a
//     reasonless 500 otherwise); a dry run adds no condition and deletes
//     nothing.
//   - A Pending pod that is not terminating is deleted with a
//     resourceVersion precondition on what was read, so the eviction does
//     not race it becoming ready (shouldEnforceResourceVersion); conflicts
//     are retried unless the caller set its own resourceVersion
//     precondition.
//   - Preconditions that do not match are 409 Conflict on the Pod kind
//     (spec B4).
func (s *Store) Evict(ctx context.Context, ns, name string, ev *policyv1.Eviction, requestDryRun []string) error {
	if s.res.GVR != corev1.SchemeGroupVersion.WithResource("pods") {
		return apierrors.NewInternalError(fmt.Errorf("eviction is served by pods, not %s", s.res.GVR.Resource))
	}
	if name != ev.Name {
		return apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	if o := ev.DeleteOptions; o != nil && o.IgnoreStoreReadErrorWithClusterBreakingPotential != nil && *o.IgnoreStoreReadErrorWithClusterBreakingPotential {
		return apierrors.NewInvalid(evictionKind, name, field.ErrorList{field.Invalid(
			field.NewPath("deleteOptions").Child("ignoreStoreReadErrorWithClusterBreakingPotential"), true,
			"can not be set for pod eviction, try after removing the option")})
	}
	opts, err := evictionDeleteOptions(ev, requestDryRun)
	if err != nil {
		return err
	}
	// Upstream hands these options to the pods store's Delete without the
	// DELETE handler's validation; validating them here keeps a bad
	// propagationPolicy from reaching the deletion rules (spec B2).
	if errs := metav1validation.ValidateDeleteOptions(opts); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "", errs)
	}
	callerRV := opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
	for attempt := 0; ; attempt++ {
		obj, err := s.Get(ctx, ns, name, "")
		if err != nil {
			return err
		}
		pod := obj.(*corev1.Pod)
		del := opts
		if pod.Status.Phase == corev1.PodPending && pod.DeletionTimestamp == nil && !callerRV {
			// canIgnorePDB with shouldEnforceResourceVersion: the read
			// pod must be the one deleted.
			del = opts.DeepCopy()
			if del.Preconditions == nil {
				del.Preconditions = &metav1.Preconditions{}
			}
			rv := pod.ResourceVersion
			del.Preconditions.ResourceVersion = &rv
		}
		err = s.markAndDelete(ctx, ns, name, del)
		// Only the branch that can ignore budgets (terminal, Pending or
		// terminating pods) retries upstream; without budgets a running
		// pod is deleted once with the caller's options.
		ignoresBudgets := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed ||
			pod.Status.Phase == corev1.PodPending || pod.DeletionTimestamp != nil
		if apierrors.IsConflict(err) && ignoresBudgets && !callerRV && attempt < evictionRetries {
			continue
		}
		return err
	}
}

// evictionDeleteOptions is upstream's propagateDryRun: the request's dryRun
// fills in the options' when they have none; two different lists are an
// error.
func evictionDeleteOptions(ev *policyv1.Eviction, requestDryRun []string) (*metav1.DeleteOptions, error) {
	if ev.DeleteOptions == nil {
		return &metav1.DeleteOptions{DryRun: requestDryRun}, nil
	}
	opts := ev.DeleteOptions.DeepCopy()
	switch {
	case len(opts.DryRun) == 0:
		opts.DryRun = requestDryRun
	case len(requestDryRun) > 0 && !reflect.DeepEqual(requestDryRun, opts.DryRun):
		return nil, reasonless(fmt.Errorf("Non-matching dry-run options in request and content: %v and %v", requestDryRun, opts.DryRun))
	}
	return opts, nil
}

// markAndDelete is upstream's addConditionAndDeletePod: the
// DisruptionTarget condition on the latest pod (checking the options'
// preconditions against it), then the delete, with a resourceVersion
// precondition moved to the condition's write.
func (s *Store) markAndDelete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions) error {
	dryRun := len(opts.DryRun) > 0
	if !dryRun {
		updated, err := s.Update(ctx, ns, name, func(existing runtime.Object) (runtime.Object, error) {
			pod := existing.(*corev1.Pod)
			if err := podPreconditions(pod, opts.Preconditions); err != nil {
				return nil, err
			}
			setPodCondition(&pod.Status, corev1.PodCondition{
				Type:    corev1.DisruptionTarget,
				Status:  corev1.ConditionTrue,
				Reason:  "EvictionByEvictionAPI",
				Message: "Eviction API: evicting",
			}, metav1.NewTime(s.now()))
			return pod, nil
		}, UpdateOptions{Subresource: "status"})
		if err != nil {
			return err
		}
		if p := opts.Preconditions; p != nil && p.ResourceVersion != nil {
			opts = opts.DeepCopy()
			rv := updated.(metav1.Object).GetResourceVersion()
			opts.Preconditions.ResourceVersion = &rv
		}
	}
	_, err := s.Delete(ctx, ns, name, opts, dryRun)
	return err
}

// podPreconditions are the eviction's checks of the delete preconditions
// on the pod it is about to mark, with spec B4's messages.
func podPreconditions(pod *corev1.Pod, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	asResource := schema.GroupResource{Resource: "Pod"}
	if p.UID != nil && *p.UID != "" && *p.UID != pod.UID {
		return apierrors.NewConflict(asResource, pod.Name, fmt.Errorf(
			"the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, pod.UID))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != "" && *p.ResourceVersion != pod.ResourceVersion {
		return apierrors.NewConflict(asResource, pod.Name, fmt.Errorf(
			"the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, pod.ResourceVersion))
	}
	return nil
}
