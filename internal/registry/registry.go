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

// Registry is the set of resource stores.
type Registry struct {
	cfg    Config
	stores map[schema.GroupVersionResource]*Store
	order  []*Store
	log    *slog.Logger
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
	r := &Registry{cfg: cfg, stores: map[schema.GroupVersionResource]*Store{}, log: cfg.Logger}
	codec := json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.Scheme, cfg.Scheme, json.SerializerOptions{})
	for _, res := range cfg.Resources {
		if res.NoStorage {
			continue
		}
		s := &Store{res: res, reg: r, storage: cfg.Storage, codec: codec, clock: cfg.Clock, log: cfg.Logger}
		s.cache = newWatchCache(res, cfg.Storage, s.decodeKV, cfg.Clock, cfg.Logger)
		r.stores[res.GVR] = s
		r.order = append(r.order, s)
	}
	return r, nil
}

// Run feeds every watch cache until ctx ends.
func (r *Registry) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range r.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.cache.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// Synced reports whether every watch cache has its first list. It backs a
// /readyz check.
func (r *Registry) Synced() bool {
	for _, s := range r.order {
		if !s.cache.isSynced() {
			return false
		}
	}
	return true
}

// Store returns the store for a resource.
func (r *Registry) Store(gvr schema.GroupVersionResource) (*Store, bool) {
	s, ok := r.stores[gvr]
	return s, ok
}

// Resources lists the served resources in table order.
func (r *Registry) Resources() []*Resource { return r.cfg.Resources }

func setResourceVersion(obj runtime.Object, rev int64) {
	obj.(metav1.Object).SetResourceVersion(strconv.FormatInt(rev, 10))
}

// WaitSynced blocks until every watch cache has its first list or ctx ends.
func (r *Registry) WaitSynced(ctx context.Context) error {
	for _, s := range r.order {
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
	return nil
}
