package crd

import (
	"errors"
	"fmt"
	"k8s.io/client-go/util/jsonpath"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	apiextensionsfeatures "k8s.io/apiextensions-apiserver/pkg/features"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Version is everything needed to serve one version of an established CRD,
// built the way upstream's crdHandler builds a version's storage and request
// scope. Build one per CRD change; it is immutable afterwards and safe for
// concurrent use.
type Version struct {
	// crd is a private deep copy: OpenAPI and the type converter are built
	// from all of its versions.
	crd                   *apiextensionsv1.CustomResourceDefinition
	gvk                   schema.GroupVersionKind
	namespaced            bool
	preserveUnknownFields bool

	// structural is the version's structural schema with defaults pruned,
	// used for pruning, defaulting, embedded objectmeta, list types and CEL.
	// nil when the version has no schema.
	structural      *structuralschema.Structural
	schemaValidator apiservervalidation.SchemaValidator
	// statusValidator validates only .status on the status subresource.
	statusValidator apiservervalidation.SchemaValidator
	celValidator    *cel.Validator

	status *apiextensions.CustomResourceSubresourceStatus
	scale  *apiextensions.CustomResourceSubresourceScale

	// columns are the printer columns with upstream's Age default; the
	// table convertor is built per call because client-go's JSONPath keeps
	// state while it evaluates and must not be shared between goroutines.
	columns []apiextensionsv1.CustomResourceColumnDefinition
	// selectable holds the version's selectableFields JSONPaths, and
	// selectableParsed each one parsed (nil if it does not parse), once:
	// field selectors evaluate them for every listed or watched object.
	selectable       []string
	selectableParsed []*jsonpath.JSONPath

	typeConverterOnce sync.Once
	typeConverter     managedfields.TypeConverter
}

// NewVersion builds the serving information for version of crd. It fails
// when the version does not exist or its schema cannot be made structural
// (which CRD validation prevents for stored CRDs).
func NewVersion(crd *apiextensionsv1.CustomResourceDefinition, version string) (*Version, error) {
	crd = crd.DeepCopy()
	var ver *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range crd.Spec.Versions {
		if crd.Spec.Versions[i].Name == version {
			ver = &crd.Spec.Versions[i]
			break
		}
	}
	if ver == nil {
		return nil, fmt.Errorf("version %q not found in CustomResourceDefinition %q", version, crd.Name)
	}

	// Upstream serves the accepted names; fall back to the requested ones
	// for CRDs whose names have not been accepted yet so tests and previews
	// can build a Version early.
	kind := crd.Status.AcceptedNames.Kind
	if kind == "" {
		kind = crd.Spec.Names.Kind
	}
	v := &Version{
		crd:                   crd,
		gvk:                   schema.GroupVersionKind{Group: crd.Spec.Group, Version: version, Kind: kind},
		namespaced:            crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		preserveUnknownFields: crd.Spec.PreserveUnknownFields,
	}

	var internalSchema *apiextensions.JSONSchemaProps
	if ver.Schema != nil {
		internal := &apiextensions.CustomResourceValidation{}
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(ver.Schema, internal, nil); err != nil {
			return nil, fmt.Errorf("converting the schema of %s to the internal version: %w", v.gvk, err)
		}
		internalSchema = internal.OpenAPIV3Schema
	}
	if internalSchema != nil {
		s, err := structuralschema.NewStructural(internalSchema)
		if err != nil && !crd.Spec.PreserveUnknownFields {
			return nil, fmt.Errorf("the schema of %s is not structural: %w", v.gvk, err)
		}
		if err == nil && !crd.Spec.PreserveUnknownFields {
			// Defaults are pruned on a copy because the structural schema
			// shares default values with internalSchema.
			s = s.DeepCopy()
			if err := structuraldefaulting.PruneDefaults(s); err != nil {
				return nil, fmt.Errorf("pruning the defaults of %s: %w", v.gvk, err)
			}
		}
		if err == nil {
			v.structural = s
		}
	}

	validator, _, err := apiservervalidation.NewSchemaValidator(internalSchema)
	if err != nil {
		return nil, fmt.Errorf("building the schema validator of %s: %w", v.gvk, err)
	}
	v.schemaValidator = validator

	if sr := ver.Subresources; sr != nil && sr.Status != nil {
		v.status = &apiextensions.CustomResourceSubresourceStatus{}
		// Only the status schema applies on the status subresource.
		if internalSchema != nil && internalSchema.Properties != nil {
			if statusSchema, ok := internalSchema.Properties["status"]; ok {
				sv, _, err := apiservervalidation.NewSchemaValidator(&statusSchema)
				if err != nil {
					return nil, fmt.Errorf("building the status schema validator of %s: %w", v.gvk, err)
				}
				v.statusValidator = sv
			}
		}
	}
	if sr := ver.Subresources; sr != nil && sr.Scale != nil {
		v.scale = &apiextensions.CustomResourceSubresourceScale{}
		if err := apiextensionsv1.Convert_v1_CustomResourceSubresourceScale_To_apiextensions_CustomResourceSubresourceScale(sr.Scale, v.scale, nil); err != nil {
			return nil, fmt.Errorf("converting the scale subresource of %s: %w", v.gvk, err)
		}
	}

	if v.structural != nil {
		// CEL programs are compiled once here, as upstream's strategy does.
		v.celValidator = cel.NewValidator(v.structural, true, celconfig.PerCallLimit)
	}

	v.columns = ver.AdditionalPrinterColumns
	if len(v.columns) == 0 {
		v.columns = []apiextensionsv1.CustomResourceColumnDefinition{ageColumn()}
	}
	if utilfeature.DefaultFeatureGate.Enabled(apiextensionsfeatures.CustomResourceFieldSelectors) {
		for _, sf := range ver.SelectableFields {
			v.selectable = append(v.selectable, sf.JSONPath)
			v.selectableParsed = append(v.selectableParsed, parseSelectable(sf.JSONPath))
		}
	}
	return v, nil
}

// ageColumn is upstream's default printer column when a version declares
// none (the Name column is always added by the table convertor).
func ageColumn() apiextensionsv1.CustomResourceColumnDefinition {
	return apiextensionsv1.CustomResourceColumnDefinition{
		Name:        "Age",
		Type:        "date",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"],
		JSONPath:    ".metadata.creationTimestamp",
	}
}

// GroupVersionKind is the kind this version serves.
func (v *Version) GroupVersionKind() schema.GroupVersionKind { return v.gvk }

// Namespaced reports whether the CRD is namespace scoped.
func (v *Version) Namespaced() bool { return v.namespaced }

// HasStatus reports whether the status subresource is enabled for this
// version.
func (v *Version) HasStatus() bool { return v.status != nil }

// HasScale reports whether the scale subresource is enabled for this
// version.
func (v *Version) HasScale() bool { return v.scale != nil }

// ResetFields returns the fields server-side apply resets for a write to
// subresource ("" for the main resource), as upstream's strategies'
// GetResetFields: the main resource resets status when the status
// subresource is on; the status subresource resets metadata and spec, keyed
// by every version of the CRD that has a status subresource (upstream merges
// them into one status scope); the scale subresource resets nothing.
func (v *Version) ResetFields(subresource string) map[fieldpath.APIVersion]*fieldpath.Set {
	out := map[fieldpath.APIVersion]*fieldpath.Set{}
	switch subresource {
	case "":
		if v.status != nil {
			out[fieldpath.APIVersion(v.gvk.GroupVersion().String())] = fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
		}
	case "status":
		for _, ver := range v.crd.Spec.Versions {
			if ver.Subresources == nil || ver.Subresources.Status == nil {
				continue
			}
			gv := schema.GroupVersion{Group: v.crd.Spec.Group, Version: ver.Name}
			out[fieldpath.APIVersion(gv.String())] = fieldpath.NewSet(
				fieldpath.MakePathOrDie("metadata"),
				fieldpath.MakePathOrDie("spec"),
			)
		}
	}
	return out
}

// TypeConverter returns the server-side apply type converter for the CRD,
// built like upstream's: the OpenAPI v3 models of every version merged, then
// managedfields.NewTypeConverter honouring spec.preserveUnknownFields. If the
// models cannot be built it falls back to the deduced converter, as upstream
// does. It is built on first use because it is costly and not every CRD is
// written with apply.
func (v *Version) TypeConverter() managedfields.TypeConverter {
	v.typeConverterOnce.Do(func() {
		tc, err := buildTypeConverter(v.crd)
		if err != nil {
			tc = managedfields.NewDeducedTypeConverter()
		}
		v.typeConverter = tc
	})
	return v.typeConverter
}

func buildTypeConverter(crd *apiextensionsv1.CustomResourceDefinition) (managedfields.TypeConverter, error) {
	var specs []*spec3.OpenAPI
	for _, ver := range crd.Spec.Versions {
		// Defaults stay in these models: apply needs them, and upstream
		// prunes defaults only from the documents it serves.
		s, err := builder.BuildOpenAPIV3(crd, ver.Name, builder.Options{})
		if err != nil {
			return nil, fmt.Errorf("building OpenAPI v3 for %s/%s: %w", crd.Name, ver.Name, err)
		}
		specs = append(specs, s)
	}
	merged, err := builder.MergeSpecsV3(specs...)
	if err != nil {
		return nil, fmt.Errorf("merging OpenAPI v3 for %s: %w", crd.Name, err)
	}
	if merged.Components == nil || len(merged.Components.Schemas) == 0 {
		return nil, errors.New("no OpenAPI models")
	}
	tc, err := managedfields.NewTypeConverter(merged.Components.Schemas, crd.Spec.PreserveUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("building the type converter for %s: %w", crd.Name, err)
	}
	return tc, nil
}

// OpenAPIV2 builds the OpenAPI v2 document for one version of crd with the
// options upstream's OpenAPI v2 controller uses (so kubectl explain works),
// without the default pruning that controller applies when merging into the
// aggregated spec (the caller merges).
func OpenAPIV2(crd *apiextensionsv1.CustomResourceDefinition, version string) (*spec.Swagger, error) {
	if !apihelpers.HasVersionServed(crd, version) {
		return nil, fmt.Errorf("version %q is not served by CustomResourceDefinition %q", version, crd.Name)
	}
	s, err := builder.BuildOpenAPIV2(crd, version, builder.Options{
		V2:                      true,
		IncludeSelectableFields: utilfeature.DefaultFeatureGate.Enabled(apiextensionsfeatures.CustomResourceFieldSelectors),
	})
	if err != nil {
		return nil, fmt.Errorf("building OpenAPI v2 for %s/%s: %w", crd.Name, version, err)
	}
	return s, nil
}

// OpenAPIV3 builds the OpenAPI v3 document served for one version of crd at
// /openapi/v3/apis/<group>/<version>, with the options upstream's v3
// controller uses.
func OpenAPIV3(crd *apiextensionsv1.CustomResourceDefinition, version string) (*spec3.OpenAPI, error) {
	if !apihelpers.HasVersionServed(crd, version) {
		return nil, fmt.Errorf("version %q is not served by CustomResourceDefinition %q", version, crd.Name)
	}
	s, err := builder.BuildOpenAPIV3(crd, version, builder.Options{
		V2:                      false,
		IncludeSelectableFields: utilfeature.DefaultFeatureGate.Enabled(apiextensionsfeatures.CustomResourceFieldSelectors),
	})
	if err != nil {
		return nil, fmt.Errorf("building OpenAPI v3 for %s/%s: %w", crd.Name, version, err)
	}
	return s, nil
}

// splitPath splits a subresource path such as ".spec.replicas" as upstream
// does: the leading period is ignored.
func splitPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "."), ".")
}
