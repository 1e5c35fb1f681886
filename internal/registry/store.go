package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/terminus-project/terminus/internal/lifecycle"
	"github.com/terminus-project/terminus/internal/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/utils/clock"
)

// Store serves one resource.
type Store struct {
	res     *Resource
	reg     *Registry
	storage storage.Store
	codec   *json.Serializer
	cache   *watchCache
	clock   clock.WithTicker
	log     *slog.Logger
}

// Resource is the resource this store serves.
func (s *Store) Resource() *Resource { return s.res }

// CreateOptions modify a create.
type CreateOptions struct {
	DryRun bool
}

// UpdateOptions modify an update or patch.
type UpdateOptions struct {
	DryRun bool
	// Subresource is "" for the main resource or "status".
	Subresource string
}

// UpdateFunc computes the new object from a private copy of the stored one.
// It returns the object to write; a non-empty resourceVersion in it must
// match the stored one (spec J3).
type UpdateFunc func(existing runtime.Object) (runtime.Object, error)

func (s *Store) key(ns, name string) string {
	if s.res.Namespaced {
		return s.res.KeyPrefix + "/" + ns + "/" + name
	}
	return s.res.KeyPrefix + "/" + name
}

// prefix is the storage prefix of a namespace's objects ("" = all).
func (s *Store) prefix(ns string) string {
	if s.res.Namespaced && ns != "" {
		return s.res.KeyPrefix + "/" + ns + "/"
	}
	return s.res.KeyPrefix + "/"
}

func (s *Store) decodeKV(kv storage.KeyValue) (runtime.Object, error) {
	obj := s.res.New()
	if _, _, err := s.codec.Decode(kv.Value, nil, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	setResourceVersion(obj, kv.ModRevision)
	if cv := s.res.Custom; cv != nil {
		// Custom resources are unstructured and always carry apiVersion
		// and kind, list items too, as upstream serves them; with
		// conversion None a stored object of another version is the same
		// object under this version's apiVersion. Defaults apply on read.
		u := obj.(*unstructured.Unstructured)
		u.SetGroupVersionKind(s.res.GroupVersionKind())
		cv.DefaultOnRead(u.Object)
		return obj, nil
	}
	// Stored objects carry apiVersion and kind; served ones get them when
	// encoded, and list items have none, as upstream.
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	return obj, nil
}

// encode writes obj for storage. The resourceVersion is not stored: it is
// the key's revision (spec A5), as the etcd3 store of kube-apiserver does.
func (s *Store) encode(obj runtime.Object) ([]byte, error) {
	m := obj.(metav1.Object)
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	if s.res.Custom != nil {
		// Stored in the storage version (conversion None: only
		// apiVersion changes).
		u := obj.(*unstructured.Unstructured)
		served := u.GetAPIVersion()
		u.SetAPIVersion(schema.GroupVersion{Group: s.res.GVR.Group, Version: s.res.StorageVersion}.String())
		defer u.SetAPIVersion(served)
	}
	var buf bytes.Buffer
	err := s.codec.Encode(obj, &buf)
	m.SetResourceVersion(rv)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", s.res.GVR.Resource, err)
	}
	return buf.Bytes(), nil
}

// Get reads an object. resourceVersion "0" may be served from the watch
// cache (spec I1); anything else is a consistent read.
func (s *Store) Get(ctx context.Context, ns, name, resourceVersion string) (runtime.Object, error) {
	if resourceVersion != "" && resourceVersion != "0" {
		// Spec I1: N means at least as new as N, served from the cache
		// once it has reached N (504 after 3 s otherwise).
		n, err := parseRV(resourceVersion)
		if err != nil {
			return nil, err
		}
		if err := s.cache.waitFor(ctx, n); err != nil {
			return nil, err
		}
		if obj, ok := s.cache.get(s.key(ns, name)); ok {
			return obj.DeepCopyObject(), nil
		}
		return nil, apierrors.NewNotFound(s.res.GroupResource(), name)
	}
	if resourceVersion == "0" {
		if obj, ok := s.cache.get(s.key(ns, name)); ok {
			return obj.DeepCopyObject(), nil
		}
		if s.cache.isSynced() {
			return nil, apierrors.NewNotFound(s.res.GroupResource(), name)
		}
	}
	kv, err := s.storage.Get(ctx, s.key(ns, name))
	if err != nil {
		return nil, s.storageError(err, name)
	}
	return s.decodeKV(kv)
}

