package openapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/terminus-project/terminus/internal/openapi/generated"
)

// Resource describes one served resource for the OpenAPI route table.
type Resource struct {
	// Group, Version, Resource and Kind name the resource as discovery does,
	// e.g. "apps", "v1", "deployments", "Deployment"; the core group is "".
	Group, Version, Resource, Kind string
	Namespaced                     bool
	// Verbs is a subset of get, list, watch, create, update, patch, delete
	// and deletecollection; each verb adds the operations a real server has
	// for it (list on a namespaced resource also adds the all-namespaces
	// list, watch adds the three legacy /watch/ paths).
	Verbs        []string
	Subresources []Subresource
	// Object is a typed sample (e.g. &appsv1.Deployment{}) and List its list
	// type (needed for list and deletecollection). Their generated
	// definitions must exist: they are looked up by OpenAPIModelName.
	Object runtime.Object
	List   runtime.Object
}

// Subresource describes a subresource of a Resource, e.g.
// {Name: "status", Verbs: get, update, patch} or {Name: "scale",
// Group: "autoscaling", Version: "v1", Kind: "Scale", Object: &autoscalingv1.Scale{}, ...}.
type Subresource struct {
	Name string
	// Group, Version and Kind are those of the subresource's body: empty
	// Kind means the parent's kind (a status subresource), empty Version the
	// parent's group and version (pods/binding is core/v1 Binding).
	Group, Version, Kind string
	// Verbs is a subset of get, create (POST, e.g. pods/eviction), update,
	// patch, delete (a proxy's DELETE, documented as connect) and connect
	// (GET and POST with a string response, e.g. pods/exec).
	Verbs []string
	// ConnectMethods are the HTTP methods of the connect verb; empty means
	// GET and POST. A proxy forwards GET, POST, PUT, PATCH, DELETE, HEAD
	// and OPTIONS.
	ConnectMethods []string
	// Object is a typed sample of the body; nil means the parent's Object.
	Object runtime.Object
}

// Config is what Install needs.
type Config struct {
	// Scheme knows every served kind; definitions of its kinds are tagged
	// with x-kubernetes-group-version-kind, by which kubectl explain, kubectl
	// validation and the server-side apply type converter find them.
	Scheme    *runtime.Scheme
	Resources []Resource
	// Version is the server version shown as info.version, e.g. "v1.37.2".
	Version string
}

// Mux is where Install registers its handlers. Handle serves exactly
// pattern; HandlePrefix serves every path under prefix (which ends in "/").
// ServeMux adapts an *http.ServeMux.
type Mux interface {
	Handle(pattern string, h http.Handler)
	HandlePrefix(prefix string, h http.Handler)
}

// ServeMux adapts m to Mux. A ServeMux pattern ending in "/" already matches
// its whole subtree, so HandlePrefix is Handle.
func ServeMux(m *http.ServeMux) Mux { return serveMux{m} }

type serveMux struct{ m *http.ServeMux }

func (s serveMux) Handle(p string, h http.Handler)       { s.m.Handle(p, h) }
func (s serveMux) HandlePrefix(p string, h http.Handler) { s.m.Handle(p, h) }

