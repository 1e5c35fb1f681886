package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/terminus-project/terminus/internal/crd"
	"github.com/terminus-project/terminus/internal/lifecycle"
)

// The default garbage-collection policies of spec B7, by their short names
// in the resource table.
const (
	GCBackground = lifecycle.Background
	GCOrphan     = lifecycle.Orphan
	// GCUnsupported: no GC finalizer is ever added (Events).
	GCUnsupported = lifecycle.Unsupported
)

// Subresource is a served subresource of a resource.
type Subresource struct {
	// Name is "status", "scale", "finalize", "binding", "eviction", "log",
	// "exec", "attach", "portforward" or "proxy".
	Name string
	// Verbs are the verbs the subresource serves, as discovery lists them.
	Verbs []string
	// GVK is the kind exchanged on the subresource, as discovery reports
	// it: for status the parent's kind, for scale autoscaling/v1 Scale, for
	// binding v1 Binding, for eviction policy/v1 Eviction, for the
	// node-proxied subresources their options kind (PodExecOptions, ...;
	// pods/log reports Pod, as upstream's LogREST does).
	GVK schema.GroupVersionKind
	// Connect marks a streaming or proxying subresource (exec, attach,
	// portforward, proxy) that upstream documents with the "connect"
	// action: GET and POST open a stream to the node's agent.
	Connect bool
	// New returns an empty object of the subresource's body (scale,
	// binding, eviction) or options (log, exec, ...); nil means the
	// parent's kind (status, finalize).
	New func() runtime.Object
}

// Resource describes one served resource: its identity for discovery and
// routing, and the per-resource facts the generic store needs.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	ListKind   string
	Namespaced bool
	ShortNames []string
	Categories []string
	// Verbs are the verbs served on the resource, in discovery's order.
	Verbs []string
	// SingularName is the lowercase kind, as discovery reports it.
	SingularName string
	Subresources []Subresource
	// KeyPrefix is where objects live in storage, laid out as
	// kube-apiserver lays them out (DESIGN decision 2), without a trailing
	// slash: "/registry/configmaps", "/registry/minions", ...
	KeyPrefix string

	// HasGeneration: metadata.generation starts at 1 and bumps on spec
	// changes (spec A7).
	HasGeneration bool
	// ReturnDeletedObject: an immediate DELETE answers with the deleted
	// object rather than a success Status (spec B6).
	ReturnDeletedObject bool
	// GCPolicy is the default propagation (spec B7).
	GCPolicy lifecycle.GCPolicy
	// AllowUnconditionalUpdate: a PUT without resourceVersion is allowed
	// (true for built-in types, spec A5).
	AllowUnconditionalUpdate bool

	// NoStorage marks a resource that only routes to another resource's
	// store and has none of its own (the legacy "bindings", which binds
	// pods): no store, no watch cache, no list.
	NoStorage bool

	// Custom is set for a custom resource, served as unstructured
	// objects: its schema, pruning, defaulting, validation, printer
	// columns, selectable fields and scale paths.
	Custom *crd.Version
	// CRD is the CustomResourceDefinition a custom resource is served
	// from (read only).
	CRD *apiextensionsv1.CustomResourceDefinition
	// StorageVersion is the version custom resources are stored in (with
	// conversion None only apiVersion differs between versions).
	StorageVersion string
	// Terminating: the CRD is being deleted, so creates are refused (spec
	// F4, J5c).
	Terminating bool
	// Hidden resources are served but not listed in discovery (a CRD
	// whose names are accepted but which is not yet established).
	Hidden bool

	// New and NewList return empty typed objects; NewList returns nil for
	// a resource without list.
	New     func() runtime.Object
	NewList func() runtime.Object
}

// HasSubresource reports whether the resource serves the named subresource.
func (r *Resource) HasSubresource(name string) (Subresource, bool) {
	for _, s := range r.Subresources {
		if s.Name == name {
			return s, true
		}
	}
	return Subresource{}, false
}

// GroupResource is the resource's group and plural name.
func (r *Resource) GroupResource() schema.GroupResource { return r.GVR.GroupResource() }

