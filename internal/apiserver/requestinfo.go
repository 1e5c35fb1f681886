package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what a resource URL names, parsed as upstream's
// RequestInfoFactory parses it.
type requestInfo struct {
	gv          schema.GroupVersion
	namespace   string
	resource    string
	name        string
	subresource string
	verb        string
	// rest holds path segments after the group version, for the
	// group-version and group endpoints.
	rest []string
}

// parseResourcePath parses /api/v1/... and /apis/<group>/<version>/...;
// ok=false means the path is not a resource path at all.
func parseResourcePath(r *http.Request) (requestInfo, bool) {
	p := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(p, "/")
	var info requestInfo
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		info.gv = schema.GroupVersion{Version: parts[1]}
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		info.gv = schema.GroupVersion{Group: parts[1], Version: parts[2]}
		parts = parts[3:]
	default:
		return info, false
	}
	info.rest = parts
	if len(parts) == 0 {
		return info, true
	}
	// Deprecated /watch/ paths are still served, as upstream does.
	legacyWatch := false
	if parts[0] == "watch" && len(parts) > 1 {
		legacyWatch = true
		parts = parts[1:]
		info.rest = parts
	}
	// /namespaces/{ns}/{resource}/..., except the namespace's own
	// subresources (status, finalize).
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.namespace = parts[1]
		if len(parts) > 2 && parts[2] != "status" && parts[2] != "finalize" {
			parts = parts[2:]
		}
	}
	info.resource = parts[0]
	if len(parts) > 1 {
		info.name = parts[1]
	}
	if len(parts) > 2 {
		info.subresource = parts[2]
	}
	if len(parts) > 3 {
		info.subresource = strings.Join(parts[2:], "/")
	}
	if info.resource == "namespaces" && info.name != "" {
		// A namespace object lives in no namespace.
		info.namespace = ""
	}
	info.verb = verbFor(r, info.name != "")
	if info.subresource != "" && r.Method == http.MethodPost {
		// A POST to an object's subresource creates it (pods/binding,
		// pods/eviction) or connects to it (pods/exec), as upstream's
		// RequestInfoFactory names it.
		info.verb = "create"
	}
	if legacyWatch {
		info.verb = ""
		if r.Method == http.MethodGet {
			info.verb = "watch"
		}
	}
	return info, true
}

func verbFor(r *http.Request, named bool) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if isWatch(r) {
			return "watch"
		}
		if named {
			return "get"
		}
		return "list"
	case http.MethodPost:
		if named {
			return ""
		}
		return "create"
	case http.MethodPut:
		if named {
			return "update"
		}
		return ""
	case http.MethodPatch:
		if named {
			return "patch"
		}
		return ""
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	}
	return ""
}

func isWatch(r *http.Request) bool {
	v := r.URL.Query().Get("watch")
	return v == "1" || v == "true"
}
