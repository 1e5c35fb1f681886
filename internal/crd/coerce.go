package crd

import (
	"fmt"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// PruneAndDefault coerces a request body (create, update, patch result,
// status update) as upstream's decoder does before the strategy sees it:
// metadata is round-tripped through ObjectMeta, fields the schema does not
// know are dropped (unless x-kubernetes-preserve-unknown-fields), non-nullable
// nulls without a default are removed, embedded resources' metadata is
// coerced, and schema defaults are applied.
//
// It returns the dropped field paths in upstream's format ("spec.foo",
// "metadata.foo", "spec.items[0].bar"), sorted per pass. With
// fieldValidation=Strict the caller rejects the request with
// `strict decoding error: unknown field "spec.foo"`, with Warn it warns
// (see UnknownFieldMessages); with Ignore it drops the paths.
//
// Unlike upstream's request decoder it never fails: metadata fields of the
// wrong type are dropped, as upstream does when it reads from storage. Use
// PruneAndDefaultRequest to reproduce upstream's 400 for those.
func (v *Version) PruneAndDefault(obj map[string]interface{}) (unknownFields []string) {
	// The only failures left with dropInvalidMetadata are a non-string
	// kind or apiVersion, or an unparsable apiVersion, all detected before
	// anything is changed; validation reports them (apiVersion/kind "must
	// be ...").
	unknown, err := v.coerce(obj, coerceOptions{returnUnknownFieldPaths: true, dropInvalidMetadata: true})
	if err != nil {
		return nil
	}
	v.applyDefaults(obj)
	return unknown
}

// PruneAndDefaultRequest is PruneAndDefault with upstream's request-decoder
// error behaviour: malformed metadata (for example a numeric
// metadata.name) or a non-string kind/apiVersion is an error, which upstream
// turns into a 400 BadRequest
// (`<Kind> in version "<v>" cannot be handled as a <Kind>: <err>`).
// returnUnknownFieldPaths corresponds to upstream's strict decoder, used for
// fieldValidation Strict and Warn; when false no paths are collected.
// obj may have been partly coerced when an error is returned.
func (v *Version) PruneAndDefaultRequest(obj map[string]interface{}, returnUnknownFieldPaths bool) (unknownFields []string, err error) {
	unknown, err := v.coerce(obj, coerceOptions{returnUnknownFieldPaths: returnUnknownFieldPaths})
	if err != nil {
		return nil, err
	}
	v.applyDefaults(obj)
	return unknown, nil
}

// DefaultOnRead coerces an object read from storage as upstream's storage
// decoder does: malformed metadata is dropped, a missing generation is
// repaired to 1 (very old custom resources), unknown fields are pruned and
// defaults applied, so objects stored before a schema change read as the
// current schema says. The caller converts the object to this version
// (conversion strategy None: rewrite apiVersion) before calling it.
func (v *Version) DefaultOnRead(obj map[string]interface{}) {
	// With dropInvalidMetadata the only failures left are a non-string
	// kind or apiVersion; upstream fails the read then, and we leave
	// the object as it is for validation to report.
	if _, err := v.coerce(obj, coerceOptions{dropInvalidMetadata: true, repairGeneration: true}); err != nil {
		return
	}
	v.applyDefaults(obj)
}

// UnknownFieldMessages formats pruned field paths as upstream's strict
// decoder does (`unknown field "spec.foo"`); the caller joins them into
// `strict decoding error: ...` for Strict or sends each as a warning for
// Warn.
func UnknownFieldMessages(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, fmt.Sprintf("unknown field %q", p))
	}
	return out
}

type coerceOptions struct {
	dropInvalidMetadata     bool
	repairGeneration        bool
	returnUnknownFieldPaths bool
}

// coerce is upstream's unstructuredSchemaCoercer.apply for this version.
func (v *Version) coerce(obj map[string]interface{}, opts coerceOptions) ([]string, error) {
	if obj == nil {
		return nil, nil
	}
	kind, foundKind, err := unstructured.NestedString(obj, "kind")
	if err != nil {
		return nil, fmt.Errorf("reading kind: %w", err)
	}
	apiVersion, foundAPIVersion, err := unstructured.NestedString(obj, "apiVersion")
	if err != nil {
		return nil, fmt.Errorf("reading apiVersion: %w", err)
	}
	objectMeta, foundObjectMeta, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{
		DropMalformedFields:     opts.dropInvalidMetadata,
		ReturnUnknownFieldPaths: opts.returnUnknownFieldPaths,
	})
	if err != nil {
		return nil, err
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}

	// Other objects (DeleteOptions, ...) pass through upstream's decoder
	// too; only this CRD's kind is pruned.
	if gv.Group == v.gvk.Group && kind == v.gvk.Kind {
		if !v.preserveUnknownFields {
			pruneOpts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: opts.returnUnknownFieldPaths}
			unknown = append(unknown, structuralpruning.PruneWithOptions(obj, v.structural, true, pruneOpts)...)
			structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, v.structural)
		}
		ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, obj, v.structural, false, schemaobjectmeta.CoerceOptions{
			DropInvalidFields:       opts.dropInvalidMetadata,
			ReturnUnknownFieldPaths: opts.returnUnknownFieldPaths,
		})
		if ferr != nil {
			return nil, ferr
		}
		unknown = append(unknown, paths...)
		if opts.repairGeneration && objectMeta != nil && objectMeta.Generation == 0 {
			objectMeta.Generation = 1
		}
	}

	// Restore the implicit meta fields, starting clean.
	if foundKind {
		obj["kind"] = kind
	}
	if foundAPIVersion {
		obj["apiVersion"] = apiVersion
	}
	if foundObjectMeta {
		if err := schemaobjectmeta.SetObjectMeta(obj, objectMeta); err != nil {
			return nil, fmt.Errorf("writing back metadata: %w", err)
		}
	}
	return unknown, nil
}

// applyDefaults is upstream's unstructuredDefaulter: schema defaults for
// this CRD's kind only.
func (v *Version) applyDefaults(obj map[string]interface{}) {
	if obj == nil || v.structural == nil {
		return
	}
	kind, _, _ := unstructured.NestedString(obj, "kind")
	apiVersion, _, _ := unstructured.NestedString(obj, "apiVersion")
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || gv.Group != v.gvk.Group || kind != v.gvk.Kind {
		return
	}
	structuraldefaulting.Default(obj, v.structural)
}
