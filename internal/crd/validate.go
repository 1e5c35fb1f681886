package crd

import (
	"context"
	"fmt"
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/operation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
)

// ValidateCreate validates a new custom resource as upstream's
// customresource strategy Validate does: apiVersion and kind, metadata
// (name as a DNS subdomain, namespace by scope, labels, annotations,
// ownerReferences, finalizers), the OpenAPI schema, the scale subresource's
// replica paths, embedded resources, list-type map/set uniqueness and CEL
// x-kubernetes-validations (skipped with upstream's note when a blocking
// schema error was found).
func (v *Version) ValidateCreate(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	if tm := v.validateTypeMeta(obj); len(tm) > 0 {
		errs = tm
	} else {
		errs = append(errs, v.validateObjectMeta(ctx, operation.Create, obj, nil)...)
		errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj.UnstructuredContent(), v.schemaValidator)...)
		errs = append(errs, v.validateScaleSpec(obj)...)
		errs = append(errs, v.validateScaleStatus(obj)...)
	}
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, obj.Object, v.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj.Object)...)
	return append(errs, v.validateCEL(ctx, errs, obj, nil, nil)...)
}

// ValidateUpdate validates an update of the main resource as upstream's
// strategy ValidateUpdate does, with validation ratcheting (GA in 1.33):
// schema and CEL errors in parts of the object the update did not change are
// not reported, list-type checks only apply when the old object passed them,
// and CEL transition rules see oldSelf. Metadata follows the update rules,
// including "no new finalizers" on an object being deleted (spec C2) and
// resourceVersion required.
func (v *Version) ValidateUpdate(ctx context.Context, obj, old *unstructured.Unstructured) field.ErrorList {
	schemaOpts, celOpts := v.ratcheting(obj.Object, old.Object, false)

	var errs field.ErrorList
	if tm := v.validateTypeMeta(obj); len(tm) > 0 {
		errs = tm
	} else {
		errs = append(errs, v.validateObjectMeta(ctx, operation.Update, obj, old)...)
		errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(nil, obj.UnstructuredContent(), old.UnstructuredContent(), v.schemaValidator, schemaOpts...)...)
		errs = append(errs, v.validateScaleSpec(obj)...)
		errs = append(errs, v.validateScaleStatus(obj)...)
	}
	// Embedded objects are checked the same way on create and update.
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, obj.Object, v.structural, false)...)
	if oldErrs := structurallisttype.ValidateListSetsAndMaps(nil, v.structural, old.Object); len(oldErrs) == 0 {
		errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj.Object)...)
	}
	return append(errs, v.validateCEL(ctx, errs, obj, old, celOpts)...)
}

// ValidateStatusUpdate validates a write to the status subresource as
// upstream's status strategy does: metadata update rules, only .status
// against the status schema (ratcheted), the scale status paths, list types
// when they newly fail, and CEL over the whole object.
func (v *Version) ValidateStatusUpdate(ctx context.Context, obj, old *unstructured.Unstructured) field.ErrorList {
	schemaOpts, celOpts := v.ratcheting(obj.Object, old.Object, true)

	var errs field.ErrorList
	if tm := v.validateTypeMeta(obj); len(tm) > 0 {
		errs = tm
	} else {
		errs = append(errs, v.validateObjectMeta(ctx, operation.Update, obj, old)...)
		if status, ok := obj.UnstructuredContent()["status"]; ok && v.statusValidator != nil {
			errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(field.NewPath("status"), status, old.UnstructuredContent()["status"], v.statusValidator, schemaOpts...)...)
		}
		errs = append(errs, v.validateScaleStatus(obj)...)
	}
	if newErrs := structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj.Object); len(newErrs) > 0 {
		if oldErrs := structurallisttype.ValidateListSetsAndMaps(nil, v.structural, old.Object); len(oldErrs) == 0 {
			errs = append(errs, newErrs...)
		}
	}
	return append(errs, v.validateCEL(ctx, errs, obj, old, celOpts)...)
}

