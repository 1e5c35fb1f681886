package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// EventSourceComponent is the source component of the GC's events (D12).
const EventSourceComponent = "garbage-collector-controller"

// absentOwnerCacheSize is upstream's LRU size for absent owners (D3).
const absentOwnerCacheSize = 500

// Config holds the garbage collector's dependencies.
type Config struct {
	// Metadata reads, watches, patches and deletes objects of any resource.
	// Required.
	Metadata metadata.Interface
	// Discovery lists the resources to monitor. Required.
	Discovery discovery.DiscoveryInterface
	// Mapper maps owner references' apiVersion and kind to resources. If
	// it implements meta.ResettableRESTMapper it is reset when discovery
	// changes. Default: a deferred discovery mapper over Discovery.
	Mapper meta.RESTMapper
	// Client records events (core v1). Required.
	Client kubernetes.Interface
	// Clock drives queue delays, retries, discovery refresh and event
	// timestamps. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the GC's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the GC's metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of attemptToDelete workers and of
	// attemptToOrphan workers. Default 20 (--concurrent-gc-syncs).
	Workers int
	// ResyncDiscovery is the discovery refresh period. Default 30s (D1).
	ResyncDiscovery time.Duration
	// Ignored resources are never monitored. Nil: v1 and events.k8s.io
	// Events (D1); an empty non-nil slice ignores nothing.
	Ignored []schema.GroupResource
}

// DefaultIgnored are the resources the GC does not monitor by default.
func DefaultIgnored() []schema.GroupResource {
	return []schema.GroupResource{{Group: "", Resource: "events"}, {Group: "events.k8s.io", Resource: "events"}}
}

// Controller is the garbage collector.
type Controller struct {
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	mapper    meta.RESTMapper
	client    kubernetes.Interface
	clock     clock.WithTicker
	log       *slog.Logger
	metrics   *metrics
	workers   int
	resync    time.Duration
	ignored   map[schema.GroupResource]struct{}

	// recorder records the OwnerRefInvalidNamespace events. Run replaces
	// the discarding default with one writing to Client.
	recorder record.EventRecorder

	uidToNode        *uidToNode
	absentOwnerCache *referenceCache
	graphChanges     workqueue.TypedInterface[*event]
	attemptToDelete  workqueue.TypedRateLimitingInterface[*node]
	attemptToOrphan  workqueue.TypedRateLimitingInterface[*node]

	// monitors are guarded by monitorLock.
	monitorLock sync.RWMutex
	monitors    map[schema.GroupVersionResource]*monitor
	monitorWG   sync.WaitGroup
	monitorCtx  context.Context // set by Run; nil until then

	// rediscover asks the discovery loop for an early refresh.
	rediscover chan struct{}
	started    atomic.Bool
}

// New builds a garbage collector. It creates the work queues, whose timers
// run until Run returns: call Run.
func New(cfg Config) (*Controller, error) {
	if cfg.Metadata == nil || cfg.Discovery == nil || cfg.Client == nil {
		return nil, errors.New("garbagecollector: Metadata, Discovery and Client are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 20
	}
	if cfg.ResyncDiscovery <= 0 {
		cfg.ResyncDiscovery = 30 * time.Second
	}
	if cfg.Ignored == nil {
		cfg.Ignored = DefaultIgnored()
	}
	if cfg.Mapper == nil {
		cfg.Mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cfg.Discovery))
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		metadata:         cfg.Metadata,
		discovery:        cfg.Discovery,
		mapper:           cfg.Mapper,
		client:           cfg.Client,
		clock:            cfg.Clock,
		log:              cfg.Logger.With("controller", "garbagecollector"),
		metrics:          m,
		workers:          cfg.Workers,
		resync:           cfg.ResyncDiscovery,
		ignored:          make(map[schema.GroupResource]struct{}, len(cfg.Ignored)),
		recorder:         &record.FakeRecorder{}, // discards until Run
		uidToNode:        newUIDToNode(),
		absentOwnerCache: newReferenceCache(absentOwnerCacheSize),
		graphChanges: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[*event]{
			Name: "garbage_collector_graph_changes", Clock: cfg.Clock,
		}),
		attemptToDelete: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_delete", Clock: cfg.Clock},
		),
		attemptToOrphan: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_orphan", Clock: cfg.Clock},
		),
		monitors:   map[schema.GroupVersionResource]*monitor{},
		rediscover: make(chan struct{}, 1),
	}
	for _, gr := range cfg.Ignored {
		c.ignored[gr] = struct{}{}
	}
	m.controller = c
	return c, nil
}

