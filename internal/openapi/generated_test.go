package openapi

import (
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/terminus-project/terminus/internal/openapi/generated"
)

// TestGeneratedDefinitionsAreClosed guards the generator run: openapi-gen
// writes a literal ref("…") for a type whose package was not an input and
// carries on, and the builders then fail at run time with "cannot find
// model definition". Every reference and dependency must be a definition.
func TestGeneratedDefinitionsAreClosed(t *testing.T) {
	src, err := os.ReadFile("generated/zz_generated.openapi.go")
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(string(src), `ref("`); i >= 0 {
		end := min(i+120, len(src))
		t.Errorf("generated file has a dangling reference (add its package to the go:generate inputs): %s", src[i:end])
	}

	var refs []string
	defs := generated.GetOpenAPIDefinitions(func(name string) spec.Ref {
		refs = append(refs, name)
		return spec.MustCreateRef("#/definitions/" + common.EscapeJsonPointer(name))
	})
	if len(defs) < 400 {
		t.Errorf("only %d definitions generated; an input package is missing", len(defs))
	}
	for name, def := range defs {
		refs = append(refs, def.Dependencies...)
		if !strings.HasPrefix(name, "io.k8s.") {
			t.Errorf("definition %q is not named as a real server names it (io.k8s.…)", name)
		}
	}
	slices.Sort(refs)
	for _, name := range slices.Compact(refs) {
		if _, ok := defs[name]; !ok {
			t.Errorf("reference to %q has no definition", name)
		}
	}

	// And the builder agrees: every definition builds with its closure.
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	if _, err := builder.BuildOpenAPIDefinitionsForResources(&common.Config{GetDefinitions: generated.GetOpenAPIDefinitions}, names...); err != nil {
		t.Errorf("building every definition: %v", err)
	}
}

// TestGeneratedHasServedKinds checks that the kinds the lead serves (and
// the ones they reference) were generated under upstream's names.
func TestGeneratedHasServedKinds(t *testing.T) {
	defs := generated.GetOpenAPIDefinitions(func(name string) spec.Ref { return spec.Ref{} })
	for _, name := range []string{
		"io.k8s.api.core.v1.Pod",
		"io.k8s.api.apps.v1.Deployment",
		"io.k8s.api.batch.v1.Job",
		"io.k8s.api.autoscaling.v1.Scale",
		"io.k8s.api.policy.v1.Eviction",
		"io.k8s.api.coordination.v1.Lease",
		"io.k8s.api.discovery.v1.EndpointSlice",
		"io.k8s.api.events.v1.Event",
		"io.k8s.api.storage.v1.StorageClass",
		"io.k8s.api.scheduling.v1alpha3.Workload",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
		"io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
		"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
		"io.k8s.apimachinery.pkg.api.resource.Quantity",
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString",
		"io.k8s.apimachinery.pkg.version.Info",
	} {
		if _, ok := defs[name]; !ok {
			t.Errorf("no definition %q", name)
		}
	}
}
