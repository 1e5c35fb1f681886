package registry

import (
	"context"
	"errors"

	"github.com/terminus-project/terminus/internal/lifecycle"
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

// Delete deletes an object: lifecycle.Delete decides every rule (spec B4,
// B5, B7, B8, E2, E3, G1–G4); this executes the decision against storage
// on the revision it was made from, and decides again after a lost race.
func (s *Store) Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (DeleteResult, error) {
	if s.res.GVR == corev1.SchemeGroupVersion.WithResource("namespaces") {
		if err := lifecycle.CheckNamespaceDeletable(name); err != nil {
			return DeleteResult{}, err
		}
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
		d, err := lifecycle.Delete(lifecycle.DeleteRequest{
			Stored:   existing,
			Options:  opts,
			Resource: s.res.GroupResource(),
			Kind:     s.res.GroupVersionKind().GroupKind(),
			Policy:   s.res.GCPolicy,
			Now:      s.now(),
		})
		if err != nil {
			return DeleteResult{}, err
		}
		switch d.Outcome {
		case lifecycle.Unchanged:
			return DeleteResult{Object: d.Object}, nil
		case lifecycle.Mark:
			if dryRun {
				return DeleteResult{Object: d.Object}, nil
			}
			rev, err := s.write(ctx, key, name, d.Object, kv.ModRevision)
			if errors.Is(err, storage.ErrConflict) {
				continue
			}
			if err != nil {
				return DeleteResult{}, err
			}
			setResourceVersion(d.Object, rev)
			return DeleteResult{Object: d.Object}, nil
		}
		if dryRun {
			return DeleteResult{Object: d.Object, Deleted: true}, nil
		}
		expected := kv.ModRevision
		if d.WriteFirst {
			rev, err := s.write(ctx, key, name, d.Object, kv.ModRevision)
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

// deleteCollectionPage is upstream's page size for DELETE on a collection.
const deleteCollectionPage = 10000

// DeleteCollection deletes every object a list selects (spec B10): each
// item goes through Delete with its own copy of the options, NotFound is
// ignored, the first other error stops it, and the answer is the list as
// it was listed. With a limit in the request only that one page is
// processed.
func (s *Store) DeleteCollection(ctx context.Context, ns string, opts *metav1.DeleteOptions, dryRun bool, lo ListOptions) (runtime.Object, error) {
	pageOnly := lo.Limit > 0
	if !pageOnly {
		lo.Limit = deleteCollectionPage
	}
	var first runtime.Object
	for {
		listObj, err := s.List(ctx, ns, lo)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = listObj
		}
		items, err := listItems(listObj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		for _, item := range items {
			m := item.(metav1.Object)
			_, err := s.Delete(ctx, m.GetNamespace(), m.GetName(), opts.DeepCopy(), dryRun)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
		}
		cont := listObj.(metav1.ListInterface).GetContinue()
		if pageOnly || cont == "" {
			break
		}
		lo.Continue = cont
	}
	return first, nil
}

// UIDOf is a small helper for the success Status of B6.
func UIDOf(obj runtime.Object) types.UID { return obj.(metav1.Object).GetUID() }
