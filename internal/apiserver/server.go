// Package apiserver is terminus' HTTP surface: the Kubernetes REST API over
// the registry, with routing, discovery, OpenAPI, authentication, content
// negotiation (JSON, YAML, protobuf, Table, PartialObjectMetadata), watch
// streams, health checks and metrics. Every error leaves through one place
// (errors.go) as a metav1.Status.
package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/terminus-project/terminus/internal/registry"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/clock"
)

// Authenticator decides who a request is from. ok=false means the request
// carried no valid credentials.
type Authenticator interface {
	Authenticate(r *http.Request) (user string, groups []string, ok bool)
}

// HealthCheck is one named check of /healthz, /livez or /readyz.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// OpenAPIInstaller registers /openapi/v2 and /openapi/v3 handlers.
type OpenAPIInstaller func(mux *http.ServeMux) error

// Config holds the server's dependencies.
type Config struct {
	Registry *registry.Registry
	Scheme   *runtime.Scheme
	// Authenticator; nil lets every request in (tests of the handler
	// alone).
	Authenticator Authenticator
	Version       version.Info
	LiveChecks    []HealthCheck
	ReadyChecks   []HealthCheck
	OpenAPI       OpenAPIInstaller
	Clock         clock.Clock
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
	Gatherer      prometheus.Gatherer
	// MaxRequestBodyBytes caps request bodies (upstream: 3 MiB).
	MaxRequestBodyBytes int64
	// Profiling serves /debug/pprof, as kube-apiserver's --profiling.
	Profiling bool
	// MinWatchTimeout is the lower bound of the random watch lifetime
	// when a client gives no timeoutSeconds (spec I3: 30–60 min).
	MinWatchTimeout time.Duration
	// Kubelet says how pods/log, exec, attach, portforward and
	// nodes/proxy reach the node agents; the zero value reaches them
	// without a client certificate and without verifying them.
	Kubelet KubeletConfig
}

// Server is the HTTP handler.
type Server struct {
	cfg    Config
	codecs serializer.CodecFactory
	reg    *registry.Registry
	// routing is the served resource table as the router and discovery
	// see it, rebuilt whenever custom resources come or go.
	routing atomic.Pointer[routing]
	mux     *http.ServeMux
	metrics *metrics
	log     *slog.Logger
	clock   clock.Clock
	// watchEncodings shares event encodings among watchers.
	watchEncodings *encodeCache
	// fieldManagers record field ownership on writes and serve apply.
	fieldManagers *fieldManagers
}

type groupInfo struct {
	gv        schema.GroupVersion
	resources []*registry.Resource
}

// routing is one snapshot of what is served.
type routing struct {
	// resources routes requests: every served resource, hidden ones too.
	resources map[schema.GroupVersion]map[string]*registry.Resource
	// groups are what discovery lists, groups in table order and each
	// group's versions by Kubernetes version priority.
	groups    []groupInfo
	discovery *discoveryDocs
}

func (s *Server) routes() *routing { return s.routing.Load() }

// rebuildRouting takes a new snapshot of the registry's resources.
func (s *Server) rebuildRouting() {
	rt := &routing{resources: map[schema.GroupVersion]map[string]*registry.Resource{}}
	index := map[schema.GroupVersion]int{}
	for _, res := range s.reg.Resources() {
		gv := res.GVR.GroupVersion()
		if rt.resources[gv] == nil {
			rt.resources[gv] = map[string]*registry.Resource{}
		}
		rt.resources[gv][res.GVR.Resource] = res
		if res.Hidden {
			continue
		}
		i, ok := index[gv]
		if !ok {
			i = len(rt.groups)
			index[gv] = i
			rt.groups = append(rt.groups, groupInfo{gv: gv})
		}
		rt.groups[i].resources = append(rt.groups[i].resources, res)
	}
	sortGroupVersions(rt.groups)
	rt.discovery = buildDiscovery(rt.groups)
	s.routing.Store(rt)
}