// Install registers on mux the OpenAPI v2 document and one v3 document per
// served group-version (plus the "api", "apis", "apis/<group>" and
// "version" documents a real server has):
//
//   - /openapi/v2: JSON or protobuf by Accept, gzip, ETag;
//   - /openapi/v3: the discovery document mapping "api/v1", "apis/apps/v1", …
//     to serverRelativeURLs carrying ?hash=<etag>;
//   - /openapi/v3/<path>: each document, immutable-cached when the hash matches.
//
// Install checks the resource table (verbs, samples that have definitions,
// unique operation ids and routes) and returns its errors, but builds the
// documents on the first request for them (v2 and v3 separately, each
// once): building costs tens of milliseconds of CPU that a server started
// for a test that never runs kubectl should not pay. After the checks the
// build cannot fail on the table; were it to fail anyway, the handlers
// answer with an error status rather than a partial document.
//
// The returned Service adds the documents of custom resources as their
// CRDs are established (custom.go).
func Install(mux Mux, cfg Config) (*Service, error) {
	b, err := newSpecBuilder(cfg)
	if err != nil {
		return nil, err
	}
	// The built-in documents never change once built, so constant etags
	// let the handlers' caches keep the serialised bytes after the first
	// request.
	v2 := handler.NewOpenAPIServiceLazy(cached.Func(func() (*spec.Swagger, string, error) {
		doc, err := b.v2()
		return doc, "v2", err
	}))
	v2.RegisterOpenAPIVersionedService("/openapi/v2", mux)

	v3 := handler3.NewOpenAPIService()
	for path := range b.containers {
		v3.UpdateGroupVersionLazy(path, cached.Func(func() (*spec3.OpenAPI, string, error) {
			docs, err := b.v3()
			if err != nil {
				return nil, "", err
			}
			return docs[path], "v3", nil
		}))
	}
	if err := v3.RegisterOpenAPIV3VersionedService("/openapi/v3", mux); err != nil {
		return nil, fmt.Errorf("openapi: register v3: %w", err)
	}
	return &Service{builder: b, v2: v2, v3: v3, customPaths: map[string]bool{}, cache: map[customKey]*customDocs{}}, nil
}

// specBuilder holds the checked inputs and builds each version's documents
// once.
type specBuilder struct {
	namer *definitionNamer
	// containers are the routes keyed by v3 discovery path ("api/v1",
	// "apis/apps/v1", "api", …).
	containers map[string]*container
	info       *spec.Info

	v2Once sync.Once
	v2Doc  *spec.Swagger
	v2Err  error

	v3Once sync.Once
	v3Docs map[string]*spec3.OpenAPI
	v3Err  error
}

func newSpecBuilder(cfg Config) (*specBuilder, error) {
	if cfg.Scheme == nil {
		return nil, errors.New("openapi: Config.Scheme is nil")
	}
	namer, err := newDefinitionNamer(cfg.Scheme)
	if err != nil {
		return nil, err
	}
	containers, err := routeContainers(cfg.Resources)
	if err != nil {
		return nil, err
	}
	if err := checkRoutes(containers); err != nil {
		return nil, err
	}
	return &specBuilder{
		namer:      namer,
		containers: containers,
		info:       &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: cfg.Version}},
	}, nil
}

func (b *specBuilder) v2() (*spec.Swagger, error) {
	b.v2Once.Do(func() { b.v2Doc, b.v2Err = b.buildV2() })
	return b.v2Doc, b.v2Err
}

func (b *specBuilder) v3() (map[string]*spec3.OpenAPI, error) {
	b.v3Once.Do(func() { b.v3Docs, b.v3Err = b.buildV3() })
	return b.v3Docs, b.v3Err
}

// operationID gives the builders the ids and tags routes carry.
func operationID(r common.Route) (string, []string, error) {
	rt, ok := r.(*route)
	if !ok {
		return "", nil, fmt.Errorf("openapi: unexpected route type %T", r)
	}
	return rt.opID, []string{rt.tag}, nil
}

func (b *specBuilder) buildV2() (*spec.Swagger, error) {
	all := make([]common.RouteContainer, 0, len(b.containers))
	for _, c := range b.containers {
		all = append(all, c)
	}
	doc, err := builder.BuildOpenAPISpecFromRoutes(all, &common.Config{
		ProtocolList:                   []string{"https"},
		Info:                           b.info,
		DefaultResponse:                &spec.Response{ResponseProps: spec.ResponseProps{Description: "Default Response."}},
		CommonResponses:                map[int]spec.Response{http.StatusUnauthorized: {ResponseProps: spec.ResponseProps{Description: "Unauthorized"}}},
		GetDefinitions:                 generated.GetOpenAPIDefinitions,
		GetDefinitionName:              b.namer.GetDefinitionName,
		GetOperationIDAndTagsFromRoute: operationID,
		SecurityDefinitions: &spec.SecurityDefinitions{"BearerToken": &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
			Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
		}}},
		DefaultSecurity: []map[string][]string{{"BearerToken": {}}},
	})
	if err != nil {
		return nil, fmt.Errorf("openapi: build v2: %w", err)
	}
	// Upstream prunes defaults from v2 only: v2 clients (kubectl's v2
	// validation, older client-go) mis-handle them; v3 keeps them.
	doc.Definitions = handler.PruneDefaults(doc.Definitions)
	return doc, nil
}