// GroupVersionKind is the resource's kind in its served version.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GVR.GroupVersion().WithKind(r.Kind)
}

var (
	scaleGVK         = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	subresourceVerbs = []string{"get", "patch", "update"}
	// allVerbs are what the generic store serves, sorted as discovery
	// lists them.
	allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	// namespaceVerbs: the Namespace registry has no DeleteCollection.
	namespaceVerbs = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
)

// builtin describes one built-in resource compactly; BuiltinResources turns
// it into a Resource.
type builtin struct {
	group, version, resource, kind string
	namespaced                     bool
	keyPrefix                      string
	shortNames, categories         []string
	status, scale                  bool
	generation, returnDeleted      bool
	gc                             lifecycle.GCPolicy
	obj, list                      func() runtime.Object
}

// BuiltinResources is the table of built-in resources terminus serves
// (issue 3's list). Short names and categories are upstream's, so that
// `kubectl get all` and `kubectl get cm` work.
func BuiltinResources() []*Resource {
	all := []string{"all"}
	table := []builtin{
		{"", "v1", "namespaces", "Namespace", false, "/registry/namespaces", []string{"ns"}, nil, true, false, false, true, GCBackground,
			func() runtime.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} }},
		{"", "v1", "configmaps", "ConfigMap", true, "/registry/configmaps", []string{"cm"}, nil, false, false, false, false, GCBackground,
			func() runtime.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} }},
		{"", "v1", "secrets", "Secret", true, "/registry/secrets", nil, nil, false, false, false, false, GCBackground,
			func() runtime.Object { return &corev1.Secret{} }, func() runtime.Object { return &corev1.SecretList{} }},
		{"", "v1", "serviceaccounts", "ServiceAccount", true, "/registry/serviceaccounts", []string{"sa"}, nil, false, false, false, true, GCBackground,
			func() runtime.Object { return &corev1.ServiceAccount{} }, func() runtime.Object { return &corev1.ServiceAccountList{} }},
		{"", "v1", "pods", "Pod", true, "/registry/pods", []string{"po"}, all, true, false, true, true, GCBackground,
			func() runtime.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} }},
		{"", "v1", "replicationcontrollers", "ReplicationController", true, "/registry/controllers", []string{"rc"}, all, true, true, true, false, GCOrphan,
			func() runtime.Object { return &corev1.ReplicationController{} }, func() runtime.Object { return &corev1.ReplicationControllerList{} }},
		{"", "v1", "services", "Service", true, "/registry/services/specs", []string{"svc"}, all, true, false, false, true, GCBackground,
			func() runtime.Object { return &corev1.Service{} }, func() runtime.Object { return &corev1.ServiceList{} }},
		{"", "v1", "endpoints", "Endpoints", true, "/registry/services/endpoints", []string{"ep"}, nil, false, false, false, false, GCBackground,
			func() runtime.Object { return &corev1.Endpoints{} }, func() runtime.Object { return &corev1.EndpointsList{} }},
		{"", "v1", "events", "Event", true, "/registry/events", []string{"ev"}, nil, false, false, false, false, GCUnsupported,
			func() runtime.Object { return &corev1.Event{} }, func() runtime.Object { return &corev1.EventList{} }},
		{"", "v1", "nodes", "Node", false, "/registry/minions", []string{"no"}, nil, true, false, false, false, GCBackground,
			func() runtime.Object { return &corev1.Node{} }, func() runtime.Object { return &corev1.NodeList{} }},
		{"", "v1", "persistentvolumes", "PersistentVolume", false, "/registry/persistentvolumes", []string{"pv"}, nil, true, false, false, true, GCBackground,
			func() runtime.Object { return &corev1.PersistentVolume{} }, func() runtime.Object { return &corev1.PersistentVolumeList{} }},
		{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, "/registry/persistentvolumeclaims", []string{"pvc"}, nil, true, false, false, true, GCBackground,
			func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, func() runtime.Object { return &corev1.PersistentVolumeClaimList{} }},
		{"", "v1", "podtemplates", "PodTemplate", true, "/registry/podtemplates", nil, nil, false, false, true, true, GCBackground,
			func() runtime.Object { return &corev1.PodTemplate{} }, func() runtime.Object { return &corev1.PodTemplateList{} }},
		// events.k8s.io shares no storage with core events here: see
		// docs/decisions/0001-events-storage.md.
		{"events.k8s.io", "v1", "events", "Event", true, "/registry/events.k8s.io/events", []string{"ev"}, nil, false, false, false, false, GCUnsupported,
			func() runtime.Object { return &eventsv1.Event{} }, func() runtime.Object { return &eventsv1.EventList{} }},
		{"apps", "v1", "deployments", "Deployment", true, "/registry/deployments", []string{"deploy"}, all, true, true, true, false, GCBackground,
			func() runtime.Object { return &appsv1.Deployment{} }, func() runtime.Object { return &appsv1.DeploymentList{} }},
		{"apps", "v1", "replicasets", "ReplicaSet", true, "/registry/replicasets", []string{"rs"}, all, true, true, true, false, GCBackground,
			func() runtime.Object { return &appsv1.ReplicaSet{} }, func() runtime.Object { return &appsv1.ReplicaSetList{} }},
		{"apps", "v1", "statefulsets", "StatefulSet", true, "/registry/statefulsets", []string{"sts"}, all, true, true, true, false, GCBackground,
			func() runtime.Object { return &appsv1.StatefulSet{} }, func() runtime.Object { return &appsv1.StatefulSetList{} }},
		{"apps", "v1", "daemonsets", "DaemonSet", true, "/registry/daemonsets", []string{"ds"}, all, true, false, true, false, GCBackground,
			func() runtime.Object { return &appsv1.DaemonSet{} }, func() runtime.Object { return &appsv1.DaemonSetList{} }},
		{"batch", "v1", "jobs", "Job", true, "/registry/jobs", nil, all, true, false, true, false, GCOrphan,
			func() runtime.Object { return &batchv1.Job{} }, func() runtime.Object { return &batchv1.JobList{} }},
		{"batch", "v1", "cronjobs", "CronJob", true, "/registry/cronjobs", []string{"cj"}, all, true, false, true, false, GCBackground,
			func() runtime.Object { return &batchv1.CronJob{} }, func() runtime.Object { return &batchv1.CronJobList{} }},
		{"coordination.k8s.io", "v1", "leases", "Lease", true, "/registry/leases", nil, nil, false, false, false, false, GCBackground,
			func() runtime.Object { return &coordinationv1.Lease{} }, func() runtime.Object { return &coordinationv1.LeaseList{} }},
		{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, "/registry/endpointslices", nil, nil, false, false, false, false, GCBackground,
			func() runtime.Object { return &discoveryv1.EndpointSlice{} }, func() runtime.Object { return &discoveryv1.EndpointSliceList{} }},
		// Spec F4: the CRD registry has its own delete path (lifecycle).
		{"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, "/registry/apiextensions.k8s.io/customresourcedefinitions", []string{"crd", "crds"}, []string{"api-extensions"}, true, false, true, false, GCBackground,
			func() runtime.Object { return &apiextensionsv1.CustomResourceDefinition{} }, func() runtime.Object { return &apiextensionsv1.CustomResourceDefinitionList{} }},
		{"storage.k8s.io", "v1", "storageclasses", "StorageClass", false, "/registry/storageclasses", []string{"sc"}, nil, false, false, false, true, GCBackground,
			func() runtime.Object { return &storagev1.StorageClass{} }, func() runtime.Object { return &storagev1.StorageClassList{} }},
	}
	out := make([]*Resource, 0, len(table))
	for _, b := range table {
		gv := schema.GroupVersion{Group: b.group, Version: b.version}
		r := &Resource{
			GVR:                      gv.WithResource(b.resource),
			Kind:                     b.kind,
			ListKind:                 b.kind + "List",
			Namespaced:               b.namespaced,
			ShortNames:               b.shortNames,
			Categories:               b.categories,
			SingularName:             lower(b.kind),
			KeyPrefix:                b.keyPrefix,
			HasGeneration:            b.generation,
			ReturnDeletedObject:      b.returnDeleted,
			GCPolicy:                 b.gc,
			AllowUnconditionalUpdate: true,
			Verbs:                    allVerbs,
			New:                      b.obj,
			NewList:                  b.list,
		}
		if b.resource == "namespaces" {
			r.Verbs = namespaceVerbs
			// Spec E6: spec.finalizers change only through PUT /finalize.
			r.Subresources = append(r.Subresources, Subresource{Name: "finalize", Verbs: []string{"update"}, GVK: gv.WithKind(b.kind)})
		}
		if b.status {
			r.Subresources = append(r.Subresources, Subresource{Name: "status", Verbs: subresourceVerbs, GVK: gv.WithKind(b.kind)})
		}
		if b.scale {
			r.Subresources = append(r.Subresources, Subresource{Name: "scale", Verbs: subresourceVerbs, GVK: scaleGVK,
				New: func() runtime.Object { return &autoscalingv1.Scale{} }})
		}
		switch b.resource {
		case "pods":
			r.Subresources = append(podSubresources(), r.Subresources...)
		case "nodes":
			r.Subresources = append(r.Subresources, Subresource{Name: "proxy", Verbs: proxyVerbs, Connect: true,
				GVK: gv.WithKind("NodeProxyOptions"), New: func() runtime.Object { return &corev1.NodeProxyOptions{} }})
		}
		out = append(out, r)
		if b.resource == "pods" {
			out = append(out, legacyBindings())
		}
	}
	return out
}

