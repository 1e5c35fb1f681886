// Package replicaset is the ReplicaSet controller and, with the same code,
// the ReplicationController manager (upstream
// pkg/controller/replicaset/replica_set.go and pkg/controller/replication,
// kube-controller-manager's "replicaset" and "replicationcontroller"
// controllers; issue 6).
//
// For each owner it claims pods (adopting matching orphans, releasing
// owned pods that no longer match, spec D), counts only active pods, so
// that a replacement is created as soon as a pod starts terminating (spec
// G11), creates the missing pods in slow-start batches with the
// controller reference (controller and blockOwnerDeletion true) and
// deletes the extra ones in G11's victim order, at most BurstReplicas per
// sync, with expectations so that a sync does not act twice on what the
// informer has not shown yet. An owner being deleted creates, deletes,
// adopts and releases nothing (G11). It writes status through the status
// subresource (replicas, fullyLabeledReplicas, readyReplicas,
// availableReplicas with minReadySeconds, observedGeneration,
// terminatingReplicas for ReplicaSets, the ReplicaFailure condition) and
// records SuccessfulCreate, SuccessfulDelete, FailedCreate and
// FailedDelete events on the owner.
//
// Deleting an owner takes its pods down through the garbage collector,
// not through this controller: background by default for ReplicaSets,
// orphan by default for ReplicationControllers (spec B7).
//
// Not implemented: upstream's StaleControllerConsistencyReplicaSet
// read-your-writes store (alpha) and the sorting-age metric.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
	"github.com/terminus-project/terminus/internal/controller/runner"
)

// BurstReplicas is how many pods one sync creates or deletes at most
// (upstream BurstReplicas, kube-controller-manager's value).
const BurstReplicas = 500

// DefaultWorkers is kube-controller-manager's --concurrent-replicaset-syncs
// and --concurrent-rc-syncs.
const DefaultWorkers = 5

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client reads and writes owners, pods and events. Required.
	Client kubernetes.Interface
	// Informers provides the owner and pod informers. Required; the caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives expectations, availability (minReadySeconds),
	// condition times, the retry back-off and the event correlator.
	// Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics (terminus_replicaset_* or
	// terminus_replicationcontroller_*). Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of owners synced in parallel. Default
	// DefaultWorkers.
	Workers int
	// BurstReplicas bounds the creates or deletes of one sync. Default
	// BurstReplicas.
	BurstReplicas int
}

// Controller is a ReplicaSet controller or a ReplicationController
// manager.
type Controller struct {
	kind         *kind
	client       kubernetes.Interface
	clock        clock.WithTicker
	log          *slog.Logger
	burst        int
	pods         *podcontrol.PodControl
	expectations *podcontrol.Expectations
	podLister    corelisters.PodLister
	podIndexer   cache.Indexer
	queue        *runner.Queue[string]
	metrics      *metrics
	reg          prometheus.Registerer
	started      sync.Once
}

// New builds the ReplicaSet controller and registers its event handlers
// and indexes; start cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("replicaset: Client and Informers are required")
	}
	return newController(cfg, replicaSets(cfg.Client, cfg.Informers))
}

// NewReplicationManager builds the ReplicationController manager: the
// same controller over ReplicationControllers (upstream
// NewReplicationManager).
func NewReplicationManager(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("replicationcontroller: Client and Informers are required")
	}
	return newController(cfg, replicationControllers(cfg.Client, cfg.Informers))
}

func newController(cfg Config, k *kind) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.BurstReplicas <= 0 {
		cfg.BurstReplicas = BurstReplicas
	}
	log := cfg.Logger.With("controller", k.name)
	podInformer := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		kind:   k,
		client: cfg.Client,
		clock:  cfg.Clock,
		log:    log,
		burst:  cfg.BurstReplicas,
		// Events are discarded until Run starts the broadcaster.
		pods:         &podcontrol.PodControl{Client: cfg.Client, Logger: log},
		expectations: podcontrol.NewExpectations(cfg.Clock),
		podLister:    podInformer.Lister(),
		podIndexer:   podInformer.Informer().GetIndexer(),
		metrics:      newMetrics(k.name),
		reg:          cfg.Registerer,
	}
	queue, err := runner.New(runner.Config[string]{
		Name:         k.name,
		Clock:        cfg.Clock,
		Logger:       log,
		Workers:      cfg.Workers,
		Sync:         c.sync,
		Observe:      func(_ string, err error, _ time.Duration) { c.metrics.observe(err) },
		ErrorMessage: "sync failed, will retry",
		KeyAttrs:     func(key string) []any { return []any{k.gvk.Kind, key} },
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.name, err)
	}
	c.queue = queue
	if err := podcontrol.AddPodControllerIndexer(podInformer.Informer()); err != nil {
		return nil, fmt.Errorf("%s: %w", k.name, err)
	}
	if err := addControllerUIDIndex(k.informer); err != nil {
		return nil, fmt.Errorf("%s: %w", k.name, err)
	}
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	if err := c.queue.Watch(k.informer, cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addOwner,
		UpdateFunc: c.updateOwner,
		DeleteFunc: c.deleteOwner,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	// Every pod change queues its owner: most are status changes, and the
	// sync reads only the caches (upstream's comment).
	if err := c.queue.Watch(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	return c, nil
}

// fail undoes New.
func (c *Controller) fail(err error) error {
	c.queue.Close()
	c.metrics.unregister(c.reg)
	return fmt.Errorf("%s: %w", c.kind.name, err)
}

// Run syncs owners until ctx ends, then stops its goroutines (workers,
// event broadcaster), removes its event handlers and returns nil. It may
// be called once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return fmt.Errorf("%s: %w", c.kind.name, runner.ErrRunTwice)
	}
	// Events go to core/v1 Events (kubectl describe shows them),
	// aggregated by the correlator on the injected clock. The recorder is
	// set before the workers start.
	recorder, stopEvents := runner.StartEvents(c.client, c.clock, c.log, c.kind.component)
	defer stopEvents()
	c.pods.Recorder = recorder
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("%s: %w", c.kind.name, err)
	}
	return nil
}

// keyOf is the queue key of an owner.
func keyOf(rs *appsv1.ReplicaSet) string { return rs.Namespace + "/" + rs.Name }
