package openapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/kube-openapi/pkg/common"
)

// The route table is described with kube-openapi's own common.Route
// interfaces rather than go-restful web services: nothing here serves API
// requests, so a go-restful container with no-op handlers would only add a
// second description of the same facts.

var (
	resourceVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	// A subresource's "delete" is a proxy's DELETE (nodes/proxy is the
	// only subresource upstream serves it on): documented as a connect
	// operation, as upstream documents it.
	subresourceVerbs = []string{"get", "create", "update", "patch", "delete", "connect"}
)

// Media types, as a real server advertises them.
var (
	produces        = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	producesList    = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	consumesAny     = []string{"*/*"}
	consumesPatch   = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	producesConnect = []string{"*/*"}
)

// routeContainers groups the routes of resources by v3 document: one per
// served group-version, plus "api", "apis", "apis/<group>" and "version"
// for the discovery endpoints a real server documents there too.
func routeContainers(resources []Resource) (map[string]*container, error) {
	cs := map[string]*container{
		"api":     {root: "/api", routes: []common.Route{discoveryRoute("/api/", "getCoreAPIVersions", "core", "get available API versions", &metav1.APIVersions{})}},
		"apis":    {root: "/apis", routes: []common.Route{discoveryRoute("/apis/", "getAPIVersions", "apis", "get available API versions", &metav1.APIGroupList{})}},
		"version": {root: "/version", routes: []common.Route{discoveryRoute("/version/", "getCodeVersion", "version", "get the version information for this server", &version.Info{})}},
	}
	for _, r := range resources {
		if r.Version == "" || r.Resource == "" || r.Kind == "" || r.Object == nil {
			return nil, fmt.Errorf("openapi: resource %q: Version, Resource, Kind and Object are required", r.Group+"/"+r.Resource)
		}
		path := v3Path(r.Group, r.Version)
		c, ok := cs[path]
		if !ok {
			n := newNames(r.Group, r.Version)
			c = &container{root: "/" + path, routes: []common.Route{
				discoveryRoute("/"+path+"/", "get"+n.gv+"APIResources", n.tag, "get available resources", &metav1.APIResourceList{}),
			}}
			cs[path] = c
			if r.Group != "" {
				gpath := "apis/" + r.Group
				if _, ok := cs[gpath]; !ok {
					cs[gpath] = &container{root: "/" + gpath, routes: []common.Route{
						discoveryRoute("/"+gpath+"/", "get"+n.group+"APIGroup", n.groupTag, "get information of a group", &metav1.APIGroup{}),
					}}
				}
			}
		}
		routes, err := resourceRoutes(r)
		if err != nil {
			return nil, err
		}
		c.routes = append(c.routes, routes...)
	}
	return cs, nil
}

// names are the operation-id and tag fragments of a group-version, spelled
// as upstream spells them: group "" is "Core"/"core", a ".k8s.io" suffix is
// dropped, and "rbac.authorization" becomes "RbacAuthorization".
type names struct {
	group, gv, groupTag, tag string
}

func newNames(group, version string) names {
	g := strings.TrimSuffix(group, ".k8s.io")
	if g == "" {
		g = "core"
	}
	return names{
		group:    camel(g, true),
		gv:       camel(g, true) + camel(version, true),
		groupTag: camel(g, false),
		tag:      camel(g, false) + "_" + camel(version, false),
	}
}

// camel drops every rune that cannot be part of an identifier and
// capitalises the rune after each dropped one (and the first if upper).
func camel(s string, upper bool) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r)) {
			if upper {
				r = unicode.ToUpper(r)
				upper = false
			}
			b.WriteRune(r)
			continue
		}
		upper = true
	}
	return b.String()
}

