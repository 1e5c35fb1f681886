package fieldmanager

import (
	"cmp"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/terminus-project/terminus/internal/openapi/generated"
)

// gvkExtension is the extension managedfields indexes schemas by.
const gvkExtension = "x-kubernetes-group-version-kind"

// NewBuiltinTypeConverter returns the type converter for every built-in
// kind the scheme registers, built from the generated OpenAPI definitions
// as upstream builds it. Building takes tens of milliseconds, so build it
// once and share it: a TypeConverter is read-only and safe for concurrent
// use.
func NewBuiltinTypeConverter(scheme *runtime.Scheme) (managedfields.TypeConverter, error) {
	defs, err := ModelDefinitions(scheme)
	if err != nil {
		return nil, err
	}
	// preserveUnknownFields=false: built-in schemas are closed, and an
	// applied field the schema does not declare is an error, as upstream.
	tc, err := managedfields.NewTypeConverter(defs, false)
	if err != nil {
		return nil, fmt.Errorf("fieldmanager: type converter: %w", err)
	}
	return tc, nil
}

// ModelDefinitions returns the OpenAPI v3 schemas (refs written as
// #/components/schemas/…) of every kind the scheme registers, with the
// definitions they refer to, top-level kinds tagged with
// x-kubernetes-group-version-kind: what upstream feeds
// managedfields.NewTypeConverter, via
// builder3.BuildOpenAPIDefinitionsForResources over the served kinds. A
// custom resource's converter needs ObjectMeta and its dependencies from
// here too.
//
// It lives here rather than in internal/openapi, whose namer does the same
// tagging, because internal/openapi also builds the CRD documents: the CRD
// code that will use this package would otherwise sit in an import cycle
// (and every user would link the document server). Kinds the scheme
// registers without a generated definition (policy/v1beta1 Eviction, a
// request body only) are left out: nothing applies to them. Each call
// builds fresh definitions, because the builder writes the extensions into
// the definitions' maps.
func ModelDefinitions(s *runtime.Scheme) (map[string]*spec.Schema, error) {
	extensions := map[string]spec.Extensions{}
	gvks := map[string][]map[string]any{}
	for gvk := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		name, err := s.ToOpenAPIDefinitionName(gvk)
		if err != nil {
			return nil, fmt.Errorf("fieldmanager: definition name of %v: %w", gvk, err)
		}
		gvks[name] = append(gvks[name], map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind})
	}
	for name, list := range gvks {
		// Sorted so the result does not depend on map order.
		slices.SortFunc(list, func(a, b map[string]any) int {
			return cmp.Or(cmp.Compare(a["group"].(string), b["group"].(string)),
				cmp.Compare(a["version"].(string), b["version"].(string)),
				cmp.Compare(a["kind"].(string), b["kind"].(string)))
		})
		ext := make([]any, len(list))
		for i := range list {
			ext[i] = list[i]
		}
		extensions[name] = spec.Extensions{gvkExtension: ext}
	}
	// Generated definitions are already named as a real server names them
	// (io.k8s.api.core.v1.Pod), so naming is the identity.
	namer := func(name string) (string, spec.Extensions) { return name, extensions[name] }
	defs := generated.GetOpenAPIDefinitions(func(name string) spec.Ref {
		return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(name))
	})
	names := make([]string, 0, len(extensions))
	for name := range extensions {
		if _, ok := defs[name]; ok {
			names = append(names, name)
		}
	}
	// Sorted so that a failure names the same definition on every run.
	slices.Sort(names)
	out, err := builder3.BuildOpenAPIDefinitionsForResources(&common.OpenAPIV3Config{
		Definitions:       defs,
		GetDefinitionName: namer,
	}, names...)
	if err != nil {
		return nil, fmt.Errorf("fieldmanager: model definitions: %w", err)
	}
	return out, nil
}