func (b *specBuilder) buildV3() (map[string]*spec3.OpenAPI, error) {
	// Materialising the generated definitions is much of the cost of a v3
	// document, so it is done once for all of them. Not shared with v2:
	// refs differ (#/components/schemas/… against #/definitions/…), and the
	// v3 builder deletes the x-kubernetes-v2-schema extensions that v2 needs.
	// The v3 builder also writes the (same) extensions into shared top-level
	// extension maps, which is why the documents are built one after another.
	defs := generated.GetOpenAPIDefinitions(func(name string) spec.Ref {
		defName, _ := b.namer.GetDefinitionName(name)
		return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(defName))
	})
	docs := make(map[string]*spec3.OpenAPI, len(b.containers))
	for path, c := range b.containers {
		// A fresh config per document: the builder fills in its defaults.
		doc, err := builder3.BuildOpenAPISpecFromRoutes([]common.RouteContainer{c}, &common.OpenAPIV3Config{
			Info:                           b.info,
			DefaultResponse:                &spec3.Response{ResponseProps: spec3.ResponseProps{Description: "Default Response."}},
			CommonResponses:                map[int]*spec3.Response{http.StatusUnauthorized: {ResponseProps: spec3.ResponseProps{Description: "Unauthorized"}}},
			Definitions:                    defs,
			GetDefinitionName:              b.namer.GetDefinitionName,
			GetOperationIDAndTagsFromRoute: operationID,
			SecuritySchemes: spec3.SecuritySchemes{"BearerToken": &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
				Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
			}}},
			DefaultSecurity: []map[string][]string{{"BearerToken": {}}},
		})
		if err != nil {
			return nil, fmt.Errorf("openapi: build v3 %s: %w", path, err)
		}
		docs[path] = doc
	}
	return docs, nil
}

// checkRoutes finds at Install what would otherwise fail the first build:
// a duplicate operation id or route, or a sample without a definition.
func checkRoutes(containers map[string]*container) error {
	defs := generated.GetOpenAPIDefinitions(func(string) spec.Ref { return spec.Ref{} })
	ids := map[string]string{}
	routes := map[string]bool{}
	for _, c := range containers {
		for _, r := range c.routes {
			rt := r.(*route)
			where := rt.method + " " + rt.path
			if prev, dup := ids[rt.opID]; dup {
				return fmt.Errorf("openapi: operation id %s for both %s and %s", rt.opID, prev, where)
			}
			ids[rt.opID] = where
			if routes[where] {
				return fmt.Errorf("openapi: route %s twice", where)
			}
			routes[where] = true
			models := []any{rt.body}
			for _, resp := range rt.responses {
				models = append(models, resp.Model())
			}
			for _, m := range models {
				if m == nil {
					continue
				}
				name := util.GetCanonicalTypeName(m)
				if typ, _ := common.OpenAPITypeFormat(name); typ != "" {
					continue // a primitive, documented inline
				}
				if _, ok := defs[name]; !ok {
					return fmt.Errorf("openapi: %s: no generated definition for %s (add its package to the go:generate line in doc.go)", where, name)
				}
			}
		}
	}
	return nil
}

// v3Path is the discovery key of a group-version's v3 document, which is
// also its URL path below /openapi/v3/.
func v3Path(group, version string) string {
	if group == "" {
		return "api/" + version
	}
	return "apis/" + group + "/" + version
}

// checkVerbs reports the first verb of verbs not in allowed.
func checkVerbs(what string, verbs, allowed []string) error {
	for _, v := range verbs {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("openapi: %s: unsupported verb %q (want one of %s)", what, v, strings.Join(allowed, ", "))
		}
	}
	return nil
}
