package fieldmanager

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// FuzzApply feeds arbitrary patch bytes to Apply over a ConfigMap that has
// owners: it must never panic, fail only with a Status upstream could
// send, and succeed only with a ConfigMap.
func FuzzApply(f *testing.F) {
	fx := builtinFixture(f, configMapGVK)
	m := fx.manager(f, "")
	live, err := m.Apply(nil, []byte(cmHeader+"data: {a: '1', b: '2'}"), "mgr-a", false)
	if err != nil {
		f.Fatal(err)
	}
	live = fx.roundTrip(f, live)
	for _, seed := range []string{
		cmHeader + "data: {a: '2'}",
		cmHeader + "data: {c: '3'}",
		cmHeader + "  managedFields: [{manager: x}]",
		cmHeader + "  labels: {a: null}\n  finalizers: [x, x]",
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"binaryData":{"x":"AAAA"}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"ownerReferences":[{"uid":"1"},{"uid":"1"}]}}`,
		"null", "", "[]", "1", "---\n---", "data: [", "apiVersion: v1\nkind: ConfigMap\ndata: 5",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {managedFields: 7}",
	} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, patch []byte, force bool) {
		in := live.DeepCopyObject()
		got, err := m.Apply(in, patch, "fuzzer", force)
		if err != nil {
			var se *apierrors.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error is a %T, not a Status: %v", err, err)
			}
			switch se.ErrStatus.Code {
			case 400, 409, 422, 500:
			default:
				t.Fatalf("unexpected code %d: %v", se.ErrStatus.Code, err)
			}
			return
		}
		if _, ok := got.(*corev1.ConfigMap); !ok {
			t.Fatalf("Apply returned a %T", got)
		}
	})
}
