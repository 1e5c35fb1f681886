package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// DefaultCRDCount is how many CRDs one crd-ready run establishes.
const DefaultCRDCount = 20

// crdRetryInterval is how often the first custom resource is tried again
// while its CRD is not served yet.
const crdRetryInterval = time.Millisecond

// runCRDReady measures issue 8's crd-ready: for each of --count fresh
// cluster-scoped CRDs (one at a time, each in its own group), the time
// from just before the CRD's create until the first create of one of its
// custom resources succeeds, retried every millisecond while the server
// answers 404 (not served yet). Each CRD is deleted after it was
// measured; the run does not wait for that.
func runCRDReady(ctx context.Context, o Options, out io.Writer, cfg *rest.Config, tgt target) error {
	ext, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create apiextensions client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create dynamic client: %w", err)
	}
	v, err := ext.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("get server version from %s: %w", tgt.server, err)
	}
	for run := 1; run <= o.Runs; run++ {
		started := time.Now()
		samples := make([]time.Duration, 0, o.Count)
		for i := 0; i < o.Count; i++ {
			d, err := crdReadyOnce(ctx, ext, dyn, fmt.Sprintf("b%s%d", randomSuffix(6), i), o.Timeout)
			if err != nil {
				return fmt.Errorf("run %d: %w", run, err)
			}
			samples = append(samples, d)
		}
		res := result{
			Scenario: o.Scenario, Run: run, Server: tgt.server, ServerVersion: v.GitVersion,
			Count: o.Count, Concurrency: 1, Metrics: latencySummary(samples), Time: started,
		}
		if tgt.protocol != nil {
			res.Metrics = append(res.Metrics, metric{"protocol", tgt.protocol()})
		}
		if err := res.write(out); err != nil {
			return err
		}
	}
	return nil
}

// crdReadyOnce creates one CRD and times until its first custom resource
// is created, then deletes the CRD.
func crdReadyOnce(ctx context.Context, ext apiextensionsclient.Interface, dyn dynamic.Interface, id string, timeout time.Duration) (d time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	group := id + ".bench.terminus.dev"
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "gauges." + group, Labels: map[string]string{labelManagedBy: managedByValue}},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Scope: apiextensionsv1.ClusterScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "gauges", Singular: "gauge", Kind: "Gauge", ListKind: "GaugeList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"value": {Type: "integer"}}},
					},
				}},
			}},
		},
	}
	cr := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": group + "/v1", "kind": "Gauge",
		"metadata": map[string]interface{}{"name": "first"},
		"spec":     map[string]interface{}{"value": int64(1)},
	}}
	gauges := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gauges"})
	t0 := time.Now()
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("create CRD %s: %w", crd.Name, err)
	}
	defer func() {
		cctx, ccancel := cleanupContext(ctx)
		defer ccancel()
		derr := ext.ApiextensionsV1().CustomResourceDefinitions().Delete(cctx, crd.Name, metav1.DeleteOptions{})
		if derr != nil && !apierrors.IsNotFound(derr) {
			err = errors.Join(err, fmt.Errorf("delete CRD %s: %w", crd.Name, derr))
		}
	}()
	for {
		_, err := gauges.Create(ctx, cr, metav1.CreateOptions{})
		if err == nil {
			return time.Since(t0), nil
		}
		if !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("create %s/gauges first: %w", group, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("CRD %s not served within %s: %w", crd.Name, timeout, ctx.Err())
		case <-time.After(crdRetryInterval):
		}
	}
}
