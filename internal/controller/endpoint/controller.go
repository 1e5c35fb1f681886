// Package endpoint is the legacy Endpoints controller (upstream
// pkg/controller/endpoint, kube-controller-manager's "endpoint"
// controller; issue 6).
//
// For each Service with a selector (not ExternalName) it keeps the core/v1
// Endpoints object of the same name: the matching pods of its namespace
// as subsets of addresses (ready pods) and notReadyAddresses (pods not
// ready), ports resolved against named container ports, labels copied
// from the service (plus service.kubernetes.io/headless for a headless
// service) and endpoints.kubernetes.io/last-change-trigger-time. Spec G10:
// terminal pods and pods without an IP are dropped, and so are
// terminating pods unless the service sets publishNotReadyAddresses (then
// every pod is a ready address). Deleting the service deletes its
// Endpoints. As upstream, a service without a selector is left alone: its
// Endpoints are the user's.
//
// Not implemented: the 1000-address truncation and its
// endpoints.kubernetes.io/over-capacity annotation.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/endpointutil"
	"github.com/terminus-project/terminus/internal/controller/runner"
)

// DefaultWorkers is kube-controller-manager's default
// --concurrent-endpoint-syncs.
const DefaultWorkers = 5

// staleRetry is how soon a sync that found the Endpoints cache behind
// this controller's write runs again.
const staleRetry = 100 * time.Millisecond

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client writes Endpoints. Required.
	Client kubernetes.Interface
	// Informers provides the service, pod and Endpoints informers.
	// Required; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives the queue's delays and retries. Default: the real
	// clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the terminus_endpoint_* metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of services synced in parallel. Default
	// DefaultWorkers.
	Workers int
}

// Controller is the Endpoints controller.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	triggers  *endpointutil.TriggerTimeTracker
	queue     *runner.Queue[string]
	log       *slog.Logger
	syncs     prometheus.Counter
	errs      prometheus.Counter
	writes    *prometheus.CounterVec
	started   sync.Once

	mu sync.Mutex
	// written is the resourceVersion of each Endpoints this controller
	// last wrote (upstream staleEndpointsTracker): a cached copy older
	// than it must not be acted on.
	written map[string]string
}

// New builds the controller and registers its event handlers; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpoint: Client and Informers are required")
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
	log := cfg.Logger.With("controller", "endpoint")
	svcInf := cfg.Informers.Core().V1().Services()
	podInf := cfg.Informers.Core().V1().Pods()
	epInf := cfg.Informers.Core().V1().Endpoints()
	c := &Controller{
		client:    cfg.Client,
		services:  svcInf.Lister(),
		pods:      podInf.Lister(),
		endpoints: epInf.Lister(),
		triggers:  endpointutil.NewTriggerTimeTracker(),
		log:       log,
		written:   map[string]string{},
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_endpoint_syncs_total", Help: "Service syncs, successful or not."}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_endpoint_sync_errors_total", Help: "Service syncs that failed and were queued for a retry."}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_endpoint_changes_total",
			Help: "Endpoints writes, by operation (create, update, delete) and result (success, error)."},
			[]string{"operation", "result"}),
	}
	queue, err := runner.New(runner.Config[string]{
		Name:    "endpoint",
		Clock:   cfg.Clock,
		Logger:  log,
		Workers: cfg.Workers,
		Sync:    c.sync,
		Observe: func(_ string, err error, _ time.Duration) {
			c.syncs.Inc()
			var s staleError
			if err != nil && !errors.As(err, &s) {
				c.errs.Inc()
			}
		},
		KeyAttrs: func(key string) []any { return []any{"service", key} },
	})
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	c.queue = queue
	collectors := []prometheus.Collector{c.syncs, c.errs, c.writes}
	if err := runner.Register(cfg.Registerer, collectors...); err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	queueSvc := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if m, err := meta(obj); err == nil {
			c.queue.Add(m)
		}
	}
	podKeys := func(obj any) {
		if pod, ok := runner.Unwrap[*corev1.Pod](obj); ok {
			c.queueKeys(endpointutil.ServicesSelecting(c.services, pod))
		}
	}
	watches := []struct {
		inf runner.Informer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: queueSvc, UpdateFunc: func(_, o any) { queueSvc(o) }, DeleteFunc: queueSvc}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: podKeys, DeleteFunc: podKeys, UpdateFunc: func(o, n any) {
			old, ok1 := o.(*corev1.Pod)
			cur, ok2 := n.(*corev1.Pod)
			if ok1 && ok2 {
				c.queueKeys(endpointutil.ServicesToUpdate(c.services, old, cur))
			}
		}}},
		// Endpoints deleted by someone else are recreated (upstream
		// onEndpointsDelete).
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: queueSvc}},
	}
	for _, w := range watches {
		if err := c.queue.Watch(w.inf, w.h, 0); err != nil {
			c.queue.Close()
			runner.Unregister(cfg.Registerer, collectors...)
			return nil, fmt.Errorf("endpoint: %w", err)
		}
	}
	return c, nil
}

