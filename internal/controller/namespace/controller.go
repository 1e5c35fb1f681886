// Package namespace is the namespace controller (spec E8 to E12; upstream
// kube-controller-manager pkg/controller/namespace). It empties terminating
// namespaces: it deletes their pods first and then every other namespaced
// resource the server discovers, keeps the five deletion conditions in the
// namespace status up to date, and once nothing is left removes the
// "kubernetes" entry of spec.finalizers through PUT .../finalize, which lets
// the API server remove the namespace (E7).
//
// The controller is an API client only: it lists and deletes arbitrary
// resources through the metadata client and learns them from discovery on
// every pass, so custom resources are included.
//
// Like upstream it records no Events.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"github.com/terminus-project/terminus/internal/controller/runner"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Defaults of Config.
const (
	DefaultWorkers      = 10
	DefaultResyncPeriod = 5 * time.Minute
)

// Retry back-off after an error (spec E9).
const (
	retryBaseDelay = 5 * time.Millisecond
	retryMaxDelay  = 60 * time.Second
)

// Config holds the controller's dependencies.
type Config struct {
	// Client reads and writes namespaces and lists pods. Required.
	Client kubernetes.Interface
	// Metadata lists and deletes the content of namespaces. Required.
	Metadata metadata.Interface
	// Discovery gives the preferred namespaced resources (E10 step 4).
	// Required.
	Discovery discovery.DiscoveryInterface
	// Informers provides the namespace informer. Required; the caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives every delay, requeue and retry. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of namespaces processed in parallel.
	// Default DefaultWorkers (E9).
	Workers int
	// DeletionDelay delays the processing of every add or update event of
	// a terminating namespace. Upstream waits 5 s (E9); zero processes at
	// once.
	DeletionDelay time.Duration
	// ResyncPeriod is how often every namespace is looked at again.
	// Default DefaultResyncPeriod.
	ResyncPeriod time.Duration
}

// Controller is a namespace controller.
type Controller struct {
	client    kubernetes.Interface
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	clock     clock.WithTicker
	log       *slog.Logger
	workers   int
	delay     time.Duration
	lister    corelisters.NamespaceLister
	informer  cache.SharedIndexInformer
	handler   cache.ResourceEventHandlerRegistration
	queue     workqueue.TypedRateLimitingInterface[string]
	metrics   *metrics
	started   atomic.Bool
}

// New builds the controller and registers its event handler; start
// cfg.Informers after it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Metadata == nil || cfg.Discovery == nil || cfg.Informers == nil {
		return nil, errors.New("namespace controller: Client, Metadata, Discovery and Informers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = DefaultResyncPeriod
	}
	if cfg.DeletionDelay < 0 {
		return nil, fmt.Errorf("namespace controller: negative DeletionDelay %v", cfg.DeletionDelay)
	}
	nsInformer := cfg.Informers.Core().V1().Namespaces()
	c := &Controller{
		client:    cfg.Client,
		metadata:  cfg.Metadata,
		discovery: cfg.Discovery,
		clock:     cfg.Clock,
		log:       cfg.Logger.With("controller", "namespace"),
		workers:   cfg.Workers,
		delay:     cfg.DeletionDelay,
		lister:    nsInformer.Lister(),
		informer:  nsInformer.Informer(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter[string](
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryBaseDelay, retryMaxDelay),
				// Overall retry speed: 10 per second, bursts of 100.
				runner.NewBucketLimiter(cfg.Clock, 10, 100),
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace", Clock: cfg.Clock},
		),
		metrics: newMetrics(),
	}
	reg, err := c.informer.AddEventHandlerWithResyncPeriod(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	}, cfg.ResyncPeriod)
	if err != nil {
		c.queue.ShutDown()
		return nil, fmt.Errorf("namespace controller: adding the namespace handler: %w", err)
	}
	c.handler = reg
	if err := c.metrics.register(cfg.Registerer); err != nil {
		c.removeHandler()
		c.queue.ShutDown()
		return nil, err
	}
	return c, nil
}

// enqueue queues a terminating namespace after the deletion delay.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil || ns.DeletionTimestamp.IsZero() {
		return
	}
	c.queue.AddAfter(ns.Name, c.delay)
}

// Run processes terminating namespaces until ctx ends, then stops its
// goroutines and returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("namespace controller: Run called twice")
	}
	defer c.removeHandler()
	var wg sync.WaitGroup
	defer func() {
		c.queue.ShutDown()
		wg.Wait()
		c.log.Info("stopped")
	}()
	c.log.Info("starting", "workers", c.workers, "deletionDelay", c.delay)
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
		return nil
	}
	for range c.workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	return nil
}

func (c *Controller) removeHandler() {
	if c.handler == nil {
		return
	}
	if err := c.informer.RemoveEventHandler(c.handler); err != nil {
		c.log.Warn("removing event handler", "err", err)
	}
	c.handler = nil
}

// processNext handles one queued namespace; it returns false once the
// queue is shut down.
func (c *Controller) processNext(ctx context.Context) bool {
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	start := c.clock.Now()
	err := c.syncKey(ctx, name)
	c.metrics.duration.Observe(c.clock.Since(start).Seconds())
	var remaining *remainingError
	switch {
	case err == nil:
		c.metrics.syncs.WithLabelValues("done").Inc()
		c.queue.Forget(name)
	case errors.As(err, &remaining):
		c.metrics.syncs.WithLabelValues("remaining").Inc()
		wait := remaining.requeueAfter()
		c.log.Debug("content remaining in namespace", "namespace", name, "estimateSeconds", remaining.estimate, "wait", wait)
		c.queue.AddAfter(name, wait)
	case ctx.Err() != nil:
		// Shutting down: the failure is ours, not the namespace's.
	default:
		c.metrics.syncs.WithLabelValues("error").Inc()
		c.log.Error("deleting namespace content failed", "namespace", name, "err", err)
		c.queue.AddRateLimited(name)
	}
	return true
}

// syncKey runs a pass for a namespace the informer knows.
func (c *Controller) syncKey(ctx context.Context, name string) error {
	if _, err := c.lister.Get(name); err != nil {
		if apierrors.IsNotFound(err) {
			c.log.Debug("namespace has been deleted", "namespace", name)
			return nil
		}
		return err
	}
	return c.sync(ctx, name)
}

// metrics are the controller's Prometheus metrics.
type metrics struct {
	syncs    *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_namespace_controller_syncs_total",
			Help: "Passes over terminating namespaces, by result (done, remaining, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "terminus_namespace_controller_sync_duration_seconds",
			Help:    "Duration of one pass over a terminating namespace.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
}

// register registers the metrics with reg, if reg is not nil.
func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	if err := reg.Register(m.syncs); err != nil {
		return fmt.Errorf("namespace controller: registering metrics: %w", err)
	}
	if err := reg.Register(m.duration); err != nil {
		reg.Unregister(m.syncs)
		return fmt.Errorf("namespace controller: registering metrics: %w", err)
	}
	return nil
}
