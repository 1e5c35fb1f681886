package crd

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

func TestNewVersion(t *testing.T) {
	crd := loadCRD(t, widgetCRD)
	t.Run("an unknown version is an error", func(t *testing.T) {
		if _, err := NewVersion(crd, "v9"); err == nil || !strings.Contains(err.Error(), `version "v9" not found`) {
			t.Errorf("err = %v, want version not found", err)
		}
	})
	tests := []struct {
		version                       string
		wantStatus, wantScale, wantNS bool
	}{
		{version: "v1", wantStatus: true, wantScale: true, wantNS: true},
		{version: "v2", wantNS: true},
	}
	for _, tt := range tests {
		t.Run("version "+tt.version+" describes its subresources", func(t *testing.T) {
			v, err := NewVersion(crd, tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := v.GroupVersionKind(), (schema.GroupVersionKind{Group: "example.com", Version: tt.version, Kind: "Widget"}); got != want {
				t.Errorf("GVK = %v, want %v", got, want)
			}
			if v.HasStatus() != tt.wantStatus || v.HasScale() != tt.wantScale || v.Namespaced() != tt.wantNS {
				t.Errorf("status/scale/namespaced = %v/%v/%v, want %v/%v/%v", v.HasStatus(), v.HasScale(), v.Namespaced(), tt.wantStatus, tt.wantScale, tt.wantNS)
			}
		})
	}
	t.Run("the version does not alias the CRD", func(t *testing.T) {
		c := loadCRD(t, widgetCRD)
		v, err := NewVersion(c, "v1")
		if err != nil {
			t.Fatal(err)
		}
		c.Spec.Versions[0].Subresources = nil
		c.Spec.Group = "mutated.com"
		if !v.HasStatus() || v.ResetFields("status")["example.com/v1"] == nil {
			t.Error("mutating the CRD changed the Version")
		}
	})
}

func TestConvertToTable(t *testing.T) {
	w := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","creationTimestamp":"2024-01-01T00:00:00Z"},"spec":{"replicas":3,"color":"red"}}`)
	t.Run("printer columns follow Name", func(t *testing.T) {
		tbl, err := widgetVersion(t).ConvertToTable(context.Background(), w, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range tbl.ColumnDefinitions {
			names = append(names, c.Name)
		}
		if diff := cmp.Diff([]string{"Name", "Replicas", "Color"}, names); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]interface{}{"w1", int64(3), "red"}, tbl.Rows[0].Cells); diff != "" {
			t.Errorf("cells (-want +got):\n%s", diff)
		}
	})
	t.Run("without printer columns Name and Age are shown", func(t *testing.T) {
		v, err := NewVersion(loadCRD(t, widgetCRD), "v2")
		if err != nil {
			t.Fatal(err)
		}
		w2 := w.DeepCopy()
		w2.SetAPIVersion("example.com/v2")
		list := &unstructured.UnstructuredList{Items: []unstructured.Unstructured{*w2, *w2}}
		tbl, err := v.ConvertToTable(context.Background(), list, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range tbl.ColumnDefinitions {
			names = append(names, c.Name)
		}
		if diff := cmp.Diff([]string{"Name", "Age"}, names); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
		if len(tbl.Rows) != 2 {
			t.Errorf("rows = %d, want 2", len(tbl.Rows))
		}
	})
}

func TestSelectableFields(t *testing.T) {
	v := widgetVersion(t)
	tests := []struct {
		name string
		in   string
		want fields.Set
	}{
		{
			name: "name, namespace and selectable fields",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"ns"},"spec":{"color":"red"}}`,
			want: fields.Set{"metadata.name": "w1", "metadata.namespace": "ns", "spec.color": "red"},
		},
		{
			name: "an absent selectable field is empty",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"ns"}}`,
			want: fields.Set{"metadata.name": "w1", "metadata.namespace": "ns", "spec.color": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, v.SelectableFields(obj(t, tt.in))); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unknown field label is rejected with upstream's message", func(t *testing.T) {
		if _, _, err := v.ConvertFieldLabel("spec.replicas", "1"); err == nil || err.Error() != "field label not supported: spec.replicas" {
			t.Errorf("err = %v", err)
		}
		if _, _, err := v.ConvertFieldLabel("spec.color", "red"); err != nil {
			t.Errorf("spec.color: %v", err)
		}
	})
}