// ratcheting builds upstream's correlated old/new object for ratcheting.
// For the status subresource the schema validator only sees .status, so it
// gets the status sub-correlation.
func (v *Version) ratcheting(obj, old map[string]interface{}, status bool) ([]apiservervalidation.ValidationOption, []cel.Option) {
	if v.structural == nil {
		return nil, nil
	}
	correlated := common.NewCorrelatedObject(obj, old, &model.Structural{Structural: v.structural})
	schemaCorrelated := correlated
	if status {
		schemaCorrelated = correlated.Key("status")
	}
	return []apiservervalidation.ValidationOption{apiservervalidation.WithRatcheting(schemaCorrelated)},
		[]cel.Option{cel.WithRatcheting(correlated)}
}

// validateCEL runs x-kubernetes-validations unless errs already holds an
// error that makes them meaningless (upstream's hasBlockingErr).
func (v *Version) validateCEL(ctx context.Context, errs field.ErrorList, obj, old *unstructured.Unstructured, opts []cel.Option) field.ErrorList {
	if v.celValidator == nil {
		return nil
	}
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.ErrorList{field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")}
		}
	}
	var oldObj interface{}
	if old != nil {
		oldObj = old.Object
	}
	celErrs, _ := v.celValidator.Validate(ctx, nil, v.structural, obj.Object, oldObj, celconfig.RuntimeCELCostBudget, opts...)
	return celErrs
}

func (v *Version) validateTypeMeta(obj *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	if k := obj.GetKind(); k != v.gvk.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), k, fmt.Sprintf("must be %v", v.gvk.Kind)))
	}
	want := v.gvk.Group + "/" + v.gvk.Version
	if av := obj.GetAPIVersion(); av != want {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), av, fmt.Sprintf("must be %v", want)))
	}
	return errs
}

// validateObjectMeta is upstream's validateObjectMeta(Update)Declaratively:
// apimachinery's ObjectMeta rules with custom-resource names as DNS
// subdomains (spec A10, A11 for finalizers).
func (v *Version) validateObjectMeta(ctx context.Context, op operation.Type, obj, old *unstructured.Unstructured) field.ErrorList {
	m, errs := objectMeta(obj)
	if len(errs) > 0 {
		return errs
	}
	beta := utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta)
	if op == operation.Create {
		return metavalidation.ValidateObjectMetaDeclaratively(ctx, op, m, nil, v.namespaced, metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"), beta)
	}
	oldM, errs := objectMeta(old)
	if len(errs) > 0 {
		return errs
	}
	return metavalidation.ValidateObjectMetaDeclaratively(ctx, op, m, oldM, v.namespaced, nil, field.NewPath("metadata"), beta)
}

func objectMeta(obj *unstructured.Unstructured) (*metav1.ObjectMeta, field.ErrorList) {
	if obj == nil || obj.Object == nil {
		return &metav1.ObjectMeta{}, nil
	}
	raw := obj.Object["metadata"]
	if raw == nil {
		return &metav1.ObjectMeta{}, nil
	}
	mm, ok := raw.(map[string]interface{})
	if !ok {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, fmt.Sprintf("expected map[string]interface{}, got %T", raw))}
	}
	m := &metav1.ObjectMeta{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(mm, m); err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, err.Error())}
	}
	return m, nil
}

// validateScaleSpec checks that the spec replicas path holds an int32 when
// present. The path is used verbatim in the error, leading period included,
// as upstream does.
func (v *Version) validateScaleSpec(obj *unstructured.Unstructured) field.ErrorList {
	if v.scale == nil {
		return nil
	}
	return validateReplicas(obj, v.scale.SpecReplicasPath)
}

func (v *Version) validateScaleStatus(obj *unstructured.Unstructured) field.ErrorList {
	if v.scale == nil {
		return nil
	}
	errs := validateReplicas(obj, v.scale.StatusReplicasPath)
	if p := v.scale.LabelSelectorPath; p != nil {
		sel, _, err := unstructured.NestedString(obj.UnstructuredContent(), splitPath(*p)...)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath(*p), sel, err.Error()))
		}
	}
	return errs
}

