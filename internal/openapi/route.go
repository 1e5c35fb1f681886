package openapi

import (
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/common"
)

// container implements common.RouteContainer: the routes of one v3 document.
type container struct {
	root   string
	routes []common.Route
}

func (c *container) RootPath() string                   { return c.root }
func (c *container) PathParameters() []common.Parameter { return nil }
func (c *container) Routes() []common.Route             { return c.routes }

// route implements common.Route: one operation.
type route struct {
	method, path string
	// opID is the whole operation id (listCoreV1NamespacedPod), tag its tag
	// (core_v1), both as upstream computes them.
	opID, tag   string
	action      string                   // x-kubernetes-action; "" for discovery routes
	gvk         *metav1.GroupVersionKind // x-kubernetes-group-version-kind; nil for none
	description string
	params      []common.Parameter
	consumes    []string
	produces    []string
	body        any // request body sample, nil for none
	responses   []common.StatusCodeResponse
}

func (r *route) Method() string                 { return r.method }
func (r *route) Path() string                   { return r.path }
func (r *route) OperationName() string          { return r.opID }
func (r *route) Parameters() []common.Parameter { return r.params }
func (r *route) Description() string            { return r.description }
func (r *route) Consumes() []string             { return r.consumes }
func (r *route) Produces() []string             { return r.produces }
func (r *route) RequestPayloadSample() any      { return r.body }
func (r *route) ResponsePayloadSample() any     { return nil }
func (r *route) StatusCodeResponses() []common.StatusCodeResponse {
	return r.responses
}

// Metadata carries the vendor extensions; the builders copy every
// "x-kubernetes-" key onto the operation.
func (r *route) Metadata() map[string]any {
	m := map[string]any{}
	if r.action != "" {
		m["x-kubernetes-action"] = r.action
	}
	if r.gvk != nil {
		m[gvkExtension] = *r.gvk
	}
	return m
}

// response implements common.StatusCodeResponse. model is a sample whose
// definition documents the body ("" documents a plain string).
type response struct {
	code    int
	message string
	model   any
}

func (r response) Code() int       { return r.code }
func (r response) Message() string { return r.message }
func (r response) Model() any      { return r.model }

// ok is a single 200 response of model.
func ok(model any) []common.StatusCodeResponse {
	return []common.StatusCodeResponse{response{http.StatusOK, "OK", model}}
}

// param implements common.Parameter.
type param struct {
	name, description, dataType string
	kind                        common.ParameterKind
	required                    bool
}

func (p param) Name() string               { return p.name }
func (p param) Description() string        { return p.description }
func (p param) Required() bool             { return p.required }
func (p param) Kind() common.ParameterKind { return p.kind }
func (p param) DataType() string           { return p.dataType }

// AllowMultiple is false for every Kubernetes parameter; the builders then
// mark query parameters uniqueItems, as a real server's documents do.
func (p param) AllowMultiple() bool { return false }

func queryParam(name, dataType, description string) common.Parameter {
	return param{name: name, dataType: dataType, description: description, kind: common.QueryParameterKind}
}

func bodyParam(required bool) common.Parameter {
	return param{name: "body", kind: common.BodyParameterKind, required: required}
}

// pathParams are {namespace} (when namespaced) and {name} (when kind is not
// empty, for item paths) plus pretty, which every resource route takes.
func pathParams(namespaced bool, kind string) []common.Parameter {
	var ps []common.Parameter
	if namespaced {
		ps = append(ps, param{name: "namespace", dataType: "string", kind: common.PathParameterKind, required: true,
			description: "object name and auth scope, such as for teams and projects"})
	}
	if kind != "" {
		ps = append(ps, param{name: "name", dataType: "string", kind: common.PathParameterKind, required: true,
			description: "name of the " + kind})
	}
	return append(ps, queryParam("pretty", "string", "If 'true', then the output is pretty printed."))
}

// join concatenates parameter lists into a new slice, so the shared tables
// below are never appended to in place.
func join(lists ...[]common.Parameter) []common.Parameter {
	var out []common.Parameter
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Query parameter tables, read-only.
var (
	listParams = []common.Parameter{
		queryParam("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag."),
		queryParam("continue", "string", "The continue option should be set when retrieving more results from the server, with the value of the previous list's metadata.continue."),
		queryParam("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
		queryParam("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
		queryParam("limit", "integer", "limit is a maximum number of responses to return for a list call; more results are fetched with continue."),
		queryParam("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from."),
		queryParam("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
		queryParam("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`: the watch stream begins with synthetic events for the current state of all objects, then a bookmark annotated \"k8s.io/initial-events-end\"."),
		queryParam("timeoutSeconds", "integer", "Timeout for the list/watch call, regardless of any activity or inactivity."),
		queryParam("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
	}
	// deleteCollectionParams are the list parameters a deletecollection
	// takes (it selects what to delete like a list, but never watches).
	deleteCollectionParams = []common.Parameter{
		listParams[1], listParams[2], listParams[3], listParams[4], listParams[5], listParams[6], listParams[7], listParams[8],
	}
	writeParams = []common.Parameter{
		queryParam("dryRun", "string", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"),
		queryParam("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes."),
		queryParam("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore: silently drop them. - Warn: drop them and send a warning for each. - Strict: fail the request with a BadRequest error listing them."),
	}
	forceParam   = queryParam("force", "boolean", "Force is going to \"force\" Apply requests: the applier re-acquires conflicting fields owned by other managers. Must be unset for non-apply patch requests.")
	deleteParams = []common.Parameter{
		writeParams[0],
		queryParam("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted. The value zero indicates delete immediately."),
		queryParam("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error."),
		queryParam("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy. Should the dependent objects be orphaned."),
		queryParam("propagationPolicy", "string", "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'."),
	}
)

// discoveryRoute is a GET of a discovery document (APIVersions,
// APIGroupList, APIGroup, APIResourceList, version.Info).
func discoveryRoute(path, opID, tag, desc string, model any) *route {
	return &route{
		method: http.MethodGet, path: path, opID: opID, tag: tag, description: desc,
		consumes: produces, produces: produces, responses: ok(model),
	}
}
