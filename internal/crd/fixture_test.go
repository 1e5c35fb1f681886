package crd

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// widgetCRD is the CRD most tests serve: a namespaced widgets.example.com
// with status and scale subresources, defaults, CEL rules (one transition
// rule), a list-type map, an embedded resource, a preserve-unknown-fields
// subtree, printer columns and a selectable field.
const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
    shortNames: [wd]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Color
      type: string
      jsonPath: .spec.color
      priority: 1
    selectableFields:
    - jsonPath: .spec.color
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "!has(self.maxReplicas) || self.replicas <= self.maxReplicas"
              message: replicas must not exceed maxReplicas
              fieldPath: .replicas
              reason: FieldValueForbidden
            properties:
              replicas:
                type: integer
                minimum: 0
              maxReplicas:
                type: integer
              color:
                type: string
                default: blue
                enum: [blue, red, green]
              size:
                type: string
                x-kubernetes-validations:
                - rule: "self == oldSelf"
                  message: size is immutable
              name:
                type: string
                maxLength: 5
                x-kubernetes-validations:
                - rule: "self.startsWith('w')"
                  messageExpression: "'name ' + self + ' must start with w'"
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [port]
                items:
                  type: object
                  required: [port]
                  properties:
                    port:
                      type: integer
                    protocol:
                      type: string
                      default: TCP
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas:
                type: integer
              selector:
                type: string
              phase:
                type: string
                enum: [Pending, Ready]
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
status:
  acceptedNames:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
    shortNames: [wd]
  storedVersions: [v1]
`

func loadCRD(t testing.TB, doc string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict([]byte(doc), crd); err != nil {
		t.Fatalf("parsing CRD: %v", err)
	}
	SetDefaults(crd)
	return crd
}

func widgetVersion(t testing.TB) *Version {
	t.Helper()
	v, err := NewVersion(loadCRD(t, widgetCRD), "v1")
	if err != nil {
		t.Fatalf("NewVersion: %v", err)
	}
	return v
}

// obj parses a JSON custom resource the way a request body is decoded
// (integers as int64).
func obj(t testing.TB, js string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]interface{}{}
	if err := utiljson.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("parsing %s: %v", js, err)
	}
	return &unstructured.Unstructured{Object: m}
}
