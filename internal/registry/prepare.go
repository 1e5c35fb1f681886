package registry

import (
	"context"
	"errors"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/terminus-project/terminus/internal/admission"
	"github.com/terminus-project/terminus/internal/crd"
	"github.com/terminus-project/terminus/internal/registry/defaults"
	"github.com/terminus-project/terminus/internal/registry/validation"
)

// The write rules by kind of resource: built-in types take the generic
// reflective strategy (strategy.go), CustomResourceDefinitions the
// apiextensions strategy, custom resources their CRD version's schema.

// prepareAndValidateCreate resets, defaults and validates a new object.
func (s *Store) prepareAndValidateCreate(ctx context.Context, obj runtime.Object) field.ErrorList {
	if cv := s.res.Custom; cv != nil {
		u := obj.(*unstructured.Unstructured)
		cv.PrepareForCreate(u)
		for _, w := range cv.WarningsOnCreate(u) {
			addWarning(ctx, w)
		}
		return cv.ValidateCreate(ctx, u)
	}
	if c, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok {
		crd.SetDefaults(c)
		crd.PrepareForCreate(c)
		for _, w := range crd.WarningsOnCreate(c) {
			addWarning(ctx, w)
		}
		return crd.ValidateCreate(ctx, c)
	}
	prepareForCreate(s.res, obj)
	// StorageObjectInUseProtection admission (spec F1, F2).
	admission.MutateOnCreate(obj)
	defaults.Apply(obj)
	return validation.ValidateCreate(obj, s.res.Namespaced)
}

// prepareAndValidateUpdate keeps what the subresource may not change,
// bumps generation on spec changes (spec A7) and validates. It may replace
// *obj's contents (a custom resource's status update starts from the
// stored object).
func (s *Store) prepareAndValidateUpdate(ctx context.Context, subresource string, obj, existing runtime.Object) field.ErrorList {
	m, old := obj.(metav1.Object), existing.(metav1.Object)
	if cv := s.res.Custom; cv != nil {
		u, oldU := obj.(*unstructured.Unstructured), existing.(*unstructured.Unstructured)
		if subresource == "status" {
			cv.PrepareForStatusUpdate(u, oldU)
			return cv.ValidateStatusUpdate(ctx, u, oldU)
		}
		// The main resource, and scale, which writes through its rules.
		cv.PrepareForUpdate(u, oldU)
		if subresource == "" {
			dedupOwnerReferences(ctx, m)
			for _, w := range cv.WarningsOnUpdate(u, oldU) {
				addWarning(ctx, w)
			}
		}
		return cv.ValidateUpdate(ctx, u, oldU)
	}
	if c, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok {
		oldCRD := existing.(*apiextensionsv1.CustomResourceDefinition)
		crd.SetDefaults(c)
		if subresource == "status" {
			crd.PrepareForStatusUpdate(c, oldCRD)
			return crd.ValidateStatusUpdate(ctx, c, oldCRD)
		}
		prepareForUpdate(s.res, subresource, obj, existing)
		crd.PrepareForUpdate(c, oldCRD)
		dedupOwnerReferences(ctx, m)
		for _, w := range crd.WarningsOnUpdate(c, oldCRD) {
			addWarning(ctx, w)
		}
		return crd.ValidateUpdate(ctx, c, oldCRD)
	}
	prepareForUpdate(s.res, subresource, obj, existing)
	defaults.ApplyUpdate(obj, existing)
	if s.res.HasGeneration && subresource == "" && specChanged(obj, existing) {
		m.SetGeneration(old.GetGeneration() + 1)
	}
	if subresource == "" {
		dedupOwnerReferences(ctx, m)
	}
	return validation.ValidateUpdate(obj, existing, s.res.Namespaced)
}

// errCreateWhileTerminating is spec F4/J5c's refusal.
var errCreateWhileTerminating = errors.New("create not allowed while custom resource definition is terminating")

// checkCreateAllowed refuses creates of custom resources whose CRD is being
// deleted (spec F4, J5c), as upstream's forbidCreateAdmission does.
func (s *Store) checkCreateAllowed(name string) error {
	if s.res.Terminating {
		return apierrors.NewForbidden(s.res.GroupResource(), name, errCreateWhileTerminating)
	}
	return nil
}
