package crd

import (
	"context"
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"
)

// ConvertToTable renders obj (one *unstructured.Unstructured or an
// *unstructured.UnstructuredList) as upstream's custom-resource table
// convertor does: a Name column, then the version's additionalPrinterColumns
// or, when it declares none, Age. A column whose JSONPath does not parse
// makes upstream fall back to the columns parsed so far; so does this.
func (v *Version) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	// A fresh convertor per call: its JSONPath evaluators are stateful.
	c, _ := tableconvertor.New(v.columns)
	t, err := c.ConvertToTable(ctx, obj, tableOptions)
	if err != nil {
		return nil, fmt.Errorf("converting %s to a table: %w", v.gvk.Kind, err)
	}
	return t, nil
}

// SelectableFields returns the field set field selectors match against, as
// upstream's strategy GetAttrs does: metadata.name, metadata.namespace (for
// namespaced CRDs) and the version's selectableFields, keyed by the JSONPath
// without its leading period and valued as fmt.Sprint formats the value (""
// when absent).
func (v *Version) SelectableFields(obj *unstructured.Unstructured) fields.Set {
	set := fields.Set{"metadata.name": obj.GetName()}
	if v.namespaced {
		set["metadata.namespace"] = obj.GetNamespace()
	}
	for i, p := range v.selectable {
		set[strings.TrimPrefix(p, ".")] = selectableValue(obj.UnstructuredContent(), v.selectableParsed[i])
	}
	return set
}

// parseSelectable parses a selectable field's JSONPath, nil if it does
// not parse.
func parseSelectable(path string) *jsonpath.JSONPath {
	parser := jsonpath.New("selectableField")
	parser.AllowMissingKeys(true)
	if err := parser.Parse("{" + path + "}"); err != nil {
		return nil
	}
	return parser
}

// selectableValue evaluates one parsed selectable field. CRD validation
// only admits simple paths to scalar fields, so the error cases upstream
// reports (bad path, several results) cannot happen for a stored CRD; they
// yield "". A parsed path is shared by concurrent callers: FindResults
// writes to the JSONPath only for range expressions, which such paths
// cannot contain (TestVersionConcurrentUse runs under -race).
func selectableValue(obj map[string]interface{}, parser *jsonpath.JSONPath) string {
	if parser == nil {
		return ""
	}
	results, err := parser.FindResults(obj)
	if err != nil || len(results) != 1 || len(results[0]) != 1 {
		return ""
	}
	val := results[0][0].Interface()
	if val == nil {
		return ""
	}
	return fmt.Sprint(val)
}

// ConvertFieldLabel accepts a field selector key as upstream's custom
// resource converter does, failing with its message
// ("field label not supported: <label>") for anything else; the caller
// turns the error into a 400.
func (v *Version) ConvertFieldLabel(label, value string) (string, string, error) {
	switch {
	case label == "metadata.name":
		return label, value, nil
	case v.namespaced && label == "metadata.namespace":
		return label, value, nil
	}
	for _, p := range v.selectable {
		if strings.TrimPrefix(p, ".") == label {
			return label, value, nil
		}
	}
	return "", "", fmt.Errorf("field label not supported: %s", label)
}

// Scale reads the autoscaling/v1 Scale of obj as upstream's ScaleREST Get
// does. A missing spec replicas field is upstream's 500
// `the spec replicas field ".spec.replicas" does not exist`; a field of the
// wrong type is the unstructured accessor's error.
func (v *Version) Scale(obj *unstructured.Unstructured) (*autoscalingv1.Scale, error) {
	s, found, err := v.ScaleForUpdate(obj)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, apierrors.NewInternalError(fmt.Errorf("the spec replicas field %q does not exist", v.scale.SpecReplicasPath))
	}
	return s, nil
}

// SpecReplicasPath is the scale subresource's spec replicas path ("" when
// the version has no scale subresource).
func (v *Version) SpecReplicasPath() string {
	if v.scale == nil {
		return ""
	}
	return v.scale.SpecReplicasPath
}

// ScaleForUpdate reads the Scale as upstream's scale update does, reporting
// whether the spec replicas field exists (Spec.Replicas is 0 when it does
// not). Upstream then rejects a scale update that leaves it unset with 400
// `the spec replicas field ".spec.replicas" cannot be empty`.
func (v *Version) ScaleForUpdate(obj *unstructured.Unstructured) (*autoscalingv1.Scale, bool, error) {
	if v.scale == nil {
		return nil, false, fmt.Errorf("%s has no scale subresource", v.gvk)
	}
	content := obj.UnstructuredContent()
	specReplicas, foundSpec, err := unstructured.NestedInt64(content, splitPath(v.scale.SpecReplicasPath)...)
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", v.scale.SpecReplicasPath, err)
	}
	statusReplicas, _, err := unstructured.NestedInt64(content, splitPath(v.scale.StatusReplicasPath)...)
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", v.scale.StatusReplicasPath, err)
	}
	var selector string
	if p := v.scale.LabelSelectorPath; p != nil && len(*p) > 0 {
		selector, _, err = unstructured.NestedString(content, splitPath(*p)...)
		if err != nil {
			return nil, false, fmt.Errorf("reading %s: %w", *p, err)
		}
	}
	return &autoscalingv1.Scale{
		// apiVersion and kind are set so conversion sees the object is
		// already in the wanted version, as upstream does.
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              obj.GetName(),
			Namespace:         obj.GetNamespace(),
			UID:               obj.GetUID(),
			ResourceVersion:   obj.GetResourceVersion(),
			CreationTimestamp: obj.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: int32(specReplicas)},
		Status: autoscalingv1.ScaleStatus{Replicas: int32(statusReplicas), Selector: selector},
	}, foundSpec, nil
}

// SetSpecReplicas writes a scale update's replicas back to the spec
// replicas path, as upstream's scale update does.
func (v *Version) SetSpecReplicas(obj *unstructured.Unstructured, replicas int32) error {
	if v.scale == nil {
		return fmt.Errorf("%s has no scale subresource", v.gvk)
	}
	if err := unstructured.SetNestedField(obj.Object, int64(replicas), splitPath(v.scale.SpecReplicasPath)...); err != nil {
		return fmt.Errorf("setting %s: %w", v.scale.SpecReplicasPath, err)
	}
	return nil
}
