package podcontrol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ErrCannotAdopt marks an adoption refused by the adoption check (the
// owner is being deleted, is gone or was recreated): even when the check's
// own error is a NotFound, the adoption failed, the pod is not gone.
var ErrCannotAdopt = errors.New("can't adopt")

// PodPatcher applies a strategic merge patch to a pod (PodControl does).
type PodPatcher interface {
	PatchPod(ctx context.Context, namespace, name string, data []byte) error
}

// RefManager claims objects for one owner during one sync (upstream
// BaseControllerRefManager and PodControllerRefManager): it adopts
// matching orphans and releases owned objects that no longer match,
// through the controller reference (spec D, G11). Build one per sync: its
// adoption check runs at most once.
type RefManager struct {
	owner    metav1.Object
	kind     schema.GroupVersionKind
	selector labels.Selector
	canAdopt func(context.Context) error

	once        sync.Once
	canAdoptErr error
}

// NewRefManager returns a RefManager for owner, of kind, selecting with
// selector. canAdopt, if not nil, runs before the first adoption (and only
// if one is attempted); an error from it fails every adoption of this
// sync. Upstream passes RecheckDeletionTimestamp of a live GET.
func NewRefManager(owner metav1.Object, kind schema.GroupVersionKind, selector labels.Selector, canAdopt func(context.Context) error) *RefManager {
	return &RefManager{owner: owner, kind: kind, selector: selector, canAdopt: canAdopt}
}

// CanAdopt runs the adoption check once and returns its result.
func (m *RefManager) CanAdopt(ctx context.Context) error {
	m.once.Do(func() {
		if m.canAdopt != nil {
			m.canAdoptErr = m.canAdopt(ctx)
		}
	})
	return m.canAdoptErr
}

// ClaimObject decides one object (upstream ClaimObject) and reports
// whether the owner now owns it:
//
//   - controlled by another owner: not ours, nothing to do;
//   - ours and matching: ours, even while the owner is being deleted;
//   - ours and not matching: released, unless the owner is being deleted
//     (G11: a deleting owner releases nothing);
//   - an orphan: adopted if it matches, is in the owner's namespace and
//     neither it nor the owner is being deleted (G11: terminating orphans
//     are never adopted).
//
// A NotFound from adopt (but not from its adoption check,
// ErrCannotAdopt) or release means the object is gone: not ours, no error.
// Other errors are returned for a retry.
func (m *RefManager) ClaimObject(ctx context.Context, obj metav1.Object, match func(metav1.Object) bool, adopt, release func(context.Context, metav1.Object) error) (bool, error) {
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		if ref.UID != m.owner.GetUID() {
			return false, nil
		}
		if match(obj) {
			return true, nil
		}
		if m.owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		if err := release(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		return false, nil
	}
	if m.owner.GetDeletionTimestamp() != nil || !match(obj) || obj.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if ns := m.owner.GetNamespace(); ns != "" && ns != obj.GetNamespace() {
		return false, nil
	}
	if err := adopt(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) && !errors.Is(err, ErrCannotAdopt) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// ClaimPods claims pods (upstream PodControllerRefManager.ClaimPods) and
// returns those the owner owns afterwards. A pod matches when the
// selector and every filter accept it. Failed adoptions and releases are
// joined into the error; the claimed pods are still returned.
func (m *RefManager) ClaimPods(ctx context.Context, patcher PodPatcher, pods []*corev1.Pod, filters ...func(*corev1.Pod) bool) ([]*corev1.Pod, error) {
	match := func(obj metav1.Object) bool {
		p := obj.(*corev1.Pod)
		if !m.selector.Matches(labels.Set(p.Labels)) {
			return false
		}
		for _, f := range filters {
			if !f(p) {
				return false
			}
		}
		return true
	}
	adopt := func(ctx context.Context, obj metav1.Object) error {
		return m.AdoptPod(ctx, patcher, obj.(*corev1.Pod))
	}
	release := func(ctx context.Context, obj metav1.Object) error {
		return m.ReleasePod(ctx, patcher, obj.(*corev1.Pod))
	}
	var claimed []*corev1.Pod
	var errs []error
	for _, p := range pods {
		ok, err := m.ClaimObject(ctx, p, match, adopt, release)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, p)
		}
	}
	return claimed, errors.Join(errs...)
}

