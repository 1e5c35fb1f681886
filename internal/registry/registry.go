// Package registry gives each served resource its semantics over the
// storage contract: create, get, list, update, patch, delete and watch with
// Kubernetes' rules for metadata (spec A), optimistic concurrency (J3),
// status subresources, defaults and validation, and a watch cache per
// resource (DESIGN decision 3). It is the only writer of storage.
//
// The registry speaks typed k8s.io/api objects and returns
// k8s.io/apimachinery API errors; the apiserver package does HTTP.
package registry

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/terminus-project/terminus/internal/storage"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/utils/clock"
)

// Config holds the registry's dependencies.
type Config struct {
	Storage   storage.Store
	Scheme    *runtime.Scheme
	Resources []*Resource
	// Clock supplies every server-side time (DESIGN decision 4).
	Clock  clock.WithTicker
	Logger *slog.Logger
}

// Registry is the set of resource stores: the built-in ones, fixed at New,
// and those of custom resources, which come and go with their
// CustomResourceDefinitions while the registry runs (custom.go).
type Registry struct {
	cfg   Config
	codec *json.Serializer
	log   *slog.Logger
	// builtin are the built-in stores in table order; Run feeds their
	// watch caches and readiness waits for them.
	builtin []*Store

	mu sync.RWMutex
	// stores maps every served resource to its store; custom entries
	// are replaced when their CRD changes (copy on write: a request
	// keeps the store it looked up).
	stores map[schema.GroupVersionResource]*Store
	// resources is the served table, built-in first; replaced, never
	// changed in place.
	resources []*Resource
	// custom holds what each CRD (by name) serves.
	custom map[string]*customSet
	// runCtx is Run's context: custom watch caches run under it.
	runCtx context.Context
	// listeners are told when the served resources change.
	listeners []func()
	// customCaches counts running custom watch caches; Run waits for
	// them.
	customCaches sync.WaitGroup
	// customSynced is closed once the CRDs stored at start are served.
	customSynced   chan struct{}
	customSyncOnce sync.Once
}

// New builds a store per resource. Run starts their watch caches.
func New(cfg Config) (*Registry, error) {
	if cfg.Storage == nil || cfg.Scheme == nil {
		return nil, fmt.Errorf("registry: Storage and Scheme are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg: cfg, stores: map[schema.GroupVersionResource]*Store{}, log: cfg.Logger,
		codec:     json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.Scheme, cfg.Scheme, json.SerializerOptions{}),
		resources: cfg.Resources,
		custom:    map[string]*customSet{},
		// Without a CRD resource there is nothing to wait for.
		customSynced: make(chan struct{}),
	}
	for _, res := range cfg.Resources {
		if res.NoStorage {
			continue
		}
		s := r.newStore(res)
		r.stores[res.GVR] = s
		r.builtin = append(r.builtin, s)
	}
	if _, ok := r.stores[CRDResource]; !ok {
		r.customSyncOnce.Do(func() { close(r.customSynced) })
	}
	return r, nil
}

func (r *Registry) newStore(res *Resource) *Store {
	s := &Store{res: res, reg: r, storage: r.cfg.Storage, codec: r.codec, clock: r.cfg.Clock, log: r.cfg.Logger}
	s.cache = newWatchCache(res, r.cfg.Storage, s.decodeKV, r.cfg.Clock, r.cfg.Logger)
	return s
}

// Run feeds every watch cache, and serves custom resources as their CRDs
// come and go, until ctx ends.
func (r *Registry) Run(ctx context.Context) error {
	r.mu.Lock()
	r.runCtx = ctx
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range r.builtin {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.cache.run(ctx)
		}()
	}
	if _, ok := r.Store(CRDResource); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runCustomResources(ctx)
		}()
	}
	wg.Wait()
	r.stopAllCustom()
	r.customCaches.Wait()
	return nil
}

// Synced reports whether every watch cache has its first list. It backs a
// /readyz check.
func (r *Registry) Synced() bool {
	for _, s := range r.builtin {
		if !s.cache.isSynced() {
			return false
		}
	}
	select {
	case <-r.customSynced:
		return true
	default:
		return false
	}
}

// Store returns the store for a resource.
func (r *Registry) Store(gvr schema.GroupVersionResource) (*Store, bool) {
	r.mu.RLock()
	s, ok := r.stores[gvr]
	r.mu.RUnlock()
	return s, ok
}

// Resources lists the served resources: the built-in table, then custom
// resources by CRD name and version. The slice is shared: do not modify.
func (r *Registry) Resources() []*Resource {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.resources
}

// OnResourcesChanged registers f to be called, without locks held, after
// the served resources change (a CRD established, updated or gone). The
// apiserver rebuilds routing, discovery and OpenAPI from it.
func (r *Registry) OnResourcesChanged(f func()) {
	r.mu.Lock()
	r.listeners = append(r.listeners, f)
	r.mu.Unlock()
}

func setResourceVersion(obj runtime.Object, rev int64) {
	obj.(metav1.Object).SetResourceVersion(strconv.FormatInt(rev, 10))
}

// WaitSynced blocks until every watch cache has its first list, and the
// custom resources of the CRDs stored at start are served, or ctx ends.
func (r *Registry) WaitSynced(ctx context.Context) error {
	for _, s := range r.builtin {
		for {
			s.cache.mu.RLock()
			synced, ch := s.cache.synced, s.cache.advanced
			s.cache.mu.RUnlock()
			if synced {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ch:
			}
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.customSynced:
		return nil
	}
}