// Create stores a new object (spec A1–A8).
func (s *Store) Create(ctx context.Context, ns string, obj runtime.Object, opts CreateOptions) (runtime.Object, error) {
	m := obj.(metav1.Object)
	if err := s.checkCreateAllowed(nameOrPrefix(m)); err != nil {
		return nil, err
	}
	if err := s.checkNamespace(ctx, ns, m); err != nil {
		return nil, err
	}
	if m.GetResourceVersion() != "" {
		// Spec J11: upstream answers 500 with no reason.
		return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: 500,
			Message: "resourceVersion should not be set on objects to be created",
		}}
	}
	// Spec A4: the server owns identity and deletion fields.
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	m.SetCreationTimestamp(metav1.NewTime(s.now()))
	m.SetUID(newUID())
	if s.res.HasGeneration {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
	dedupOwnerReferences(ctx, m)
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	if generated {
		m.SetName(names.SimpleNameGenerator.GenerateName(m.GetGenerateName()))
	}
	if errs := s.prepareAndValidateCreate(ctx, obj); len(errs) > 0 {
		return nil, s.invalid(m.GetName(), errs)
	}
	if opts.DryRun {
		return obj, nil
	}
	// Spec A8: retry a generated name that collides.
	for attempt := 0; ; attempt++ {
		data, err := s.encode(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		rev, err := s.storage.Create(ctx, s.key(ns, m.GetName()), data)
		if err == nil {
			setResourceVersion(obj, rev)
			return obj, nil
		}
		if !errors.Is(err, storage.ErrExists) {
			return nil, s.storageError(err, m.GetName())
		}
		if generated && attempt < 7 {
			m.SetName(names.SimpleNameGenerator.GenerateName(m.GetGenerateName()))
			continue
		}
		return nil, s.alreadyExists(ctx, ns, m.GetName(), generated)
	}
}

func (s *Store) alreadyExists(ctx context.Context, ns, name string, generated bool) error {
	err := apierrors.NewAlreadyExists(s.res.GroupResource(), name)
	if generated {
		err = apierrors.NewGenerateNameConflict(s.res.GroupResource(), name, 1)
	}
	// Spec A2: a terminating object still holds its name.
	if kv, gerr := s.storage.Get(ctx, s.key(ns, name)); gerr == nil {
		if existing, derr := s.decodeKV(kv); derr == nil && existing.(metav1.Object).GetDeletionTimestamp() != nil {
			err.ErrStatus.Message = "object is being deleted: " + err.ErrStatus.Message
		}
	}
	return err
}

// checkNamespace applies spec A3: the body's namespace must match the URL's
// for namespaced resources and is cleared for cluster-scoped ones; the
// namespace must exist and not be terminating (NamespaceLifecycle, E5).
func (s *Store) checkNamespace(ctx context.Context, ns string, m metav1.Object) error {
	if !s.res.Namespaced {
		m.SetNamespace("")
		return nil
	}
	if m.GetNamespace() == "" {
		m.SetNamespace(ns)
	} else if m.GetNamespace() != ns {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	nsStore, ok := s.reg.Store(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if !ok {
		return nil
	}
	nsObj, ok := nsStore.cache.get(nsStore.key("", ns))
	if !ok {
		// The cache may lag a namespace created a moment ago: ask storage
		// before answering 404, as upstream's admission does.
		kv, err := s.storage.Get(ctx, nsStore.key("", ns))
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return apierrors.NewNotFound(corev1.Resource("namespaces"), ns)
			}
			return s.storageError(err, ns)
		}
		o, err := nsStore.decodeKV(kv)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		nsObj = o
	}
	if nsObj.(metav1.Object).GetDeletionTimestamp() != nil {
		err := apierrors.NewForbidden(s.res.GroupResource(), nameOrPrefix(m),
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    corev1.NamespaceTerminatingCause,
			Message: fmt.Sprintf("namespace %s is being terminated", ns),
			Field:   "metadata.namespace",
		})
		return err
	}
	return nil
}