// Run collects garbage until ctx ends, then stops every goroutine it
// started (informers, graph builder, workers, event broadcaster) and
// returns nil.
func (c *Controller) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("garbagecollector: Run called twice")
	}
	recorder, stopEvents := runner.StartEvents(c.client, c.clock, c.log, EventSourceComponent)
	defer stopEvents()
	c.recorder = recorder

	c.log.Info("starting")
	defer c.log.Info("stopped")

	monitorCtx, stopMonitors := context.WithCancel(ctx)
	c.monitorLock.Lock()
	c.monitorCtx = monitorCtx
	c.monitorLock.Unlock()

	var wg sync.WaitGroup
	defer func() {
		c.graphChanges.ShutDown()
		c.attemptToDelete.ShutDown()
		c.attemptToOrphan.ShutDown()
		stopMonitors()
		c.monitorWG.Wait()
		wg.Wait()
	}()

	wg.Go(func() {
		for c.processGraphChanges() {
		}
	})

	// The first discovery runs here so that the initial wait has monitors
	// to wait for; later ones run in the loop.
	known := c.syncDiscovery(ctx, nil)
	if len(known) == 0 {
		c.requestRediscovery() // retry soon rather than a period later
	}
	wg.Go(func() { c.discoveryLoop(ctx, known) })

	// Like upstream, give the monitors one discovery period to sync, then
	// collect anyway: a broken informer must not stop collection for the
	// others (upstream #60037, #101078). Ready keeps reporting it.
	if !c.waitForSync(ctx, c.resync) {
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("not all resource monitors synced; collecting garbage anyway", "unsynced", c.unsynced())
	}
	c.log.Info("collecting garbage", "workers", c.workers)
	for range c.workers {
		wg.Go(func() {
			for c.processAttemptToDeleteWorker(ctx) {
			}
		})
		wg.Go(func() {
			for c.processAttemptToOrphanWorker(ctx) {
			}
		})
	}
	<-ctx.Done()
	return nil
}

// waitForSync polls the monitors on the clock until all have synced, the
// timeout passes or ctx ends.
func (c *Controller) waitForSync(ctx context.Context, timeout time.Duration) bool {
	deadline := c.clock.After(timeout)
	tick := c.clock.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.Ready() == nil {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline:
			return false
		case <-tick.C():
		}
	}
}

// Ready returns nil once every monitor has synced, and otherwise an error
// naming the resources whose informers have not.
func (c *Controller) Ready() error {
	c.monitorLock.RLock()
	n := len(c.monitors)
	c.monitorLock.RUnlock()
	if n == 0 {
		return errors.New("garbagecollector: no resource monitors yet (discovery has not run)")
	}
	if u := c.unsynced(); len(u) > 0 {
		return fmt.Errorf("garbagecollector: resource monitors not synced: %s", strings.Join(u, ", "))
	}
	return nil
}

// unsynced names the monitors that have not synced, sorted.
func (c *Controller) unsynced() []string {
	c.monitorLock.RLock()
	defer c.monitorLock.RUnlock()
	var out []string
	for gvr, m := range c.monitors {
		if !m.hasSynced() {
			out = append(out, resourceName(gvr))
		}
	}
	sort.Strings(out)
	return out
}

// resourceName renders a resource as "configmaps" or
// "deployments.v1.apps".
func resourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Version + "." + gvr.Group
}
