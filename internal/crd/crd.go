package crd

import (
	"context"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apiextensionsfeatures "k8s.io/apiextensions-apiserver/pkg/features"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/cel/environment"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// SetDefaults applies the apiextensions.k8s.io/v1 defaults (conversion
// strategy None, listKind, singular, ...) exactly as decoding a v1 CRD does
// upstream, so stored CRDs look like kube-apiserver's.
func SetDefaults(crd *apiextensionsv1.CustomResourceDefinition) {
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)
}

// toInternal converts a v1 CRD into the internal apiextensions type that
// upstream's validation works on; the CRD registry does the same conversion
// when it decodes a request.
func toInternal(in *apiextensionsv1.CustomResourceDefinition) (*apiextensions.CustomResourceDefinition, error) {
	out := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(in.DeepCopy(), out, nil); err != nil {
		return nil, fmt.Errorf("converting CustomResourceDefinition %q to the internal version: %w", in.Name, err)
	}
	return out, nil
}

// ValidateCreate validates a new CRD as the upstream CRD strategy's Validate
// does: every message (names, structural schema, storage version count,
// ...) comes from apiextensions validation itself.
func ValidateCreate(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	in, err := toInternal(crd)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateCustomResourceDefinition(ctx, in)
}

// ValidateUpdate validates a CRD update as the upstream CRD strategy's
// ValidateUpdate does, including the ratcheting of rules that were already
// present in old.
func ValidateUpdate(ctx context.Context, crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	in, err := toInternal(crd)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	oldIn, err := toInternal(old)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateCustomResourceDefinitionUpdate(ctx, in, oldIn)
}

// ValidateStatusUpdate validates a write to the CRD's status subresource as
// upstream's CRD status strategy does.
func ValidateStatusUpdate(ctx context.Context, crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	in, err := toInternal(crd)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	oldIn, err := toInternal(old)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateUpdateCustomResourceDefinitionStatus(ctx, in, oldIn)
}

// PrepareForCreate does what the upstream CRD strategy does before a create:
// clients cannot set status, generation starts at 1 (spec A7) and the
// storage version is recorded in status.storedVersions so that later
// storage-version migrations know which versions may exist in storage.
func PrepareForCreate(crd *apiextensionsv1.CustomResourceDefinition) {
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
	crd.Generation = 1
	addStorageVersion(crd)
	dropDisabledFields(crd, nil)
}

// PrepareForUpdate does what the upstream CRD strategy does before an update
// of the main resource: status is kept from storage, a spec change bumps
// generation (spec A7) and a new storage version is appended to
// status.storedVersions.
func PrepareForUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) {
	crd.Status = *old.Status.DeepCopy()
	if specChanged(crd, old) {
		crd.Generation = old.Generation + 1
	}
	addStorageVersion(crd)
	dropDisabledFields(crd, old)
}

// PrepareForStatusUpdate does what the upstream CRD status strategy does: a
// status write cannot change the spec. (Upstream's metadata reset there is a
// no-op because it resets the new metadata from itself.)
func PrepareForStatusUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) {
	crd.Spec = *old.Spec.DeepCopy()
}

// specChanged compares the specs in their internal form, as upstream does:
// two v1 specs whose JSON defaults differ only in spelling are equal there.
func specChanged(crd, old *apiextensionsv1.CustomResourceDefinition) bool {
	in, err1 := toInternal(crd)
	oldIn, err2 := toInternal(old)
	if err1 != nil || err2 != nil {
		return !apiequality.Semantic.DeepEqual(crd.Spec, old.Spec)
	}
	return !apiequality.Semantic.DeepEqual(in.Spec, oldIn.Spec)
}

func addStorageVersion(crd *apiextensionsv1.CustomResourceDefinition) {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			if !apihelpers.IsStoredVersion(crd, v.Name) {
				crd.Status.StoredVersions = append(crd.Status.StoredVersions, v.Name)
			}
			break
		}
	}
}

// dropDisabledFields clears fields whose feature gate is off unless the old
// object already used them, like the upstream strategy. With 1.37 defaults
// all three gates are on and nothing is dropped.
func dropDisabledFields(crd, old *apiextensionsv1.CustomResourceDefinition) {
	gate := utilfeature.DefaultFeatureGate
	if !gate.Enabled(apiextensionsfeatures.CRDValidationRatcheting) && (old == nil || !usesOptionalOldSelf(old)) {
		for i := range crd.Spec.Versions {
			if s := crd.Spec.Versions[i].Schema; s != nil {
				walkSchema(s.OpenAPIV3Schema, func(p *apiextensionsv1.JSONSchemaProps) {
					for j := range p.XValidations {
						p.XValidations[j].OptionalOldSelf = nil
					}
				})
			}
		}
	}
	if !gate.Enabled(apiextensionsfeatures.CustomResourceFieldSelectors) && (old == nil || !usesSelectableFields(old)) {
		for i := range crd.Spec.Versions {
			crd.Spec.Versions[i].SelectableFields = nil
		}
	}
	if !gate.Enabled(apiextensionsfeatures.CRDObservedGenerationTracking) && (old == nil || !usesObservedGeneration(old)) {
		crd.Status.ObservedGeneration = 0
		for i := range crd.Status.Conditions {
			crd.Status.Conditions[i].ObservedGeneration = 0
		}
	}
}