// Update runs a guaranteed update: read, compute, write on the read
// revision, and again on a conflict the caller did not cause (spec J3).
func (s *Store) Update(ctx context.Context, ns, name string, update UpdateFunc, opts UpdateOptions) (runtime.Object, error) {
	key := s.key(ns, name)
	for {
		kv, err := s.storage.Get(ctx, key)
		if err != nil {
			return nil, s.storageError(err, name)
		}
		existing, err := s.decodeKV(kv)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		obj, err := update(existing.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		m, old := obj.(metav1.Object), existing.(metav1.Object)
		switch rv := m.GetResourceVersion(); {
		case rv == "":
			if !s.res.AllowUnconditionalUpdate {
				// Spec J4d: upstream names the resource, not the kind.
				return nil, apierrors.NewInvalid(schema.GroupKind{Group: s.res.GVR.Group, Kind: s.res.GVR.Resource}, name,
					field.ErrorList{field.Invalid(field.NewPath("metadata", "resourceVersion"), 0, "must be specified for an update")})
			}
			// Spec A5: an unconditional update writes over what is stored.
			m.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
		case rv != strconv.FormatInt(kv.ModRevision, 10):
			return nil, s.conflict(name)
		}
		if err := s.beforeUpdate(m, old, ns, name); err != nil {
			return nil, err
		}
		if errs := s.prepareAndValidateUpdate(ctx, opts.Subresource, obj, existing); len(errs) > 0 {
			return nil, s.invalid(name, errs)
		}
		data, err := s.encode(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if bytes.Equal(data, kv.Value) {
			// Spec A5: an unchanged object is not written.
			return existing, nil
		}
		if opts.DryRun {
			setResourceVersion(obj, kv.ModRevision)
			return obj, nil
		}
		if lifecycle.ShouldDeleteDuringUpdate(obj, existing) {
			// Spec C5: removing the last finalizer deletes the object in
			// the same request; the watch sees one DELETED event with the
			// last stored state, and the caller gets what it submitted.
			_, _, err := s.storage.Delete(ctx, key, kv.ModRevision)
			if errors.Is(err, storage.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, s.storageError(err, name)
			}
			setResourceVersion(obj, kv.ModRevision)
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

// beforeUpdate restores what an update may not change (spec A4, A6, A7,
// C3, C4) and checks identity.
func (s *Store) beforeUpdate(m, old metav1.Object, ns, name string) error {
	if s.res.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(ns)
		} else if m.GetNamespace() != ns {
			return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	if m.GetName() != name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name))
	}
	if m.GetUID() == "" {
		m.SetUID(old.GetUID())
	}
	m.SetCreationTimestamp(old.GetCreationTimestamp())
	m.SetGeneration(old.GetGeneration())
	lifecycle.PrepareUpdate(m, old)
	m.SetSelfLink("")
	return nil
}

func (s *Store) invalid(name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(s.res.GroupVersionKind().GroupKind(), name, errs)
}

func (s *Store) conflict(name string) error {
	return apierrors.NewConflict(s.res.GroupResource(), name,
		errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}

// storageError maps storage sentinels to API errors in one place.
func (s *Store) storageError(err error, name string) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return apierrors.NewNotFound(s.res.GroupResource(), name)
	case errors.Is(err, storage.ErrExists):
		return apierrors.NewAlreadyExists(s.res.GroupResource(), name)
	case errors.Is(err, storage.ErrConflict):
		return s.conflict(name)
	case errors.Is(err, storage.ErrCompacted):
		return apierrors.NewResourceExpired("The resourceVersion for the provided list is too old.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError("request did not complete within the allowed duration", 0)
	}
	return apierrors.NewInternalError(err)
}

func newUID() types.UID { return types.UID(uuid.NewString()) }

// now is the server's time at second precision, as Kubernetes stores
// timestamps (RFC 3339, spec A6).
func (s *Store) now() time.Time { return s.clock.Now().Truncate(time.Second) }

// nameOrPrefix names an object in errors raised before a generated name
// exists (spec A8).
func nameOrPrefix(m metav1.Object) string {
	if n := m.GetName(); n != "" {
		return n
	}
	return m.GetGenerateName()
}
