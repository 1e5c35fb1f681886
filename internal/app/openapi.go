package app

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/terminus-project/terminus/internal/openapi"
	"github.com/terminus-project/terminus/internal/registry"
)

// OpenAPIResources describes the registry's resources for the OpenAPI route
// table.
func OpenAPIResources(resources []*registry.Resource) []openapi.Resource {
	out := make([]openapi.Resource, 0, len(resources))
	for _, r := range resources {
		if r.Custom != nil {
			continue
		}
		or := openapi.Resource{
			Group: r.GVR.Group, Version: r.GVR.Version, Resource: r.GVR.Resource, Kind: r.Kind,
			Namespaced: r.Namespaced, Verbs: r.Verbs, Object: r.New(), List: r.NewList(),
		}
		for _, s := range r.Subresources {
			sub := openapi.Subresource{Name: s.Name, Verbs: s.Verbs}
			switch {
			case s.Connect:
				// Upstream documents streaming and proxying subresources
				// with the "connect" verb, per HTTP method.
				sub.Verbs, sub.Kind = []string{"connect"}, s.GVK.Kind
				if s.Name == "proxy" {
					sub.ConnectMethods = registry.ProxyMethods
				}
			case s.New != nil && s.GVK.Kind != r.Kind: // scale, binding, eviction
				sub.Group, sub.Version, sub.Kind, sub.Object = s.GVK.Group, s.GVK.Version, s.GVK.Kind, s.New()
			}
			or.Subresources = append(or.Subresources, sub)
		}
		out = append(out, or)
	}
	return out
}

// EstablishedCRDs are the CRDs of the served custom resources that
// discovery lists (established), once each: their OpenAPI documents are
// published, as upstream's OpenAPI controllers publish established CRDs.
func EstablishedCRDs(resources []*registry.Resource) []*apiextensionsv1.CustomResourceDefinition {
	var out []*apiextensionsv1.CustomResourceDefinition
	seen := map[string]bool{}
	for _, r := range resources {
		if r.CRD == nil || r.Hidden || seen[r.CRD.Name] {
			continue
		}
		seen[r.CRD.Name] = true
		out = append(out, r.CRD)
	}
	return out
}