func usesOptionalOldSelf(crd *apiextensionsv1.CustomResourceDefinition) bool {
	found := false
	for i := range crd.Spec.Versions {
		if s := crd.Spec.Versions[i].Schema; s != nil {
			walkSchema(s.OpenAPIV3Schema, func(p *apiextensionsv1.JSONSchemaProps) {
				for _, r := range p.XValidations {
					if r.OptionalOldSelf != nil {
						found = true
					}
				}
			})
		}
	}
	return found
}

func usesSelectableFields(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, v := range crd.Spec.Versions {
		if v.SelectableFields != nil {
			return true
		}
	}
	return false
}

func usesObservedGeneration(crd *apiextensionsv1.CustomResourceDefinition) bool {
	if crd.Status.ObservedGeneration != 0 {
		return true
	}
	for _, c := range crd.Status.Conditions {
		if c.ObservedGeneration != 0 {
			return true
		}
	}
	return false
}

// walkSchema calls fn on every schema node that can carry
// x-kubernetes-validations, in place.
func walkSchema(s *apiextensionsv1.JSONSchemaProps, fn func(*apiextensionsv1.JSONSchemaProps)) {
	if s == nil {
		return
	}
	fn(s)
	if s.AdditionalProperties != nil {
		walkSchema(s.AdditionalProperties.Schema, fn)
	}
	for k, p := range s.Properties {
		walkSchema(&p, fn)
		s.Properties[k] = p
	}
	if s.Items != nil {
		walkSchema(s.Items.Schema, fn)
		for i := range s.Items.JSONSchemas {
			walkSchema(&s.Items.JSONSchemas[i], fn)
		}
	}
}

// WarningsOnCreate returns the upstream CRD strategy's create warnings:
// unrecognized formats and list-type set over non-scalars.
func WarningsOnCreate(crd *apiextensionsv1.CustomResourceDefinition) []string {
	in, err := toInternal(crd)
	if err != nil {
		return nil
	}
	var warnings []string
	for _, f := range unrecognizedFormats(&in.Spec) {
		warnings = append(warnings, fmt.Sprintf("unrecognized format %q", f))
	}
	return append(warnings, nonScalarListSetWarnings(&in.Spec)...)
}

// WarningsOnUpdate returns the warnings upstream gives on a CRD update: only
// problems the update introduces, so unchanged CRDs do not warn forever.
func WarningsOnUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) []string {
	in, err := toInternal(crd)
	if err != nil {
		return nil
	}
	oldIn, err := toInternal(old)
	if err != nil {
		return nil
	}
	var warnings []string
	oldFormats := sets.New(unrecognizedFormats(&oldIn.Spec)...)
	for _, f := range unrecognizedFormats(&in.Spec) {
		if !oldFormats.Has(f) {
			warnings = append(warnings, fmt.Sprintf("unrecognized format %q", f))
		}
	}
	seen := sets.New(nonScalarListSetWarnings(&oldIn.Spec)...)
	for _, w := range nonScalarListSetWarnings(&in.Spec) {
		if !seen.Has(w) {
			warnings = append(warnings, w)
		}
	}
	return warnings
}

func unrecognizedFormats(s *apiextensions.CustomResourceDefinitionSpec) []string {
	compat := environment.DefaultCompatibilityVersion()
	var out []string
	check := func(p *apiextensions.JSONSchemaProps) bool {
		if len(p.Format) > 0 {
			sch := &spec.Schema{SchemaProps: spec.SchemaProps{Format: p.Format, Type: []string{p.Type}}}
			out = append(out, apiservervalidation.GetUnrecognizedFormats(sch, compat)...)
		}
		return false
	}
	if s.Validation != nil && s.Validation.OpenAPIV3Schema != nil {
		crdvalidation.SchemaHas(s.Validation.OpenAPIV3Schema, check)
	}
	for _, v := range s.Versions {
		if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			crdvalidation.SchemaHas(v.Schema.OpenAPIV3Schema, check)
		}
	}
	return out
}

func nonScalarListSetWarnings(s *apiextensions.CustomResourceDefinitionSpec) []string {
	seen := sets.New[string]()
	check := func(p *apiextensions.JSONSchemaProps) bool {
		if p.XListType != nil && *p.XListType == "set" && p.Items != nil && p.Items.Schema != nil {
			switch p.Items.Schema.Type {
			case "object", "array":
				seen.Insert(fmt.Sprintf("x-kubernetes-list-type: set for items of type %q is not supported by server-side apply or CEL validation rules", p.Items.Schema.Type))
			}
		}
		return false
	}
	if s.Validation != nil && s.Validation.OpenAPIV3Schema != nil {
		crdvalidation.SchemaHas(s.Validation.OpenAPIV3Schema, check)
	}
	for _, v := range s.Versions {
		if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			crdvalidation.SchemaHas(v.Schema.OpenAPIV3Schema, check)
		}
	}
	return sets.List(seen)
}
