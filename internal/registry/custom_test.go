package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testCRD(conds ...apiextensionsv1.CustomResourceDefinitionConditionType) *apiextensionsv1.CustomResourceDefinition {
	schema := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}
	c := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com", UID: "u1", Generation: 1},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList", ShortNames: []string{"wd"}},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1beta1", Served: true, Schema: schema},
				{Name: "v1", Served: true, Storage: true, Schema: schema, Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}}},
				{Name: "v1alpha1", Served: false, Schema: schema},
			},
		},
	}
	c.Status.AcceptedNames = c.Spec.Names
	for _, t := range conds {
		c.Status.Conditions = append(c.Status.Conditions, apiextensionsv1.CustomResourceDefinitionCondition{Type: t, Status: apiextensionsv1.ConditionTrue})
	}
	return c
}

// TestCustomResources checks what a CRD serves, by its conditions, as
// upstream's CRD handler decides it.
func TestCustomResources(t *testing.T) {
	type served struct {
		GVR                             string
		Hidden, Terminating, Namespaced bool
		Subresources                    int
		Storage, KeyPrefix              string
	}
	summarize := func(rs []*Resource) []served {
		var out []served
		for _, r := range rs {
			out = append(out, served{r.GVR.String(), r.Hidden, r.Terminating, r.Namespaced, len(r.Subresources), r.StorageVersion, r.KeyPrefix})
		}
		return out
	}
	v1beta1 := served{GVR: "example.com/v1beta1, Resource=widgets", Namespaced: true, Storage: "v1", KeyPrefix: "/registry/example.com/widgets"}
	v1 := served{GVR: "example.com/v1, Resource=widgets", Namespaced: true, Subresources: 1, Storage: "v1", KeyPrefix: "/registry/example.com/widgets"}
	hidden := func(s served) served { s.Hidden = true; return s }
	terminating := func(s served) served { s.Terminating = true; return s }
	deleted := testCRD(apiextensionsv1.NamesAccepted, apiextensionsv1.Established)
	deleted.DeletionTimestamp = &metav1.Time{}
	for _, c := range []struct {
		name string
		crd  *apiextensionsv1.CustomResourceDefinition
		want []served
	}{
		{"names not accepted: nothing served", testCRD(), nil},
		{"names accepted: served, not in discovery", testCRD(apiextensionsv1.NamesAccepted), []served{hidden(v1beta1), hidden(v1)}},
		{"established: served and discovered, unserved versions left out", testCRD(apiextensionsv1.NamesAccepted, apiextensionsv1.Established), []served{v1beta1, v1}},
		{"F4 J5c terminating: still served, creates refused", deleted, []served{terminating(v1beta1), terminating(v1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := CustomResources(c.crd)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, summarize(rs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("A5 J4d custom resources need a resourceVersion to update", func(t *testing.T) {
		rs, _ := CustomResources(testCRD(apiextensionsv1.Established))
		for _, r := range rs {
			if r.AllowUnconditionalUpdate || !r.HasGeneration || r.Custom == nil {
				t.Errorf("%s: AllowUnconditionalUpdate %v HasGeneration %v Custom %v", r.GVR, r.AllowUnconditionalUpdate, r.HasGeneration, r.Custom != nil)
			}
		}
	})
}