// resourceRoutes is every operation of one resource and its subresources.
func resourceRoutes(r Resource) ([]common.Route, error) {
	what := r.Group + "/" + r.Version + "/" + r.Resource
	if err := checkVerbs(what, r.Verbs, resourceVerbs); err != nil {
		return nil, err
	}
	n := newNames(r.Group, r.Version)
	base := "/" + v3Path(r.Group, r.Version)
	coll, watchColl, ns := base+"/"+r.Resource, base+"/watch/"+r.Resource, ""
	if r.Namespaced {
		coll = base + "/namespaces/{namespace}/" + r.Resource
		watchColl = base + "/watch/namespaces/{namespace}/" + r.Resource
		ns = "Namespaced"
	}
	item := coll + "/{name}"
	gvk := &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
	kind := r.Kind
	collParams := pathParams(r.Namespaced, "")
	itemParams := pathParams(r.Namespaced, kind)
	newRoute := func(method, path, verb, rest, action, desc string) *route {
		return &route{method: method, path: path, opID: verb + n.gv + rest, tag: n.tag, action: action, gvk: gvk, description: desc, produces: produces}
	}

	var out []common.Route
	for _, verb := range r.Verbs {
		switch verb {
		case "get":
			rt := newRoute(http.MethodGet, item, "read", ns+kind, "get", "read the specified "+kind)
			rt.params = itemParams
			rt.responses = ok(r.Object)
			out = append(out, rt)
		case "list":
			if r.List == nil {
				return nil, fmt.Errorf("openapi: %s: verb list needs List", what)
			}
			rt := newRoute(http.MethodGet, coll, "list", ns+kind, "list", "list or watch objects of kind "+kind)
			rt.params, rt.produces, rt.responses = join(collParams, listParams), producesList, ok(r.List)
			out = append(out, rt)
			if r.Namespaced {
				rt := newRoute(http.MethodGet, base+"/"+r.Resource, "list", kind+"ForAllNamespaces", "list", "list or watch objects of kind "+kind)
				rt.params, rt.produces, rt.responses = join(pathParams(false, ""), listParams), producesList, ok(r.List)
				out = append(out, rt)
			}
		case "watch":
			// The /watch/ paths are deprecated upstream but still served and
			// documented; clients generated from the spec use them.
			desc := "watch changes to an object of kind " + kind + ". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."
			rt := newRoute(http.MethodGet, watchColl+"/{name}", "watch", ns+kind, "watch", desc)
			rt.params, rt.produces, rt.responses = join(itemParams, listParams), producesList, ok(&metav1.WatchEvent{})
			out = append(out, rt)
			desc = "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead."
			rt = newRoute(http.MethodGet, watchColl, "watch", ns+kind+"List", "watchlist", desc)
			rt.params, rt.produces, rt.responses = join(collParams, listParams), producesList, ok(&metav1.WatchEvent{})
			out = append(out, rt)
			if r.Namespaced {
				rt := newRoute(http.MethodGet, base+"/watch/"+r.Resource, "watch", kind+"ListForAllNamespaces", "watchlist", desc)
				rt.params, rt.produces, rt.responses = join(pathParams(false, ""), listParams), producesList, ok(&metav1.WatchEvent{})
				out = append(out, rt)
			}
		case "create":
			out = append(out, writeRoute(newRoute(http.MethodPost, coll, "create", ns+kind, "post", "create a "+kind), collParams, r.Object))
		case "update":
			out = append(out, writeRoute(newRoute(http.MethodPut, item, "replace", ns+kind, "put", "replace the specified "+kind), itemParams, r.Object))
		case "patch":
			out = append(out, writeRoute(newRoute(http.MethodPatch, item, "patch", ns+kind, "patch", "partially update the specified "+kind), itemParams, r.Object))
		case "delete":
			rt := newRoute(http.MethodDelete, item, "delete", ns+kind, "delete", "delete a "+kind)
			rt.params = join(itemParams, deleteParams, []common.Parameter{bodyParam(false)})
			rt.consumes, rt.body = consumesAny, &metav1.DeleteOptions{}
			rt.responses = []common.StatusCodeResponse{
				response{http.StatusOK, "OK", &metav1.Status{}},
				response{http.StatusAccepted, "Accepted", &metav1.Status{}},
			}
			out = append(out, rt)
		case "deletecollection":
			if r.List == nil {
				return nil, fmt.Errorf("openapi: %s: verb deletecollection needs List", what)
			}
			rt := newRoute(http.MethodDelete, coll, "delete", "Collection"+ns+kind, "deletecollection", "delete collection of "+kind)
			rt.params = join(collParams, deleteParams, deleteCollectionParams, []common.Parameter{bodyParam(false)})
			rt.consumes, rt.body = consumesAny, &metav1.DeleteOptions{}
			rt.responses = ok(&metav1.Status{})
			out = append(out, rt)
		}
	}
	for _, s := range r.Subresources {
		routes, err := subresourceRoutes(r, s, n, item, itemParams)
		if err != nil {
			return nil, err
		}
		out = append(out, routes...)
	}
	return out, nil
}

