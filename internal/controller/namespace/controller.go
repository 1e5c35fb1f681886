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
	"log/slog"
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
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Defaults of Config.
const (
	DefaultWorkers      = 10
	DefaultResyncPeriod = 5 * time.Minute
)

// retryMaxDelay caps the back-off after an error (spec E9); it starts at
// runner.DefaultRetryBaseDelay, 5 ms, and retries overall run at 10 a
// second in bursts of 100.
const retryMaxDelay = 60 * time.Second

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
	delay     time.Duration
	lister    corelisters.NamespaceLister
	queue     *runner.Queue[string]
	metrics   *metrics
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
		delay:     cfg.DeletionDelay,
		lister:    nsInformer.Lister(),
		metrics:   newMetrics(),
	}
	queue, err := runner.New(runner.Config[string]{
		Name:          "namespace",
		Clock:         cfg.Clock,
		Logger:        c.log,
		Workers:       cfg.Workers,
		RetryMaxDelay: retryMaxDelay,
		Sync:          c.syncKey,
		Observe:       c.observe,
		ErrorMessage:  "deleting namespace content failed",
		KeyAttrs:      func(name string) []any { return []any{"namespace", name} },
		StartAttrs:    []any{"deletionDelay", cfg.DeletionDelay},
	})
	if err != nil {
		return nil, fmt.Errorf("namespace controller: %w", err)
	}
	c.queue = queue
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	// The handler is added here, before the caller starts the informer,
	// for its resync period to take effect.
	if err := c.queue.Watch(nsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	}, cfg.ResyncPeriod); err != nil {
		c.metrics.unregister(cfg.Registerer)
		return nil, fmt.Errorf("namespace controller: %w", err)
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
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("namespace controller: %w", err)
	}
	return nil
}

// observe counts a pass; a pass that left content is a wait, not an error
// (spec E9).
func (c *Controller) observe(name string, err error, took time.Duration) {
	c.metrics.duration.Observe(took.Seconds())
	var remaining *remainingError
	switch {
	case err == nil:
		c.metrics.syncs.WithLabelValues("done").Inc()
	case errors.As(err, &remaining):
		c.metrics.syncs.WithLabelValues("remaining").Inc()
		c.log.Debug("content remaining in namespace", "namespace", name, "estimateSeconds", remaining.estimate, "wait", remaining.RequeueAfter())
	default:
		c.metrics.syncs.WithLabelValues("error").Inc()
	}
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
	if err := runner.Register(reg, m.syncs, m.duration); err != nil {
		return fmt.Errorf("namespace controller: %w", err)
	}
	return nil
}

// unregister undoes register.
func (m *metrics) unregister(reg prometheus.Registerer) {
	runner.Unregister(reg, m.syncs, m.duration)
}
