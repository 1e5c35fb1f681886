package registry

import (
	"fmt"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// NewScheme returns a scheme with every served built-in group version, the
// meta.k8s.io types (Table, PartialObjectMetadata, Status, WatchEvent,
// options) and aggregated discovery. Only external (v1) types are
// registered: terminus stores and serves one version per resource, so no
// internal types and no conversions are needed.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	adders := []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		autoscalingv1.AddToScheme,
		batchv1.AddToScheme,
		coordinationv1.AddToScheme,
		discoveryv1.AddToScheme,
		eventsv1.AddToScheme,
		// policy/v1 for the pods/eviction body (Eviction); its
		// PodDisruptionBudgets are not served.
		policyv1.AddToScheme,
		storagev1.AddToScheme,
		apiextensionsv1.AddToScheme,
		apidiscoveryv2.AddToScheme,
		metav1.AddMetaToScheme,
	}
	for _, add := range adders {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building scheme: %w", err)
		}
	}
	// Upstream's eviction subresource also accepts a policy/v1beta1
	// Eviction (EvictionREST.AcceptsGroupVersion); only that kind of the
	// old group version is known, not its other types.
	s.AddKnownTypes(policyv1beta1.SchemeGroupVersion, &policyv1beta1.Eviction{})
	// ListOptions, DeleteOptions and friends in every group version, and
	// the unversioned Status/APIVersions/... types.
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	for _, gv := range s.PrioritizedVersionsAllGroups() {
		if gv.Group == "" {
			continue
		}
		metav1.AddToGroupVersion(s, gv)
	}
	return s, nil
}
