package openapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// The fixture is a resource table of the size terminus serves, so that the
// build time measured here is the one the server pays.

var allVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

var statusVerbs = []string{"get", "update", "patch"}

func testScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func res(group, version, resource, kind string, namespaced bool, obj, list runtime.Object, subs ...Subresource) Resource {
	return Resource{Group: group, Version: version, Resource: resource, Kind: kind, Namespaced: namespaced,
		Verbs: allVerbs, Subresources: subs, Object: obj, List: list}
}

func status() Subresource { return Subresource{Name: "status", Verbs: statusVerbs} }

func scale() Subresource {
	return Subresource{Name: "scale", Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: statusVerbs, Object: &autoscalingv1.Scale{}}
}

func testResources() []Resource {
	review := func(group, resource, kind string, obj runtime.Object) Resource {
		return Resource{Group: group, Version: "v1", Resource: resource, Kind: kind, Verbs: []string{"create"}, Object: obj}
	}
	ns := res("", "v1", "namespaces", "Namespace", false, &corev1.Namespace{}, &corev1.NamespaceList{}, status())
	ns.Verbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	return []Resource{
		res("", "v1", "pods", "Pod", true, &corev1.Pod{}, &corev1.PodList{}, status(),
			Subresource{Name: "eviction", Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{"create"}, Object: &policyv1.Eviction{}},
			Subresource{Name: "binding", Kind: "Binding", Verbs: []string{"create"}, Object: &corev1.Binding{}},
			Subresource{Name: "exec", Kind: "PodExecOptions", Verbs: []string{"connect"}}),
		ns,
		res("", "v1", "nodes", "Node", false, &corev1.Node{}, &corev1.NodeList{}, status(),
			Subresource{Name: "proxy", Kind: "NodeProxyOptions", Verbs: []string{"connect"},
				ConnectMethods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}}),
		// A proxy listed with discovery's verbs: its delete is a connect.
		res("", "v1", "services", "Service", true, &corev1.Service{}, &corev1.ServiceList{}, status(),
			Subresource{Name: "proxy", Kind: "ServiceProxyOptions", Verbs: []string{"create", "delete", "get", "patch", "update"}}),
		res("", "v1", "configmaps", "ConfigMap", true, &corev1.ConfigMap{}, &corev1.ConfigMapList{}),
		res("", "v1", "secrets", "Secret", true, &corev1.Secret{}, &corev1.SecretList{}),
		res("", "v1", "serviceaccounts", "ServiceAccount", true, &corev1.ServiceAccount{}, &corev1.ServiceAccountList{}),
		res("", "v1", "events", "Event", true, &corev1.Event{}, &corev1.EventList{}),
		res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, &corev1.PersistentVolumeClaim{}, &corev1.PersistentVolumeClaimList{}, status()),
		res("", "v1", "persistentvolumes", "PersistentVolume", false, &corev1.PersistentVolume{}, &corev1.PersistentVolumeList{}, status()),
		res("", "v1", "endpoints", "Endpoints", true, &corev1.Endpoints{}, &corev1.EndpointsList{}),
		res("apps", "v1", "deployments", "Deployment", true, &appsv1.Deployment{}, &appsv1.DeploymentList{}, status(), scale()),
		res("apps", "v1", "replicasets", "ReplicaSet", true, &appsv1.ReplicaSet{}, &appsv1.ReplicaSetList{}, status(), scale()),
		res("apps", "v1", "statefulsets", "StatefulSet", true, &appsv1.StatefulSet{}, &appsv1.StatefulSetList{}, status(), scale()),
		res("apps", "v1", "daemonsets", "DaemonSet", true, &appsv1.DaemonSet{}, &appsv1.DaemonSetList{}, status()),
		res("apps", "v1", "controllerrevisions", "ControllerRevision", true, &appsv1.ControllerRevision{}, &appsv1.ControllerRevisionList{}),
		res("batch", "v1", "jobs", "Job", true, &batchv1.Job{}, &batchv1.JobList{}, status()),
		res("batch", "v1", "cronjobs", "CronJob", true, &batchv1.CronJob{}, &batchv1.CronJobList{}, status()),
		res("coordination.k8s.io", "v1", "leases", "Lease", true, &coordinationv1.Lease{}, &coordinationv1.LeaseList{}),
		res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, &discoveryv1.EndpointSlice{}, &discoveryv1.EndpointSliceList{}),
		res("events.k8s.io", "v1", "events", "Event", true, &eventsv1.Event{}, &eventsv1.EventList{}),
		res("storage.k8s.io", "v1", "storageclasses", "StorageClass", false, &storagev1.StorageClass{}, &storagev1.StorageClassList{}),
		res("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &policyv1.PodDisruptionBudget{}, &policyv1.PodDisruptionBudgetList{}, status()),
		res("rbac.authorization.k8s.io", "v1", "roles", "Role", true, &rbacv1.Role{}, &rbacv1.RoleList{}),
		res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleList{}),
		review("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", &authorizationv1.SelfSubjectAccessReview{}),
		review("authentication.k8s.io", "tokenreviews", "TokenReview", &authenticationv1.TokenReview{}),
		res("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false,
			&apiextensionsv1.CustomResourceDefinition{}, &apiextensionsv1.CustomResourceDefinitionList{}, status()),
	}
}

func testConfig(t testing.TB) Config {
	return Config{Scheme: testScheme(t), Resources: testResources(), Version: "v1.37.2"}
}

// startServer installs the fixture on a fresh mux behind an httptest server.
func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	if _, err := Install(ServeMux(mux), testConfig(t)); err != nil {
		t.Fatalf("Install: %v", err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
