package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// gadgetCRD has two served versions (v1 stored, v1beta1 served with
// conversion None) and a scale subresource.
func gadgetCRD(group string) *apiextensionsv1.CustomResourceDefinition {
	schemaProps := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"replicas": {Type: "integer"},
				"note":     {Type: "string"},
			}},
			"status": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"replicas": {Type: "integer"},
			}},
		},
	}}
	sub := &apiextensionsv1.CustomResourceSubresources{
		Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
		Scale:  &apiextensionsv1.CustomResourceSubresourceScale{SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas"},
	}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "gadgets." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "gadgets", Singular: "gadget", Kind: "Gadget", ListKind: "GadgetList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1beta1", Served: true, Storage: false, Schema: schemaProps, Subresources: sub},
				{Name: "v1", Served: true, Storage: true, Schema: schemaProps, Subresources: sub},
			},
		},
	}
}

// TestCustomResourceLifecycle checks the deletion rules on custom
// resources with client-go against the binary: the garbage collector
// follows ownerReferences between custom resources and built-in objects as
// soon as the CRD is established (no restart), namespace deletion removes
// custom resources, an update needs a resourceVersion (J4d), versions share
// storage, and the scale subresource works.
func TestCustomResourceLifecycle(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--storage=memory")
	cfg := s.restConfig(t)
	ext := apiextensionsclient.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := s.clientset(t)
	ctx := context.Background()
	group := "lifecycle.example.com"

	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, gadgetCRD(group), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	v1 := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"})
	v1beta1 := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1beta1", Resource: "gadgets"})
	ns := "gadgets"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gadget := func(name string, replicas int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": group + "/v1", "kind": "Gadget",
			"metadata": map[string]interface{}{"name": name},
			"spec":     map[string]interface{}{"replicas": replicas},
		}}
	}
	var owner *unstructured.Unstructured
	eventually(t, 10*time.Second, func() error {
		var err error
		owner, err = v1.Namespace(ns).Create(ctx, gadget("owner", 1), metav1.CreateOptions{})
		return err
	})

	t.Run("versions share one storage (conversion None)", func(t *testing.T) {
		got, err := v1beta1.Namespace(ns).Get(ctx, "owner", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetAPIVersion() != group+"/v1beta1" || got.GetUID() != owner.GetUID() {
			t.Errorf("v1beta1 view: apiVersion %q uid %q, want %q %q", got.GetAPIVersion(), got.GetUID(), group+"/v1beta1", owner.GetUID())
		}
	})

	t.Run("J4d an update without resourceVersion is 422", func(t *testing.T) {
		u := owner.DeepCopy()
		u.SetResourceVersion("")
		_, err := v1.Namespace(ns).Update(ctx, u, metav1.UpdateOptions{})
		want := `gadgets.` + group + ` "owner" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update`
		if !apierrors.IsInvalid(err) || err.Error() != want {
			t.Errorf("got %v, want 422 %q", err, want)
		}
	})

	t.Run("scale subresource reads and writes spec.replicas", func(t *testing.T) {
		scale, err := v1.Namespace(ns).Get(ctx, "owner", metav1.GetOptions{}, "scale")
		if err != nil {
			t.Fatal(err)
		}
		if r, _, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas"); r != 1 || scale.GetKind() != "Scale" {
			t.Fatalf("scale: %v", scale.Object)
		}
		patch := []byte(`{"spec":{"replicas":4}}`)
		if _, err := v1.Namespace(ns).Patch(ctx, "owner", "application/merge-patch+json", patch, metav1.PatchOptions{}, "scale"); err != nil {
			t.Fatal(err)
		}
		got, err := v1.Namespace(ns).Get(ctx, "owner", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 4 {
			t.Errorf("spec.replicas after scale: %d, want 4", r)
		}
		owner = got

		// Without spec.replicas a scale update must set it (upstream's
		// ScaleREST.Update): 400 when it does not, success when it does.
		bare := gadget("bare", 0)
		unstructured.RemoveNestedField(bare.Object, "spec", "replicas")
		if _, err := v1.Namespace(ns).Create(ctx, bare, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err = v1.Namespace(ns).Patch(ctx, "bare", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{}, "scale")
		if want := `the spec replicas field ".spec.replicas" cannot be empty`; !apierrors.IsBadRequest(err) || err.Error() != want {
			t.Errorf("scale patch leaving replicas unset: got %v, want 400 %q", err, want)
		}
		if _, err := v1.Namespace(ns).Patch(ctx, "bare", "application/merge-patch+json", []byte(`{"spec":{"replicas":2}}`), metav1.PatchOptions{}, "scale"); err != nil {
			t.Errorf("scale patch setting replicas on an object without them: %v", err)
		}
	})

	t.Run("D the garbage collector deletes a custom resource's dependents", func(t *testing.T) {
		ref := []interface{}{map[string]interface{}{
			"apiVersion": group + "/v1", "kind": "Gadget", "name": "owner", "uid": string(owner.GetUID()),
		}}
		dep := gadget("dependent", 0)
		_ = unstructured.SetNestedSlice(dep.Object, ref, "metadata", "ownerReferences")
		if _, err := v1.Namespace(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owned-by-gadget", Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: group + "/v1", Kind: "Gadget", Name: "owner", UID: owner.GetUID()}}}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := v1.Namespace(ns).Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			if _, err := v1.Namespace(ns).Get(ctx, "dependent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("dependent gadget: %v", err)
			}
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "owned-by-gadget", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("dependent configmap: %v", err)
			}
			return nil
		})
	})

	t.Run("E namespace deletion removes custom resources", func(t *testing.T) {
		fin := gadget("held", 0)
		fin.SetFinalizers([]string{"example.com/hold"})
		if _, err := v1.Namespace(ns).Create(ctx, fin, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			got, err := v1.Namespace(ns).Get(ctx, "held", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.GetDeletionTimestamp() == nil {
				return fmt.Errorf("held gadget not terminating yet")
			}
			return nil
		})
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := v1.Namespace(ns).Patch(ctx, "held", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace: %v", err)
			}
			return nil
		})
	})

	t.Run("A11 a custom resource's unqualified finalizer is accepted with a warning", func(t *testing.T) {
		warnings := &warningList{}
		wcfg := s.restConfig(t)
		wcfg.WarningHandler = warnings
		wdyn := dynamic.NewForConfigOrDie(wcfg)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "warn"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		g := gadget("plain", 0)
		g.SetFinalizers([]string{"foo"})
		res := wdyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"})
		if _, err := res.Namespace("warn").Create(ctx, g, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := `metadata.finalizers: "foo": prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers`
		if got := warnings.String(); !strings.Contains(got, want) {
			t.Errorf("warnings %q, want %q", got, want)
		}
	})
}

// warningList records the warnings a client receives.
type warningList struct {
	mu   sync.Mutex
	list []string
}

func (w *warningList) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warningList) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.list, "\n")
}

// TestCustomResourcesAfterRestart: a server started on a data directory
// with an established CRD serves its custom resources as soon as it says
// it is serving (the registry serves the stored CRDs before readiness).
func TestCustomResourcesAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	group := "restart.example.com"
	s1 := startServerIn(t, dir)
	ext := apiextensionsclient.NewForConfigOrDie(s1.restConfig(t))
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, gadgetCRD(group), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}
	g := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": group + "/v1", "kind": "Gadget", "metadata": map[string]interface{}{"name": "kept"},
	}}
	eventually(t, 10*time.Second, func() error {
		_, err := dynamic.NewForConfigOrDie(s1.restConfig(t)).Resource(gvr).Namespace("default").Create(ctx, g, metav1.CreateOptions{})
		return err
	})
	if err := s1.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := startServerIn(t, dir)
	got, err := dynamic.NewForConfigOrDie(s2.restConfig(t)).Resource(gvr).Namespace("default").Get(ctx, "kept", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("first request after restart: %v", err)
	}
	if got.GetName() != "kept" {
		t.Errorf("got %q", got.GetName())
	}
}
