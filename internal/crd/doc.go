// Package crd holds what terminus needs to serve CustomResourceDefinitions and
// the custom resources they define, reproducing kube-apiserver's
// apiextensions behaviour by composing k8s.io/apiextensions-apiserver's
// library packages (structural schemas, pruning, defaulting, objectmeta
// coercion, OpenAPI and CEL validation, the table convertor and the OpenAPI
// builder) instead of re-implementing them.
//
// It has two halves:
//
//   - Functions over a CustomResourceDefinition itself: SetDefaults,
//     PrepareForCreate/PrepareForUpdate, ValidateCreate/ValidateUpdate (the
//     CRD registry strategy), AcceptNames (the naming and establishing
//     controllers' decision) and OpenAPIV2/OpenAPIV3.
//   - Version, everything needed to serve one version of an established CRD:
//     request-body coercion (prune, objectmeta, defaults; upstream's
//     schemaCoercingDecoder), the custom-resource strategy's validation and
//     warnings (spec A11), tables, field selectors, the scale subresource,
//     server-side-apply reset fields and the type converter.
//
// The package is pure: it holds no package-level mutable state, does no I/O
// and starts no goroutines. A Version is immutable after NewVersion and safe
// for concurrent use. Where upstream reads a feature gate, this package reads
// the same gate from k8s.io/apiserver's default feature gate, so the
// behaviour matches a kube-apiserver of the same version run with defaults.
package crd
