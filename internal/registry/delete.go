package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/terminus-project/terminus/internal/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// DeleteResult is what a DELETE did.
type DeleteResult struct {
	// Object is the stored object while deletion is pending, or the last
	// stored state (at the delete's revision) once it is gone.
	Object runtime.Object
	// Deleted is true when the object was physically removed.
	Deleted bool
}

// Delete deletes an object. This is the plain behaviour of issue 3: checks
// preconditions (spec B4), holds objects with finalizers (marking them
// terminating, A7/A9), gives pods on a node their grace period (G2) and
// otherwise removes the object. The complete rule set (B5–B9, C, GC
// finalizers) lands with the lifecycle package in issue 4.
func (s *Store) Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (DeleteResult, error) {
	if s.res.GVR == corev1.SchemeGroupVersion.WithResource("namespaces") && protectedNamespace(name) {
		// Spec E4: NamespaceLifecycle admission keeps the system namespaces.
		return DeleteResult{}, apierrors.NewForbidden(s.res.GroupResource(), name, errors.New("this namespace may not be deleted"))
	}
	key := s.key(ns, name)
	for {
		kv, err := s.storage.Get(ctx, key)
		if err != nil {
			return DeleteResult{}, s.storageError(err, name)
		}
		existing, err := s.decodeKV(kv)
		if err != nil {
			return DeleteResult{}, apierrors.NewInternalError(err)
		}
		m := existing.(metav1.Object)
		if err := s.checkPreconditions(m, opts); err != nil {
			return DeleteResult{}, err
		}
		pending, changed := s.markForDeletion(existing, opts)
		if pending {
			if !changed || dryRun {
				return DeleteResult{Object: existing}, nil
			}
			rev, err := s.write(ctx, key, name, existing, kv.ModRevision)
			if errors.Is(err, storage.ErrConflict) {
				continue
			}
			if err != nil {
				return DeleteResult{}, err
			}
			setResourceVersion(existing, rev)
			return DeleteResult{Object: existing}, nil
		}
		if dryRun {
			return DeleteResult{Object: existing, Deleted: true}, nil
		}
		expected := kv.ModRevision
		if changed {
			// Spec C8: even an immediate pod deletion writes the
			// deletionTimestamp first.
			rev, err := s.write(ctx, key, name, existing, kv.ModRevision)
			if errors.Is(err, storage.ErrConflict) {
				continue
			}
			if err != nil {
				return DeleteResult{}, err
			}
			expected = rev
		}
		rev, last, err := s.storage.Delete(ctx, key, expected)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return DeleteResult{}, s.storageError(err, name)
		}
		obj, err := s.decodeKV(last)
		if err != nil {
			return DeleteResult{}, apierrors.NewInternalError(err)
		}
		setResourceVersion(obj, rev)
		return DeleteResult{Object: obj, Deleted: true}, nil
	}
}

// checkPreconditions applies spec B4: 409 Conflict with a Kind-based message.
func (s *Store) checkPreconditions(m metav1.Object, opts *metav1.DeleteOptions) error {
	if opts == nil || opts.Preconditions == nil {
		return nil
	}
	p := opts.Preconditions
	qualified := s.res.GroupVersionKind().GroupKind()
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(schemaGroupResource(qualified.Group, qualified.Kind), m.GetName(),
			fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(schemaGroupResource(qualified.Group, qualified.Kind), m.GetName(),
			fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// markForDeletion mutates obj for a DELETE. pending means the object stays
// stored; changed means obj differs from what is stored.
func (s *Store) markForDeletion(obj runtime.Object, opts *metav1.DeleteOptions) (pending, changed bool) {
	m := obj.(metav1.Object)
	now := metav1.NewTime(s.clock.Now().Truncate(1e9))
	if ns, ok := obj.(*corev1.Namespace); ok {
		// Spec E2: a namespace turns Terminating and waits for its
		// finalizers (the namespace controller, issue 5).
		if m.GetDeletionTimestamp() != nil {
			return true, false
		}
		m.SetDeletionTimestamp(&now)
		ns.Status.Phase = corev1.NamespaceTerminating
		return true, true
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		return s.markPod(pod, opts, now)
	}
	if len(m.GetFinalizers()) == 0 {
		return false, false
	}
	if m.GetDeletionTimestamp() != nil {
		return true, false
	}
	// Store markAsDeleting (spec A7, A9).
	zero := int64(0)
	m.SetDeletionTimestamp(&now)
	m.SetDeletionGracePeriodSeconds(&zero)
	if m.GetGeneration() > 0 {
		m.SetGeneration(m.GetGeneration() + 1)
	}
	return true, true
}

// markPod applies the pod grace rules G1–G4 in their plain form.
func (s *Store) markPod(pod *corev1.Pod, opts *metav1.DeleteOptions, now metav1.Time) (pending, changed bool) {
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts != nil && opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
		if grace < 0 {
			grace = 1
		}
	}
	// G1: unscheduled or terminal pods go at once.
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		grace = 0
	}
	cur := pod.DeletionGracePeriodSeconds
	if pod.DeletionTimestamp != nil && cur != nil && *cur <= grace {
		// G4: grace only shrinks; a pending request writes nothing.
		return *cur > 0 || len(pod.Finalizers) > 0, false
	}
	ts := metav1.NewTime(now.Add(secondsDuration(grace)))
	pod.DeletionTimestamp = &ts
	pod.DeletionGracePeriodSeconds = &grace
	if pod.Generation > 0 && cur == nil {
		pod.Generation++
	}
	return grace > 0 || len(pod.Finalizers) > 0, true
}

// DeleteCollection deletes every object a list selects, each as a DELETE
// would, and returns the list of what it deleted or marked.
func (s *Store) DeleteCollection(ctx context.Context, ns string, opts *metav1.DeleteOptions, dryRun bool, lo ListOptions) (runtime.Object, error) {
	listObj, err := s.List(ctx, ns, lo)
	if err != nil {
		return nil, err
	}
	items, err := listItems(listObj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	var out []runtime.Object
	for _, item := range items {
		m := item.(metav1.Object)
		res, err := s.Delete(ctx, m.GetNamespace(), m.GetName(), opts, dryRun)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, res.Object)
	}
	list := s.res.NewList()
	if err := setListItems(list, out); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return list, nil
}

// UIDOf is a small helper for the success Status of B6.
func UIDOf(obj runtime.Object) types.UID { return obj.(metav1.Object).GetUID() }

func protectedNamespace(name string) bool {
	switch name {
	case metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic:
		return true
	}
	return false
}

// write stores obj over the revision expected. A lost race returns
// storage.ErrConflict unwrapped, for the caller's retry loop; other
// failures are API errors.
func (s *Store) write(ctx context.Context, key, name string, obj runtime.Object, expected int64) (int64, error) {
	data, err := s.encode(obj)
	if err != nil {
		return 0, apierrors.NewInternalError(err)
	}
	rev, err := s.storage.Update(ctx, key, data, expected)
	if errors.Is(err, storage.ErrConflict) {
		return 0, storage.ErrConflict
	}
	if err != nil {
		return 0, s.storageError(err, name)
	}
	return rev, nil
}