func meta(obj any) (string, error) { return cache.MetaNamespaceKeyFunc(obj) }

func (c *Controller) queueKeys(keys []string, err error) {
	if err != nil {
		c.log.Warn("finding the services of a pod", "err", err)
	}
	for _, k := range keys {
		c.queue.Add(k)
	}
}

// Run syncs services until ctx ends, then stops its workers, removes its
// event handlers and returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return fmt.Errorf("endpoint: %w", runner.ErrRunTwice)
	}
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	return nil
}

// staleError: the cached Endpoints is older than this controller's last
// write; a wait, not a failure (runner.Requeuer).
type staleError struct{ key string }

func (e staleError) Error() string {
	return "Endpoints cache of " + e.key + " is older than this controller's write"
}

func (staleError) RequeueAfter() time.Duration { return staleRetry }

func (c *Controller) count(op string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	c.writes.WithLabelValues(op, result).Inc()
}

// sync brings one service's Endpoints in line (upstream syncService).
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", key, err)
	}
	svc, err := c.services.Services(namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		c.triggers.Forget(namespace, name)
		c.setWritten(key, "")
		err := c.client.CoreV1().Endpoints(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		c.count("delete", err)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting Endpoints %s: %w", key, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading service: %w", err)
	}
	if !endpointutil.HasSelector(svc) {
		return nil
	}
	pods, err := c.pods.Pods(namespace).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	trigger := c.triggers.Compute(svc, pods)
	subsets := subsetsFor(svc, pods)

	current, err := c.endpoints.Endpoints(namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Endpoints: %w", err)
	}
	exists := err == nil
	if exists && c.stale(key, current) {
		return staleError{key: key}
	}
	want := maps.Clone(svc.Labels)
	if want == nil {
		want = map[string]string{}
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		want[corev1.IsHeadlessService] = ""
	} else {
		delete(want, corev1.IsHeadlessService)
	}
	if exists && apiequality.Semantic.DeepEqual(current.Subsets, subsets) && maps.Equal(current.Labels, want) {
		return nil
	}
	var ep *corev1.Endpoints
	if exists {
		ep = current.DeepCopy()
	} else {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	}
	ep.Subsets, ep.Labels = subsets, want
	ep.Annotations = endpointutil.SetTriggerTime(ep.Annotations, trigger)
	var written *corev1.Endpoints
	if exists {
		written, err = c.client.CoreV1().Endpoints(namespace).Update(ctx, ep, metav1.UpdateOptions{})
		c.count("update", err)
	} else {
		if svc.DeletionTimestamp != nil {
			return nil
		}
		written, err = c.client.CoreV1().Endpoints(namespace).Create(ctx, ep, metav1.CreateOptions{})
		c.count("create", err)
		if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("writing Endpoints %s: %w", key, err)
	}
	c.setWritten(key, written.ResourceVersion)
	return nil
}

func (c *Controller) setWritten(key, rv string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rv == "" {
		delete(c.written, key)
		return
	}
	c.written[key] = rv
}

// stale reports whether cached is older than the last write; versions
// that are not numbers (not a terminus or etcd server) are never stale.
func (c *Controller) stale(key string, cached *corev1.Endpoints) bool {
	c.mu.Lock()
	w, ok := c.written[key]
	c.mu.Unlock()
	if !ok {
		return false
	}
	wv, err1 := strconv.ParseInt(w, 10, 64)
	cv, err2 := strconv.ParseInt(cached.ResourceVersion, 10, 64)
	return err1 == nil && err2 == nil && cv < wv
}
