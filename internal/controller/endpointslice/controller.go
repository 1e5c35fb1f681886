// Package endpointslice is the EndpointSlice controller (upstream
// pkg/controller/endpointslice with k8s.io/endpointslice's reconciler,
// kube-controller-manager's "endpointslice" controller; issue 6).
//
// For each Service with a selector (not ExternalName) it keeps the
// discovery.k8s.io/v1 EndpointSlices of the pods the selector matches in
// the service's namespace: one set of slices per address type (the
// service's IP families) and per port mapping (the service's targetPorts
// resolved against each pod's named container ports), at most
// MaxEndpointsPerSlice endpoints each, named "<service>-<random>",
// labelled kubernetes.io/service-name and endpointslice.kubernetes.io/
// managed-by=endpointslice-controller.k8s.io, controlled by the service
// (blockOwnerDeletion). An endpoint carries the pod's addresses, target
// reference, node and the node's topology zone, and the conditions of spec
// G10: a terminating pod stays with terminating: true, serving = its Ready
// condition and ready: false (true only with publishNotReadyAddresses);
// terminal pods and pods without an IP are dropped. A service without
// endpoints keeps one empty placeholder slice. Writes are minimal: a slice
// whose endpoints and labels are unchanged is not written; new endpoints
// fill slices that are written anyway. Created and updated slices carry
// endpoints.kubernetes.io/last-change-trigger-time.
//
// A tracker of the versions this controller wrote (upstream
// EndpointSliceTracker) keeps a sync from acting on a slice cache older
// than its own writes: such a sync waits and retries.
//
// Departures from upstream: a service that is deleted, loses its selector
// or becomes ExternalName has its managed slices deleted here (upstream
// leaves the last ones to the garbage collector, or forever); a service
// with neither ipFamilies nor a clusterIP gets IPv4 slices only (see
// addressTypes). Not implemented: topology hints, the
// trafficDistribution field, and resyncs on node zone changes.
package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/endpointutil"
	"github.com/terminus-project/terminus/internal/controller/runner"
)

// ControllerName is the managed-by label value of the slices this
// controller owns (upstream's, so that tools recognise them).
const ControllerName = "endpointslice-controller.k8s.io"

// MaxEndpointsPerSlice is kube-controller-manager's default
// --max-endpoints-per-slice.
const MaxEndpointsPerSlice = 100

// DefaultWorkers is kube-controller-manager's default
// --concurrent-service-endpoint-syncs.
const DefaultWorkers = 5

// sliceChangeDelay batches the syncs that slice events cause (upstream
// endpointSliceChangeMinSyncDelay).
const sliceChangeDelay = time.Second

// staleRetry is how soon a sync that found the slice cache behind this
// controller's writes runs again; the informer is usually milliseconds
// behind.
const staleRetry = 100 * time.Millisecond

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client writes EndpointSlices. Required.
	Client kubernetes.Interface
	// Informers provides the service, pod, node and EndpointSlice
	// informers. Required; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives the queue's delays and retries. Default: the real
	// clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the terminus_endpointslice_* metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of services synced in parallel. Default
	// DefaultWorkers.
	Workers int
	// MaxEndpointsPerSlice bounds a slice. Default MaxEndpointsPerSlice.
	MaxEndpointsPerSlice int
}

// Controller is the EndpointSlice controller.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	// sliceIndexer is the slice cache (step tests fill it).
	sliceIndexer cache.Indexer
	planner      *planner
	tracker      *tracker
	triggers     *endpointutil.TriggerTimeTracker
	queue        *runner.Queue[string]
	metrics      *metrics
	reg          prometheus.Registerer
	started      sync.Once
}

// New builds the controller and registers its event handlers; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpointslice: Client and Informers are required")
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
	if cfg.MaxEndpointsPerSlice <= 0 {
		cfg.MaxEndpointsPerSlice = MaxEndpointsPerSlice
	}
	log := cfg.Logger.With("controller", "endpointslice")
	svcInf := cfg.Informers.Core().V1().Services()
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	sliceInf := cfg.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:       cfg.Client,
		log:          log,
		services:     svcInf.Lister(),
		pods:         podInf.Lister(),
		nodes:        nodeInf.Lister(),
		slices:       sliceInf.Lister(),
		sliceIndexer: sliceInf.Informer().GetIndexer(),
		tracker:      newTracker(),
		triggers:     endpointutil.NewTriggerTimeTracker(),
		metrics:      newMetrics(),
		reg:          cfg.Registerer,
	}
	c.planner = &planner{maxPerSlice: cfg.MaxEndpointsPerSlice, nodes: c.nodes.Get}
	queue, err := runner.New(runner.Config[string]{
		Name:         "endpointslice",
		Clock:        cfg.Clock,
		Logger:       log,
		Workers:      cfg.Workers,
		Sync:         c.sync,
		Observe:      func(_ string, err error, _ time.Duration) { c.metrics.observe(err) },
		ErrorMessage: "sync failed, will retry",
		KeyAttrs:     func(key string) []any { return []any{"service", key} },
	})
	if err != nil {
		return nil, fmt.Errorf("endpointslice: %w", err)
	}
	c.queue = queue
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	watches := []struct {
		inf runner.Informer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.queueService,
			UpdateFunc: func(_, cur any) { c.queueService(cur) },
			DeleteFunc: c.queueService,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addPod,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.deletePod,
		}},
		// Nodes are only read (the zone); the watch makes Run wait for
		// their cache.
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onSliceAdd,
			UpdateFunc: c.onSliceUpdate,
			DeleteFunc: c.onSliceDelete,
		}},
	}
	for _, w := range watches {
		if err := c.queue.Watch(w.inf, w.h, 0); err != nil {
			c.queue.Close()
			c.metrics.unregister(c.reg)
			return nil, fmt.Errorf("endpointslice: %w", err)
		}
	}
	return c, nil
}

