package crd

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type names = apiextensionsv1.CustomResourceDefinitionNames
type condition = apiextensionsv1.CustomResourceDefinitionCondition

func namedCRD(name, group string, spec, accepted names, conds ...condition) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       apiextensionsv1.CustomResourceDefinitionSpec{Group: group, Names: spec},
		Status:     apiextensionsv1.CustomResourceDefinitionStatus{AcceptedNames: accepted, Conditions: conds},
	}
}

func TestAcceptNames(t *testing.T) {
	widgets := names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList", ShortNames: []string{"wd"}, Categories: []string{"all"}}
	noConflicts := condition{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found"}
	initial := condition{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted"}
	notAccepted := condition{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse, Reason: "NotAccepted", Message: "not all names are accepted"}
	conflict := func(reason, msg string) condition {
		return condition{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionFalse, Reason: reason, Message: msg}
	}

	tests := []struct {
		name            string
		crd             *apiextensionsv1.CustomResourceDefinition
		others          []*apiextensionsv1.CustomResourceDefinition
		wantNames       names
		wantAccepted    condition
		wantEstablished condition
	}{
		{
			name:            "fresh names are accepted and the CRD established",
			crd:             namedCRD("widgets.example.com", "example.com", widgets, names{}),
			wantNames:       widgets,
			wantAccepted:    noConflicts,
			wantEstablished: initial,
		},
		{
			name: "a plural taken in the same group conflicts",
			crd:  namedCRD("widgets.example.com", "example.com", widgets, names{}),
			others: []*apiextensionsv1.CustomResourceDefinition{
				namedCRD("other.example.com", "example.com", names{}, names{Plural: "widgets", Kind: "Other"}),
			},
			wantNames:       names{Singular: "widget", Kind: "Widget", ListKind: "WidgetList", ShortNames: []string{"wd"}, Categories: []string{"all"}},
			wantAccepted:    conflict("PluralConflict", `"widgets" is already in use`),
			wantEstablished: notAccepted,
		},
		{
			name: "the same names in another group do not conflict",
			crd:  namedCRD("widgets.example.com", "example.com", widgets, names{}),
			others: []*apiextensionsv1.CustomResourceDefinition{
				namedCRD("widgets.other.com", "other.com", widgets, widgets),
			},
			wantNames:       widgets,
			wantAccepted:    noConflicts,
			wantEstablished: initial,
		},
		{
			name: "short names conflict with another CRD's singular, reported together",
			crd: namedCRD("widgets.example.com", "example.com",
				names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList", ShortNames: []string{"gd", "gs"}}, names{}),
			others: []*apiextensionsv1.CustomResourceDefinition{
				namedCRD("gadgets.example.com", "example.com", names{}, names{Plural: "gadgets", Singular: "gd", ShortNames: []string{"gs"}, Kind: "Gadget", ListKind: "GadgetList"}),
			},
			wantNames:       names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			wantAccepted:    conflict("ShortNamesConflict", `["gd" is already in use, "gs" is already in use]`),
			wantEstablished: notAccepted,
		},
		{
			name: "a kind used as another CRD's listKind conflicts; the last conflict wins",
			crd: namedCRD("widgets.example.com", "example.com",
				names{Plural: "widgets", Singular: "gadget", Kind: "GadgetList", ListKind: "WidgetList"}, names{}),
			others: []*apiextensionsv1.CustomResourceDefinition{
				namedCRD("gadgets.example.com", "example.com", names{}, names{Plural: "gadgets", Singular: "gadget", Kind: "Gadget", ListKind: "GadgetList"}),
			},
			wantNames:       names{Plural: "widgets", ListKind: "WidgetList"},
			wantAccepted:    conflict("KindConflict", `"GadgetList" is already in use`),
			wantEstablished: notAccepted,
		},
		{
			name: "names the CRD already accepted stay its own",
			crd:  namedCRD("widgets.example.com", "example.com", widgets, widgets, initial),
			others: []*apiextensionsv1.CustomResourceDefinition{
				namedCRD("widgets.example.com", "example.com", widgets, widgets),
			},
			wantNames:       widgets,
			wantAccepted:    noConflicts,
			wantEstablished: initial,
		},
		{
			name: "a CRD cannot swap to a name it holds in another role",
			crd: namedCRD("widgets.example.com", "example.com",
				names{Plural: "widget", Singular: "widgets", Kind: "Widget", ListKind: "WidgetList"},
				names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"}),
			wantNames:       names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			wantAccepted:    conflict("SingularConflict", `"widgets" is already in use`),
			wantEstablished: notAccepted,
		},
		{
			name: "an established CRD stays established when a new name conflicts",
			crd: namedCRD("widgets.example.com", "example.com",
				names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList", ShortNames: []string{"gd"}},
				names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"}, initial),
			others: []*apiextensionsv1.CustomResourceDefinition{
				namedCRD("gadgets.example.com", "example.com", names{}, names{Plural: "gadgets", ShortNames: []string{"gd"}}),
			},
			wantNames:       names{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			wantAccepted:    conflict("ShortNamesConflict", `"gd" is already in use`),
			wantEstablished: initial,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotNames, gotAccepted, gotEstablished := AcceptNames(tt.crd, tt.others)
			if diff := cmp.Diff(tt.wantNames, gotNames); diff != "" {
				t.Errorf("accepted names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAccepted, gotAccepted); diff != "" {
				t.Errorf("NamesAccepted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEstablished, gotEstablished); diff != "" {
				t.Errorf("Established (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("an invalid conversion webhook caBundle blocks establishing", func(t *testing.T) {
		crd := namedCRD("widgets.example.com", "example.com", widgets, names{})
		crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
			Strategy: apiextensionsv1.WebhookConverter,
			Webhook: &apiextensionsv1.WebhookConversion{
				ClientConfig: &apiextensionsv1.WebhookClientConfig{CABundle: []byte("not a certificate")},
			},
		}
		_, _, got := AcceptNames(crd, nil)
		want := condition{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse, Reason: "InvalidCABundle", Message: "The conversion webhook CABundle is invalid"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Established (-want +got):\n%s", diff)
		}
	})
}
