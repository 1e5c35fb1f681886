package crd

import (
	"context"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// FuzzCustomResource feeds arbitrary JSON through everything a request body
// meets (coercion, validation, warnings, tables, field selectors, scale).
// None of it may panic.
func FuzzCustomResource(f *testing.F) {
	seeds := []string{
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"replicas":1}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":5,"labels":[1]},"spec":{"ports":[{"port":"x"},{"port":"x"}]}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":"x","spec":{"template":{"apiVersion":1,"kind":[],"metadata":{"name":{}}}}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","spec":null,"status":{"replicas":1e30,"selector":5}}`,
		`{"apiVersion":7,"kind":"Widget"}`,
		`{"apiVersion":"a/b/c","kind":"Widget"}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","finalizers":["a/b/c","x"],"deletionTimestamp":"bad"},"spec":{"name":"wwwwwwwww","size":"x","extra":{"a":null}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), []byte(seeds[0]))
	}
	v := widgetVersion(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data, oldData []byte) {
		m, ok := decodeObject(data)
		if !ok {
			return
		}
		o := &unstructured.Unstructured{Object: m}
		req := o.DeepCopy()
		_, _ = v.PruneAndDefaultRequest(req.Object, true)
		v.PruneAndDefault(o.Object)
		v.ValidateCreate(ctx, o)
		v.WarningsOnCreate(o)
		_, _ = v.ConvertToTable(ctx, o, nil)
		v.SelectableFields(o)
		_, _ = v.Scale(o)

		oldM, ok := decodeObject(oldData)
		if !ok {
			return
		}
		old := &unstructured.Unstructured{Object: oldM}
		v.DefaultOnRead(old.Object)
		v.ValidateUpdate(ctx, o, old)
		v.ValidateStatusUpdate(ctx, o, old)
		v.WarningsOnUpdate(o, old)
		upd := o.DeepCopy()
		v.PrepareForUpdate(upd, old)
		v.PrepareForStatusUpdate(o.DeepCopy(), old)
	})
}

// FuzzCRD feeds arbitrary JSON as a CustomResourceDefinition through
// defaulting, the CRD strategy and, when it validates, NewVersion and the
// OpenAPI builders. None of it may panic.
func FuzzCRD(f *testing.F) {
	base, err := utiljson.Marshal(loadCRD(f, widgetCRD))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	f.Add([]byte(`{"metadata":{"name":"a.b"},"spec":{"group":"b","names":{"plural":"a","kind":"A"},"scope":"Cluster","versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-validations":[{"rule":"self.x == oldSelf.x"}]}}}]}}`))
	f.Add([]byte(`{"spec":{"versions":[{"name":"v1","schema":{"openAPIV3Schema":{"default":{"a":1},"properties":{"a":{"type":"integer","default":"x"}}}}}]}}`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := utiljson.Unmarshal(data, crd); err != nil {
			return
		}
		SetDefaults(crd)
		old := crd.DeepCopy()
		PrepareForCreate(crd)
		WarningsOnCreate(crd)
		errs := ValidateCreate(ctx, crd)
		PrepareForUpdate(crd, old)
		ValidateUpdate(ctx, crd, old)
		WarningsOnUpdate(crd, old)
		AcceptNames(crd, []*apiextensionsv1.CustomResourceDefinition{old})
		if len(errs) > 0 {
			return
		}
		for _, ver := range crd.Spec.Versions {
			v, err := NewVersion(crd, ver.Name)
			if err != nil {
				t.Errorf("NewVersion(%s) of a valid CRD: %v", ver.Name, err)
				continue
			}
			v.ResetFields("status")
			_, _ = OpenAPIV2(crd, ver.Name)
			_, _ = OpenAPIV3(crd, ver.Name)
		}
	})
}

// decodeObject decodes JSON like the API server does (integers as int64)
// and keeps only objects.
func decodeObject(data []byte) (map[string]interface{}, bool) {
	var m map[string]interface{}
	if err := utiljson.Unmarshal(data, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}
