package openapi

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// gvkExtension is the definition (and operation) extension that kubectl
// explain, kubectl's validation and the server-side apply type converter
// use to find the schema of a kind.
const gvkExtension = "x-kubernetes-group-version-kind"

// definitionNamer names definitions and tags top-level types with the
// group-version-kinds the scheme registers them under.
//
// The generated definitions are already keyed by the names a real server
// uses (io.k8s.api.core.v1.Pod, from k8s.io/api's OpenAPIModelName
// methods), so naming is the identity; the namer's job is the extension.
type definitionNamer struct {
	// extensions maps a definition name to its precomputed extensions; the
	// builders ask for a name once per reference, so computing them here
	// keeps that cheap. The builders copy the map and never modify values.
	extensions map[string]spec.Extensions
}

func newDefinitionNamer(s *runtime.Scheme) (*definitionNamer, error) {
	gvks := map[string][]metav1.GroupVersionKind{}
	for gvk := range s.AllKnownTypes() {
		// Internal types (WatchEvent's InternalEvent, for one) are never
		// served, and their names would not match any definition.
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		name, err := s.ToOpenAPIDefinitionName(gvk)
		if err != nil {
			return nil, fmt.Errorf("openapi: definition name of %v: %w", gvk, err)
		}
		gvks[name] = append(gvks[name], metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind})
	}
	n := &definitionNamer{extensions: make(map[string]spec.Extensions, len(gvks))}
	for name, list := range gvks {
		// Map iteration order is random; sort so the documents (and their
		// ETags) are the same on every start.
		slices.SortFunc(list, func(a, b metav1.GroupVersionKind) int {
			return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Kind, b.Kind))
		})
		ext := make([]any, len(list))
		for i, g := range list {
			// The same JSON shape as upstream's: a list of {group, version, kind}.
			ext[i] = map[string]any{"group": g.Group, "version": g.Version, "kind": g.Kind}
		}
		n.extensions[name] = spec.Extensions{gvkExtension: ext}
	}
	return n, nil
}

// GetDefinitionName implements common.Config.GetDefinitionName.
func (n *definitionNamer) GetDefinitionName(name string) (string, spec.Extensions) {
	return name, n.extensions[name]
}