// subresourceRoutes is every operation of subresource s of r, whose item
// path and path parameters are item and itemParams.
func subresourceRoutes(r Resource, s Subresource, n names, item string, itemParams []common.Parameter) ([]common.Route, error) {
	what := r.Group + "/" + r.Version + "/" + r.Resource + "/" + s.Name
	if s.Name == "" {
		return nil, fmt.Errorf("openapi: %s: subresource without a name", what)
	}
	if err := checkVerbs(what, s.Verbs, subresourceVerbs); err != nil {
		return nil, err
	}
	gvk := &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
	if s.Kind != "" {
		gvk = &metav1.GroupVersionKind{Group: s.Group, Version: s.Version, Kind: s.Kind}
		if s.Version == "" {
			gvk.Group, gvk.Version = r.Group, r.Version
		}
	}
	obj := any(s.Object)
	if s.Object == nil {
		obj = r.Object
	}
	ns := ""
	if r.Namespaced {
		ns = "Namespaced"
	}
	path := item + "/" + s.Name
	rest := ns + r.Kind + camel(s.Name, true)
	newRoute := func(method, verb, action, desc string) *route {
		return &route{method: method, path: path, opID: verb + n.gv + rest, tag: n.tag, action: action, gvk: gvk, description: desc, produces: produces}
	}

	var out []common.Route
	for _, verb := range s.Verbs {
		switch verb {
		case "get":
			rt := newRoute(http.MethodGet, "read", "get", "read "+s.Name+" of the specified "+r.Kind)
			rt.params, rt.responses = itemParams, ok(obj)
			out = append(out, rt)
		case "create":
			out = append(out, writeRoute(newRoute(http.MethodPost, "create", "post", "create "+s.Name+" of a "+r.Kind), itemParams, obj))
		case "update":
			out = append(out, writeRoute(newRoute(http.MethodPut, "replace", "put", "replace "+s.Name+" of the specified "+r.Kind), itemParams, obj))
		case "patch":
			out = append(out, writeRoute(newRoute(http.MethodPatch, "patch", "patch", "partially update "+s.Name+" of the specified "+r.Kind), itemParams, obj))
		case "connect", "delete":
			methods := []string{http.MethodGet, http.MethodPost}
			if len(s.ConnectMethods) > 0 {
				methods = s.ConnectMethods
			}
			if verb == "delete" {
				if slices.Contains(s.Verbs, "connect") {
					continue // the connect methods document it
				}
				methods = []string{http.MethodDelete}
			}
			for _, method := range methods {
				verb := "connect" + camel(strings.ToLower(method), true)
				rt := &route{
					method: method, path: path, opID: "connect" + n.gv + camel(strings.ToLower(method), true) + rest, tag: n.tag,
					action: "connect", description: verb + " " + s.Name + " of a " + r.Kind,
					params: itemParams, produces: producesConnect,
					// A connect response is a stream; "" documents it as a string.
					responses: ok(""),
				}
				// Only a named options kind (PodExecOptions) belongs on a
				// connect operation; the parent's kind would be wrong.
				if s.Kind != "" {
					rt.gvk = gvk
				}
				out = append(out, rt)
			}
		}
	}
	return out, nil
}

// writeRoute completes rt as a write (POST, PUT or PATCH) of obj: the
// body, the dryRun/fieldManager/fieldValidation parameters (force too for
// PATCH) and the responses. A PATCH body is a metav1.Patch in one of the
// four patch media types; other writes send obj itself.
//
// fieldValidation must be on the operation (not only on the path) and real
// on the server: kubectl looks for it on the PATCH operation of a kind and,
// when present, leaves validation to the server.
func writeRoute(rt *route, params []common.Parameter, obj any) *route {
	rt.params = join(params, writeParams, []common.Parameter{bodyParam(true)})
	rt.consumes, rt.body = consumesAny, obj
	switch rt.method {
	case http.MethodPatch:
		rt.params = append(rt.params, forceParam)
		rt.consumes, rt.body = consumesPatch, &metav1.Patch{}
		rt.responses = []common.StatusCodeResponse{response{http.StatusOK, "OK", obj}, response{http.StatusCreated, "Created", obj}}
	case http.MethodPut:
		rt.responses = []common.StatusCodeResponse{response{http.StatusOK, "OK", obj}, response{http.StatusCreated, "Created", obj}}
	default:
		rt.responses = []common.StatusCodeResponse{response{http.StatusOK, "OK", obj}, response{http.StatusCreated, "Created", obj}, response{http.StatusAccepted, "Accepted", obj}}
	}
	return rt
}