// New builds the handler.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil || cfg.Scheme == nil {
		return nil, fmt.Errorf("apiserver: Registry and Scheme are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRequestBodyBytes == 0 {
		cfg.MaxRequestBodyBytes = 3 * 1024 * 1024
	}
	if cfg.MinWatchTimeout == 0 {
		cfg.MinWatchTimeout = 30 * time.Minute
	}
	cfg.Kubelet = withKubeletDefaults(cfg.Kubelet)
	if cfg.Registerer == nil {
		r := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = r, r
	}
	s := &Server{
		cfg:    cfg,
		codecs: serializer.NewCodecFactory(cfg.Scheme, serializer.EnableStrict),
		reg:    cfg.Registry,
		log:    cfg.Logger,
		clock:  cfg.Clock,
		// Enough for a burst of events to reach every watcher of it.
		watchEncodings: newEncodeCache(4096),
	}
	s.fieldManagers = newFieldManagers(cfg.Scheme, cfg.Clock, cfg.Logger)
	// The built-in type converter takes tens of milliseconds: build it
	// while the server starts rather than in its first write.
	go s.fieldManagers.warm()
	s.rebuildRouting()
	cfg.Registry.OnResourcesChanged(func() {
		s.fieldManagers.forgetCustom()
		s.rebuildRouting()
	})
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/version", s.serveVersion)
	s.mux.HandleFunc("/version/", s.serveVersion)
	s.mux.Handle("/healthz", s.healthHandler("healthz", cfg.LiveChecks))
	s.mux.Handle("/healthz/", s.healthHandler("healthz", cfg.LiveChecks))
	s.mux.Handle("/livez", s.healthHandler("livez", cfg.LiveChecks))
	s.mux.Handle("/livez/", s.healthHandler("livez", cfg.LiveChecks))
	s.mux.Handle("/readyz", s.healthHandler("readyz", cfg.ReadyChecks))
	s.mux.Handle("/readyz/", s.healthHandler("readyz", cfg.ReadyChecks))
	s.mux.Handle("/metrics", s.metricsHandler())
	if cfg.Profiling {
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.mux.HandleFunc("/api", s.serveAPIVersions)
	s.mux.HandleFunc("/api/", s.serveAPI)
	s.mux.HandleFunc("/apis", s.serveAPIGroupList)
	s.mux.HandleFunc("/apis/{$}", s.serveAPIGroupList)
	s.mux.HandleFunc("/api/{$}", s.serveAPIVersions)
	s.mux.HandleFunc("/apis/", s.serveAPI)
	s.mux.HandleFunc("/", s.serveNotFound)
	if cfg.OpenAPI != nil {
		if err := cfg.OpenAPI(s.mux); err != nil {
			return nil, fmt.Errorf("installing OpenAPI: %w", err)
		}
	}
	return s, nil
}

// anonymousPaths may be read without credentials, as upstream's
// system:public-info-viewer role allows.
func anonymousPath(p string) bool {
	switch p {
	case "/healthz", "/livez", "/readyz", "/version", "/version/":
		return true
	}
	return strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/")
}

// ServeHTTP runs the filter chain: panic recovery, authentication, metrics
// and then routing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.clock.Now()
	rw := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			if !rw.wroteHeader {
				s.writeError(rw, r, internalError(fmt.Errorf("%v", v)))
			}
		}
		s.metrics.observe(r, rw.code, s.clock.Since(start))
	}()
	if s.cfg.Authenticator != nil {
		// Anonymous requests may read the public paths; a request that
		// presents bad credentials is refused everywhere, as upstream's
		// authenticator chain does.
		_, _, ok := s.cfg.Authenticator.Authenticate(r)
		presented := r.Header.Get("Authorization") != ""
		if !ok && (presented || !anonymousPath(r.URL.Path)) {
			s.writeError(rw, r, unauthorized())
			return
		}
	}
	s.mux.ServeHTTP(rw, r)
}

// statusRecorder remembers the response code for metrics; it keeps
// http.Flusher working for watch streams.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
