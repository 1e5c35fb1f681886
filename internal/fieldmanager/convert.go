package fieldmanager

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// builtinConverter is upstream's UnsafeObjectConvertor(scheme) with a
// shortcut: terminus serves one version per kind, so a typed object that
// already says it is in the target version is returned as it is. The
// scheme would do the same but first write the kind into the object's
// TypeMeta, and the live object may be shared with a cache and readers:
// skipping that write keeps liveObj untouched (and the hot path cheaper).
type builtinConverter struct {
	runtime.ObjectConvertor
}

func newBuiltinConverter(s *runtime.Scheme) builtinConverter {
	return builtinConverter{runtime.UnsafeObjectConvertor(s)}
}

func (c builtinConverter) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	// Unstructured input (the result of an apply) must become typed, so it
	// always goes through the scheme.
	if _, isUnstructured := in.(runtime.Unstructured); !isUnstructured {
		gvk := in.GetObjectKind().GroupVersionKind()
		if gvk.Kind != "" {
			if want, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && want == gvk {
				return in, nil
			}
		}
	}
	return c.ObjectConvertor.ConvertToVersion(in, target)
}

// unstructuredConverter converts custom resources between versions the
// way a CRD with conversion strategy None does (upstream's nopConverter):
// only apiVersion changes, and only within the group. The same version is
// the identity and returns the object itself, as upstream's crConverter.
type unstructuredConverter struct{}

func (unstructuredConverter) Convert(in, out, context any) error {
	return fmt.Errorf("fieldmanager: unstructured objects convert only with ConvertToVersion (got %T)", in)
}

func (unstructuredConverter) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("fieldmanager: custom resource is a %T, not unstructured", in)
	}
	from := u.GroupVersionKind()
	to, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{from})
	if !ok || to.Group != from.Group {
		return nil, fmt.Errorf("%v is unstructured and is not suitable for converting to %q", from, target)
	}
	if to == from {
		return in, nil
	}
	out := u.DeepCopy()
	out.SetGroupVersionKind(to)
	return out, nil
}

func (unstructuredConverter) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

// unstructuredCreater makes the empty object an apply creates from, as
// upstream's CRD handler does.
type unstructuredCreater struct{}

func (unstructuredCreater) New(kind schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(kind)
	return u, nil
}

// noDefaults is the defaulter of custom resources when the caller has
// none: structural-schema defaulting belongs to the CRD strategy.
type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}
