package crd

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestSetDefaults(t *testing.T) {
	crd := &apiextensionsv1.CustomResourceDefinition{
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Kind: "Widget"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}},
			}},
		},
	}
	SetDefaults(crd)
	t.Run("singular is the lowercased kind", func(t *testing.T) {
		if got := crd.Spec.Names.Singular; got != "widget" {
			t.Errorf("singular = %q, want widget", got)
		}
	})
	t.Run("listKind is kind plus List", func(t *testing.T) {
		if got := crd.Spec.Names.ListKind; got != "WidgetList" {
			t.Errorf("listKind = %q, want WidgetList", got)
		}
	})
	t.Run("conversion strategy is None", func(t *testing.T) {
		if crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter {
			t.Errorf("conversion = %+v, want strategy None", crd.Spec.Conversion)
		}
	})
}

func TestValidateCreate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*apiextensionsv1.CustomResourceDefinition)
		project func(*field.Error) string
		want    []string
	}{
		{
			name:   "valid CRD has no errors",
			mutate: func(*apiextensionsv1.CustomResourceDefinition) {},
		},
		{
			name: "name must be plural.group",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Name = "gadgets.example.com"
			},
			want: []string{`metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group`},
		},
		{
			name: "exactly one storage version",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions[1].Storage = true
			},
			// The bad value is a dump of every version; only the field and
			// detail are compared.
			project: func(e *field.Error) string { return e.Field + ": " + e.Detail },
			want: []string{
				"spec.versions: must have exactly one version marked as storage version",
				"status.storedVersions: must have the storage version v2",
			},
		},
		{
			name: "schema must be structural",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["extra"] = apiextensionsv1.JSONSchemaProps{}
			},
			want: []string{`spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[extra].type: Required value: must not be empty for specified object fields`},
		},
		{
			name: "storage version must be served or stored",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions = c.Spec.Versions[:1]
				c.Spec.Versions[0].Name = "v1beta1"
				c.Status.StoredVersions = []string{"v1beta1"}
			},
		},
		{
			name: "scope must be Namespaced or Cluster",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Scope = "Galaxy"
			},
			want: []string{`spec.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crd := loadCRD(t, widgetCRD)
			tt.mutate(crd)
			PrepareForCreate(crd)
			errs := ValidateCreate(context.Background(), crd)
			got := errStrings(errs)
			if tt.project != nil {
				got = nil
				for _, e := range errs {
					got = append(got, tt.project(e))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	tests := []struct {
		name        string
		established bool
		mutate      func(*apiextensionsv1.CustomResourceDefinition)
		want        []string
	}{
		{
			name:   "unchanged CRD is valid",
			mutate: func(*apiextensionsv1.CustomResourceDefinition) {},
		},
		{
			name: "scope may change until the CRD is established",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Scope = apiextensionsv1.ClusterScoped
			},
		},
		{
			name:        "scope is immutable once established",
			established: true,
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Scope = apiextensionsv1.ClusterScoped
			},
			want: []string{`spec.scope: Invalid value: "Cluster": field is immutable`},
		},
		{
			name: "group is immutable",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Group = "other.com"
				c.Name = "widgets.other.com"
			},
			want: []string{
				`metadata.name: Invalid value: "widgets.other.com": field is immutable`,
				`spec.group: Invalid value: "other.com": field is immutable`,
			},
		},
		{
			name: "a stored version cannot be removed from spec.versions",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions = c.Spec.Versions[1:]
				c.Spec.Versions[0].Storage = true
			},
			want: []string{`status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := loadCRD(t, widgetCRD)
			old.ResourceVersion = "1"
			if tt.established {
				old.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue}}
			}
			crd := old.DeepCopy()
			tt.mutate(crd)
			PrepareForUpdate(crd, old)
			got := errStrings(ValidateUpdate(context.Background(), crd, old))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareForCreate(t *testing.T) {
	crd := loadCRD(t, widgetCRD)
	crd.Generation = 7
	crd.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue}}
	PrepareForCreate(crd)
	t.Run("A7 generation starts at 1", func(t *testing.T) {
		if crd.Generation != 1 {
			t.Errorf("generation = %d, want 1", crd.Generation)
		}
	})
	t.Run("status is reset to the storage version only", func(t *testing.T) {
		want := apiextensionsv1.CustomResourceDefinitionStatus{StoredVersions: []string{"v1"}}
		if diff := cmp.Diff(want, crd.Status); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})
}

