package fieldmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"
)

// The fixtures mirror what the registry will hand the package: a scheme of
// external types only, the built-in type converter, and for custom
// resources a converter over a CRD-like schema.

var (
	configMapGVK  = corev1.SchemeGroupVersion.WithKind("ConfigMap")
	deploymentGVK = appsv1.SchemeGroupVersion.WithKind("Deployment")
	widgetGVK     = schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
)

func testScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
}

// fixture builds Managers for one kind.
type fixture struct {
	gvk    schema.GroupVersionKind
	scheme *runtime.Scheme
	tc     managedfields.TypeConverter
	custom bool
	// reset is Config.ResetFields by subresource.
	reset map[string]map[fieldpath.APIVersion]*fieldpath.Set
	clock *clocktesting.FakeClock
}

var startTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func builtinFixture(t testing.TB, gvk schema.GroupVersionKind) *fixture {
	t.Helper()
	s := testScheme(t)
	tc, err := NewBuiltinTypeConverter(s)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{gvk: gvk, scheme: s, tc: tc, clock: clocktesting.NewFakeClock(startTime)}
	if gvk == deploymentGVK {
		f.reset = statusResetFields("apps/v1")
	}
	return f
}

// statusResetFields are a status-bearing kind's reset fields as upstream's
// strategies declare them: the main resource resets status, the status
// subresource everything else.
func statusResetFields(apiVersion fieldpath.APIVersion) map[string]map[fieldpath.APIVersion]*fieldpath.Set {
	return map[string]map[fieldpath.APIVersion]*fieldpath.Set{
		"":       {apiVersion: fieldpath.NewSet(fieldpath.MakePathOrDie("status"))},
		"status": {apiVersion: fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata", "labels"))},
	}
}

// widgetTypeConverter is the converter of a tiny custom resource: a
// hand-written schema tagged with its group-version-kind, with ObjectMeta
// and its dependencies taken from the built-in models, as a CRD's schema
// gets them upstream.
func widgetTypeConverter(t testing.TB) managedfields.TypeConverter {
	t.Helper()
	defs, err := ModelDefinitions(testScheme(t))
	if err != nil {
		t.Fatal(err)
	}
	str := func() spec.Schema { return *spec.StringProperty() }
	integer := func() spec.Schema { return *spec.Int64Property() }
	obj := func(props map[string]spec.Schema) spec.Schema {
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"object"}, Properties: props}}
	}
	port := obj(map[string]spec.Schema{"name": str(), "port": integer()})
	port.Required = []string{"name"}
	ports := *spec.ArrayProperty(&port)
	ports.Extensions = spec.Extensions{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": []any{"name"}}
	tags := *spec.ArrayProperty(spec.StringProperty())
	tags.Extensions = spec.Extensions{"x-kubernetes-list-type": "set"}
	widget := obj(map[string]spec.Schema{
		"apiVersion": str(),
		"kind":       str(),
		"metadata":   {SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")}},
		"spec":       obj(map[string]spec.Schema{"replicas": integer(), "color": str(), "tags": tags, "ports": ports}),
		"status":     obj(map[string]spec.Schema{"phase": str(), "ready": integer()}),
	})
	widget.Extensions = spec.Extensions{"x-kubernetes-group-version-kind": []any{
		map[string]any{"group": widgetGVK.Group, "version": widgetGVK.Version, "kind": widgetGVK.Kind},
	}}
	defs["com.example.v1.Widget"] = &widget
	tc, err := managedfields.NewTypeConverter(defs, false)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func widgetFixture(t testing.TB) *fixture {
	return &fixture{gvk: widgetGVK, tc: widgetTypeConverter(t), custom: true,
		reset: statusResetFields("example.com/v1"), clock: clocktesting.NewFakeClock(startTime)}
}

func (f *fixture) manager(t testing.TB, subresource string) *Manager {
	t.Helper()
	m, err := New(Config{TypeConverter: f.tc, Scheme: f.scheme, GVK: f.gvk, Subresource: subresource,
		ResetFields: f.reset[subresource], Custom: f.custom, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decode turns JSON into an object of the fixture's kind, as the store
// would hand it out.
func (f *fixture) decode(t testing.TB, data []byte) runtime.Object {
	t.Helper()
	// As the store decodes: integers as int64.
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	u.SetGroupVersionKind(f.gvk)
	if f.custom {
		return u
	}
	obj, err := f.scheme.New(f.gvk)
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		t.Fatal(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(f.gvk)
	return obj
}

// roundTrip stores and reads back obj, so that each step sees what a real
// store would give (times at second precision, no shared maps).
func (f *fixture) roundTrip(t testing.TB, obj runtime.Object) runtime.Object {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return f.decode(t, data)
}

// mergeUpdate is a non-apply write: the JSON merge patch of the YAML body
// applied to live, as a PUT or merge PATCH would produce it.
func (f *fixture) mergeUpdate(t testing.TB, live runtime.Object, body string) runtime.Object {
	t.Helper()
	liveJSON, err := json.Marshal(live)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := yaml.YAMLToJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := jsonpatch.MergePatch(liveJSON, patch)
	if err != nil {
		t.Fatal(err)
	}
	return f.decode(t, merged)
}

// owners renders managedFields as "manager/Operation[/subresource]" →
// the leaf fields it owns, which is what the tests assert on.
func owners(t testing.TB, obj runtime.Object) map[string][]string {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range acc.GetManagedFields() {
		key := e.Manager + "/" + string(e.Operation)
		if e.Subresource != "" {
			key += "/" + e.Subresource
		}
		set := &fieldpath.Set{}
		if e.FieldsV1 != nil {
			if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
				t.Fatalf("entry %s: %v", key, err)
			}
		}
		var paths []string
		set.Leaves().Iterate(func(p fieldpath.Path) { paths = append(paths, p.String()) })
		sort.Strings(paths)
		out[key] = paths
	}
	return out
}

// valueAt reads a dotted path of obj's JSON form ("data.a", "spec.replicas").
func valueAt(t testing.TB, obj runtime.Object, path string) any {
	t.Helper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	v, found, err := unstructured.NestedFieldCopy(content, strings.Split(path, ".")...)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return nil
	}
	return v
}

// statusOf is the part of an error the client sees.
type statusOf struct {
	Code    int32
	Reason  metav1.StatusReason
	Message string
	Causes  []metav1.StatusCause
}

func errStatus(t testing.TB, err error) *statusOf {
	t.Helper()
	if err == nil {
		return nil
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error is a %T, not a *StatusError: %v", err, err)
	}
	s := &statusOf{Code: se.ErrStatus.Code, Reason: se.ErrStatus.Reason, Message: se.ErrStatus.Message}
	if se.ErrStatus.Details != nil {
		s.Causes = se.ErrStatus.Details.Causes
	}
	return s
}

func causeOf(c statusCause) metav1.StatusCause {
	return metav1.StatusCause{Type: metav1.CauseTypeFieldManagerConflict, Message: c.manager, Field: c.field}
}
