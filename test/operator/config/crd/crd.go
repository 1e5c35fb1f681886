// Package crd ships the CustomResourceDefinition of the widget operator
// (widgets.example.com) as embedded YAML and decodes it for clients that
// create it through the API.
package crd

import (
	_ "embed"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// YAML is the widgets.example.com CustomResourceDefinition manifest.
//
//go:embed widgets.example.com.yaml
var YAML []byte

// Name is the CRD's metadata.name.
const Name = "widgets.example.com"

// Widgets decodes YAML into a fresh CustomResourceDefinition.
func Widgets() (*apiextensionsv1.CustomResourceDefinition, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(YAML, crd); err != nil {
		return nil, fmt.Errorf("decoding the embedded %s CRD: %w", Name, err)
	}
	return crd, nil
}