func TestPrepareForUpdate(t *testing.T) {
	tests := []struct {
		name           string
		mutate         func(*apiextensionsv1.CustomResourceDefinition)
		wantGeneration int64
		wantStored     []string
	}{
		{
			name:           "A7 metadata change keeps generation",
			mutate:         func(c *apiextensionsv1.CustomResourceDefinition) { c.Labels = map[string]string{"a": "b"} },
			wantGeneration: 3,
			wantStored:     []string{"v1"},
		},
		{
			name: "A7 spec change bumps generation",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Names.ShortNames = []string{"wdg"}
			},
			wantGeneration: 4,
			wantStored:     []string{"v1"},
		},
		{
			name: "status written by the client is ignored",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Status.StoredVersions = []string{"v9"}
			},
			wantGeneration: 3,
			wantStored:     []string{"v1"},
		},
		{
			name: "a new storage version is appended to storedVersions",
			mutate: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions[0].Storage = false
				c.Spec.Versions[1].Storage = true
			},
			wantGeneration: 4,
			wantStored:     []string{"v1", "v2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := loadCRD(t, widgetCRD)
			old.Generation = 3
			crd := old.DeepCopy()
			tt.mutate(crd)
			PrepareForUpdate(crd, old)
			if crd.Generation != tt.wantGeneration {
				t.Errorf("generation = %d, want %d", crd.Generation, tt.wantGeneration)
			}
			if diff := cmp.Diff(tt.wantStored, crd.Status.StoredVersions); diff != "" {
				t.Errorf("storedVersions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareForStatusUpdate(t *testing.T) {
	old := loadCRD(t, widgetCRD)
	crd := old.DeepCopy()
	crd.Spec.Group = "changed.com"
	crd.Status.AcceptedNames.ShortNames = nil
	PrepareForStatusUpdate(crd, old)
	if crd.Spec.Group != "example.com" {
		t.Errorf("spec.group = %q, want the stored example.com", crd.Spec.Group)
	}
	if crd.Status.AcceptedNames.ShortNames != nil {
		t.Errorf("status was not kept from the request: %v", crd.Status.AcceptedNames.ShortNames)
	}
}

func TestCRDWarnings(t *testing.T) {
	withFormat := func(format string) *apiextensionsv1.CustomResourceDefinition {
		c := loadCRD(t, widgetCRD)
		p := c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		p.Properties["color"] = apiextensionsv1.JSONSchemaProps{Type: "string", Format: format}
		c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = p
		return c
	}
	t.Run("create warns about an unrecognized format", func(t *testing.T) {
		want := []string{`unrecognized format "colour"`}
		if diff := cmp.Diff(want, WarningsOnCreate(withFormat("colour"))); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("create does not warn about a known format", func(t *testing.T) {
		if got := WarningsOnCreate(withFormat("uuid")); len(got) != 0 {
			t.Errorf("warnings = %v, want none", got)
		}
	})
	t.Run("update warns only about new problems", func(t *testing.T) {
		if got := WarningsOnUpdate(withFormat("colour"), withFormat("colour")); len(got) != 0 {
			t.Errorf("warnings = %v, want none", got)
		}
		want := []string{`unrecognized format "colour"`}
		if diff := cmp.Diff(want, WarningsOnUpdate(withFormat("colour"), withFormat(""))); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
}