func validateReplicas(obj *unstructured.Unstructured, path string) field.ErrorList {
	n, _, err := unstructured.NestedInt64(obj.UnstructuredContent(), splitPath(path)...)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(field.NewPath(path), n, err.Error())}
	case n < 0:
		return field.ErrorList{field.Invalid(field.NewPath(path), n, "should be a non-negative integer")}
	case n > math.MaxInt32:
		return field.ErrorList{field.Invalid(field.NewPath(path), n, fmt.Sprintf("should be less than or equal to %v", math.MaxInt32))}
	}
	return nil
}

// WarningsOnCreate returns upstream's create warnings for custom resources:
// finalizer names that are not domain-qualified are accepted but warned
// about (spec A11). The caller adds the `299 - ` prefix.
func (v *Version) WarningsOnCreate(obj *unstructured.Unstructured) []string {
	return finalizerWarnings(obj.GetFinalizers(), nil)
}

// WarningsOnUpdate warns, like WarningsOnCreate, about finalizers the update
// adds; finalizers already present do not warn again.
func (v *Version) WarningsOnUpdate(obj, old *unstructured.Unstructured) []string {
	return finalizerWarnings(obj.GetFinalizers(), old.GetFinalizers())
}

// standardFinalizers are the finalizer names without a "/" that kube itself
// defines; they are not warned about.
func standardFinalizers() sets.Set[string] {
	return sets.New(metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents, string(corev1.FinalizerKubernetes))
}

func finalizerWarnings(finalizers, old []string) []string {
	added := sets.New(finalizers...).Difference(sets.New(old...))
	path := field.NewPath("metadata", "finalizers").String()
	std := standardFinalizers()
	var warnings []string
	for _, f := range sets.List(added) {
		for _, msg := range utilvalidation.IsQualifiedName(f) {
			warnings = append(warnings, fmt.Sprintf("%s: %q: %s", path, f, msg))
		}
		if strings.Contains(f, "/") || std.Has(f) {
			continue
		}
		if strings.Contains(f, ".") {
			warnings = append(warnings, fmt.Sprintf("%s: %q: prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers", path, f))
		} else {
			warnings = append(warnings, fmt.Sprintf("%s: %q: prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers", path, f))
		}
	}
	return warnings
}

// PrepareForCreate does what upstream's strategy does before a create:
// with the status subresource on, a create cannot set status; generation
// starts at 1 (spec A7).
func (v *Version) PrepareForCreate(obj *unstructured.Unstructured) {
	if v.status != nil {
		delete(obj.Object, "status")
	}
	obj.SetGeneration(1)
}

// PrepareForUpdate does what upstream's strategy does before an update of
// the main resource: with the status subresource on, status comes from
// storage; any change outside metadata bumps generation (spec A7).
func (v *Version) PrepareForUpdate(obj, old *unstructured.Unstructured) {
	if v.status != nil {
		if st, ok := old.Object["status"]; ok {
			obj.Object["status"] = runtime.DeepCopyJSONValue(st)
		} else {
			delete(obj.Object, "status")
		}
	}
	if !apiequality.Semantic.DeepEqual(withoutMetadata(obj.Object), withoutMetadata(old.Object)) {
		obj.SetGeneration(old.GetGeneration() + 1)
	}
}

// PrepareForStatusUpdate does what upstream's status strategy does: the
// result is the stored object with the request's status and managedFields
// (which track this write); nothing else a status write sends is kept.
func (v *Version) PrepareForStatusUpdate(obj, old *unstructured.Unstructured) {
	status, ok := obj.Object["status"]
	managed := obj.GetManagedFields()
	*obj = *old.DeepCopy()
	obj.SetManagedFields(managed)
	if ok {
		obj.Object["status"] = status
	} else {
		delete(obj.Object, "status")
	}
}

func withoutMetadata(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, val := range m {
		if k != "metadata" {
			out[k] = val
		}
	}
	return out
}