// Discovery's verbs of the connect subresources: GET and POST open a
// stream (exec, attach, portforward); a proxy forwards every method.
var (
	connectVerbs = []string{"create", "get"}
	proxyVerbs   = []string{"create", "delete", "get", "patch", "update"}
)

// ProxyMethods are the HTTP methods a proxy subresource forwards
// (upstream's proxyMethods), for the OpenAPI connect operations.
var ProxyMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// podSubresources are the pod subresources beyond status, in upstream's
// (alphabetical) discovery order: binding and eviction are creates that
// change the pod; log, exec, attach and portforward reach the node's agent
// (kube-apiserver's pods/* REST of pkg/registry/core/pod/rest).
func podSubresources() []Subresource {
	core := corev1.SchemeGroupVersion
	return []Subresource{
		{Name: "attach", Verbs: connectVerbs, Connect: true, GVK: core.WithKind("PodAttachOptions"),
			New: func() runtime.Object { return &corev1.PodAttachOptions{} }},
		{Name: "binding", Verbs: []string{"create"}, GVK: core.WithKind("Binding"),
			New: func() runtime.Object { return &corev1.Binding{} }},
		{Name: "eviction", Verbs: []string{"create"}, GVK: policyv1.SchemeGroupVersion.WithKind("Eviction"),
			New: func() runtime.Object { return &policyv1.Eviction{} }},
		{Name: "exec", Verbs: connectVerbs, Connect: true, GVK: core.WithKind("PodExecOptions"),
			New: func() runtime.Object { return &corev1.PodExecOptions{} }},
		{Name: "log", Verbs: []string{"get"}, GVK: core.WithKind("Pod"),
			New: func() runtime.Object { return &corev1.PodLogOptions{} }},
		{Name: "portforward", Verbs: connectVerbs, Connect: true, GVK: core.WithKind("PodPortForwardOptions"),
			New: func() runtime.Object { return &corev1.PodPortForwardOptions{} }},
	}
}

// legacyBindings is POST /api/v1/namespaces/{ns}/bindings, the pre-1.x way
// to bind a pod (the pod is the Binding's metadata.name); upstream still
// serves it with create only.
func legacyBindings() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("bindings"),
		Kind:         "Binding",
		Namespaced:   true,
		SingularName: "binding",
		Verbs:        []string{"create"},
		NoStorage:    true,
		New:          func() runtime.Object { return &corev1.Binding{} },
		NewList:      func() runtime.Object { return nil },
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