// Run syncs services until ctx ends, then stops its workers, removes its
// event handlers and returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return fmt.Errorf("endpointslice: %w", runner.ErrRunTwice)
	}
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("endpointslice: %w", err)
	}
	return nil
}

// staleError is a sync that found the slice cache behind this
// controller's writes: a wait, not a failure (runner.Requeuer).
type staleError struct{ service string }

func (e staleError) Error() string {
	return "EndpointSlice cache of service " + e.service + " is older than this controller's writes"
}

func (staleError) RequeueAfter() time.Duration { return staleRetry }

func isStale(err error) bool {
	var s staleError
	return errors.As(err, &s)
}

// sync brings one service's slices in line (upstream syncService).
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", key, err)
	}
	managed, err := c.slices.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}))
	if err != nil {
		return fmt.Errorf("listing EndpointSlices: %w", err)
	}
	svc, err := c.services.Services(namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		// The garbage collector takes the slices too (ownerReference);
		// deleting them here makes the endpoints go at once.
		c.triggers.Forget(namespace, name)
		if err := c.deleteAll(ctx, managed); err != nil {
			return err
		}
		c.tracker.forget(key)
		return nil
	case err != nil:
		return fmt.Errorf("reading service: %w", err)
	}
	if !endpointutil.HasSelector(svc) {
		// Its endpoints are someone else's (slices written through the
		// API); ours would be stale.
		return c.deleteAll(ctx, managed)
	}
	// Slices being deleted are the garbage collector's; counting them
	// would stall the controller.
	live := managed[:0:0]
	for _, s := range managed {
		if s.DeletionTimestamp == nil {
			live = append(live, s)
		}
	}
	if c.tracker.stale(key, live) {
		return staleError{service: key}
	}
	pods, err := c.pods.Pods(namespace).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	trigger := c.triggers.Compute(svc, pods)
	pl, skipped := c.planner.plan(svc, pods, live)
	if err := c.apply(ctx, svc, pl, trigger); err != nil {
		return errors.Join(err, skipped)
	}
	return skipped
}

// deleteAll deletes slices (all of one service).
func (c *Controller) deleteAll(ctx context.Context, slices []*discoveryv1.EndpointSlice) error {
	var errs []error
	for _, s := range slices {
		if s.DeletionTimestamp != nil {
			continue
		}
		if err := c.deleteSlice(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// The event handlers follow upstream endpointslice_controller.go.

func (c *Controller) queueService(obj any) {
	if svc, ok := runner.Unwrap[*corev1.Service](obj); ok {
		c.queue.Add(svc.Namespace + "/" + svc.Name)
	}
}

func (c *Controller) queueKeys(keys []string, err error) {
	if err != nil {
		c.log.Warn("finding the services of a pod", "err", err)
	}
	for _, k := range keys {
		c.queue.Add(k)
	}
}

func (c *Controller) addPod(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		c.queueKeys(endpointutil.ServicesSelecting(c.services, pod))
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, okOld := oldObj.(*corev1.Pod)
	cur, okCur := newObj.(*corev1.Pod)
	if okOld && okCur {
		c.queueKeys(endpointutil.ServicesToUpdate(c.services, old, cur))
	}
}

func (c *Controller) deletePod(obj any) {
	if pod, ok := runner.Unwrap[*corev1.Pod](obj); ok {
		c.queueKeys(endpointutil.ServicesSelecting(c.services, pod))
	}
}

// managedSlice returns obj as a slice this controller manages, or nil.
func managedSlice(obj any) *discoveryv1.EndpointSlice {
	s, ok := runner.Unwrap[*discoveryv1.EndpointSlice](obj)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != ControllerName || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil
	}
	return s
}

// queueSliceService queues the service of a slice, after a short delay
// that batches slice events.
func (c *Controller) queueSliceService(s *discoveryv1.EndpointSlice) {
	c.queue.AddAfter(serviceOf(s), sliceChangeDelay)
}

// onSliceAdd: a managed slice this controller did not write (or newer than
// its write) is someone else's change, to be undone.
func (c *Controller) onSliceAdd(obj any) {
	if s := managedSlice(obj); s != nil && c.tracker.shouldSync(s) {
		c.queueSliceService(s)
	}
}

func (c *Controller) onSliceUpdate(oldObj, newObj any) {
	old, okOld := oldObj.(*discoveryv1.EndpointSlice)
	cur, okCur := newObj.(*discoveryv1.EndpointSlice)
	if !okOld || !okCur || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	// Someone moved the slice to another service, or took it from or
	// gave it to this controller: both services sync.
	if old.Labels[discoveryv1.LabelServiceName] != cur.Labels[discoveryv1.LabelServiceName] ||
		old.Labels[discoveryv1.LabelManagedBy] != cur.Labels[discoveryv1.LabelManagedBy] {
		if s := managedSlice(old); s != nil {
			c.queueSliceService(s)
		}
		if s := managedSlice(cur); s != nil {
			c.queueSliceService(s)
		}
		return
	}
	if s := managedSlice(cur); s != nil && c.tracker.shouldSync(s) {
		c.queueSliceService(s)
	}
}

// onSliceDelete: a managed slice deleted by someone else is recreated.
func (c *Controller) onSliceDelete(obj any) {
	s := managedSlice(obj)
	if s != nil && c.tracker.has(s) && !c.tracker.handleDeletion(s) {
		c.queueSliceService(s)
	}
}