func TestScale(t *testing.T) {
	v := widgetVersion(t)
	t.Run("scale reads spec, status and selector", func(t *testing.T) {
		w := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"ns","uid":"u","resourceVersion":"7"},"spec":{"replicas":3},"status":{"replicas":2,"selector":"app=w"}}`)
		got, err := v.Scale(w)
		if err != nil {
			t.Fatal(err)
		}
		want := &autoscalingv1.Scale{
			TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
			ObjectMeta: metav1.ObjectMeta{Name: "w1", Namespace: "ns", UID: "u", ResourceVersion: "7"},
			Spec:       autoscalingv1.ScaleSpec{Replicas: 3},
			Status:     autoscalingv1.ScaleStatus{Replicas: 2, Selector: "app=w"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("scale (-want +got):\n%s", diff)
		}
	})
	t.Run("missing spec replicas is upstream's internal error", func(t *testing.T) {
		_, err := v.Scale(obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"}}`))
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), `the spec replicas field ".spec.replicas" does not exist`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("set spec replicas writes the path", func(t *testing.T) {
		w := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"}}`)
		if err := v.SetSpecReplicas(w, 4); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := unstructured.NestedInt64(w.Object, "spec", "replicas"); got != 4 {
			t.Errorf("spec.replicas = %d, want 4", got)
		}
	})
}

func TestResetFields(t *testing.T) {
	v := widgetVersion(t)
	tests := []struct {
		subresource string
		want        map[string]string
	}{
		{subresource: "", want: map[string]string{"example.com/v1": ".status"}},
		{subresource: "status", want: map[string]string{"example.com/v1": ".metadata\n.spec"}},
		{subresource: "scale", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run("subresource "+tt.subresource, func(t *testing.T) {
			got := map[string]string{}
			for gv, set := range v.ResetFields(tt.subresource) {
				got[string(gv)] = set.String()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reset fields (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("without a status subresource nothing is reset", func(t *testing.T) {
		v2, err := NewVersion(loadCRD(t, widgetCRD), "v2")
		if err != nil {
			t.Fatal(err)
		}
		if got := v2.ResetFields(""); len(got) != 0 {
			t.Errorf("reset fields = %v, want none", got)
		}
	})
}

func TestTypeConverter(t *testing.T) {
	v := widgetVersion(t)
	tc := v.TypeConverter()
	w := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"ns"},"spec":{"replicas":3,"ports":[{"port":80}]}}`)
	typed, err := tc.ObjectToTyped(w)
	if err != nil {
		t.Fatalf("ObjectToTyped: %v", err)
	}
	set, err := typed.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("list-type map items are keyed by port", func(t *testing.T) {
		want := fieldpath.MakePathOrDie("spec", "ports", fieldpath.KeyByFields("port", 80), "port")
		if !set.Has(want) {
			t.Errorf("field set lacks %s:\n%s", want, set)
		}
	})
	t.Run("the converter is built once", func(t *testing.T) {
		if v.TypeConverter() != tc {
			t.Error("TypeConverter returned a different converter")
		}
	})
}

func TestOpenAPI(t *testing.T) {
	crd := loadCRD(t, widgetCRD)
	t.Run("v2 defines the kind and its list", func(t *testing.T) {
		s, err := OpenAPIV2(crd, "v1")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"com.example.v1.Widget", "com.example.v1.WidgetList"} {
			if _, ok := s.Definitions[name]; !ok {
				t.Errorf("definition %s missing", name)
			}
		}
		if _, ok := s.Paths.Paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale"]; !ok {
			t.Error("scale path missing")
		}
	})
	t.Run("v3 carries the schema", func(t *testing.T) {
		s, err := OpenAPIV3(crd, "v1")
		if err != nil {
			t.Fatal(err)
		}
		w, ok := s.Components.Schemas["com.example.v1.Widget"]
		if !ok {
			t.Fatal("schema com.example.v1.Widget missing")
		}
		if _, ok := w.Properties["spec"].Properties["ports"]; !ok {
			t.Errorf("spec.ports missing from the schema")
		}
	})
	t.Run("a version that is not served is an error", func(t *testing.T) {
		c := crd.DeepCopy()
		c.Spec.Versions[1].Served = false
		if _, err := OpenAPIV3(c, "v2"); err == nil {
			t.Error("no error for an unserved version")
		}
	})
}

// TestVersionConcurrentUse backs the promise that a Version is safe for
// concurrent use; run it with -race.
func TestVersionConcurrentUse(t *testing.T) {
	v := widgetVersion(t)
	const in = `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","creationTimestamp":"2024-01-01T00:00:00Z"},"spec":{"replicas":1,"color":"red","name":"wx","bogus":1}}`
	base := obj(t, in)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 20 {
				o := base.DeepCopy()
				v.PruneAndDefault(o.Object)
				v.ValidateCreate(context.Background(), o)
				v.ValidateUpdate(context.Background(), o, o)
				if _, err := v.ConvertToTable(context.Background(), o, nil); err != nil {
					t.Error(err)
				}
				v.SelectableFields(o)
				v.TypeConverter()
			}
		}()
	}
	for range 8 {
		<-done
	}
}