// AdoptPod makes the owner the pod's controller with a patch that carries
// the pod's uid as a precondition; the API rejects it if another
// controller reference exists (A10).
func (m *RefManager) AdoptPod(ctx context.Context, patcher PodPatcher, pod *corev1.Pod, finalizers ...string) error {
	if err := m.CanAdopt(ctx); err != nil {
		return fmt.Errorf("%w Pod %s/%s (%s): %w", ErrCannotAdopt, pod.Namespace, pod.Name, pod.UID, err)
	}
	patch, err := AdoptPatch(m.owner, m.kind, pod.UID, finalizers...)
	if err != nil {
		return err
	}
	return patcher.PatchPod(ctx, pod.Namespace, pod.Name, patch)
}

// ReleasePod removes the owner's reference from the pod with a patch that
// carries the pod's uid. 404 and 422 count as released: the pod is gone,
// or it was recreated under the same name (its uid no longer matches).
func (m *RefManager) ReleasePod(ctx context.Context, patcher PodPatcher, pod *corev1.Pod, finalizers ...string) error {
	patch, err := ReleasePatch(pod.UID, []types.UID{m.owner.GetUID()}, finalizers...)
	if err != nil {
		return err
	}
	err = patcher.PatchPod(ctx, pod.Namespace, pod.Name, patch)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return err
}

// RecheckDeletionTimestamp returns an adoption check that reads the owner
// afresh with get and refuses adoption when it is being deleted: the
// cached owner may be stale (upstream RecheckDeletionTimestamp, #42639).
// get should also fail when the live object has another uid.
func RecheckDeletionTimestamp(get func(context.Context) (metav1.Object, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		obj, err := get(ctx)
		if err != nil {
			return fmt.Errorf("can't recheck DeletionTimestamp: %w", err)
		}
		if ts := obj.GetDeletionTimestamp(); ts != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", obj.GetNamespace(), obj.GetName(), ts)
		}
		return nil
	}
}

type adoptPatch struct {
	Metadata adoptMeta `json:"metadata"`
}

type adoptMeta struct {
	OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
	UID             types.UID               `json:"uid"`
	Finalizers      []string                `json:"finalizers,omitempty"`
}

// AdoptPatch is the strategic merge patch that adds owner, of kind, as
// the controller of the object dependentUID (and finalizers): ownerReferences
// merge by uid, and the uid in metadata makes the patch fail if the
// object was recreated (upstream ownerRefControllerPatch).
func AdoptPatch(owner metav1.Object, kind schema.GroupVersionKind, dependentUID types.UID, finalizers ...string) ([]byte, error) {
	p, err := json.Marshal(adoptPatch{Metadata: adoptMeta{
		UID:             dependentUID,
		OwnerReferences: []metav1.OwnerReference{*NewControllerRef(owner, kind)},
		Finalizers:      finalizers,
	}})
	if err != nil {
		return nil, fmt.Errorf("building the adoption patch: %w", err)
	}
	return p, nil
}

type releasePatch struct {
	Metadata releaseMeta `json:"metadata"`
}

type releaseMeta struct {
	UID              types.UID           `json:"uid"`
	OwnerReferences  []map[string]string `json:"ownerReferences"`
	DeleteFinalizers []string            `json:"$deleteFromPrimitiveList/finalizers,omitempty"`
}

// ReleasePatch is the strategic merge patch that removes the references to
// ownerUIDs (and finalizers) from the object dependentUID, with its uid as
// a precondition (upstream GenerateDeleteOwnerRefStrategicMergeBytes).
func ReleasePatch(dependentUID types.UID, ownerUIDs []types.UID, finalizers ...string) ([]byte, error) {
	refs := make([]map[string]string, 0, len(ownerUIDs))
	for _, uid := range ownerUIDs {
		refs = append(refs, map[string]string{"$patch": "delete", "uid": string(uid)})
	}
	p, err := json.Marshal(releasePatch{Metadata: releaseMeta{UID: dependentUID, OwnerReferences: refs, DeleteFinalizers: finalizers}})
	if err != nil {
		return nil, fmt.Errorf("building the release patch: %w", err)
	}
	return p, nil
}
