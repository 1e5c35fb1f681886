// Package nodelifecycle is kube-controller-manager's node lifecycle
// controller (upstream pkg/controller/nodelifecycle, "node-lifecycle-
// controller") for what terminus' node agent needs (issue 6):
//
//   - Node health. Every monitor period (5 s) it looks at each Node and its
//     Lease in kube-node-lease. A node that has shown no sign of life (a
//     new Ready heartbeat or a renewed Lease, as seen on the controller's
//     clock) for the grace period (--node-monitor-grace-period, 50 s in
//     v1.37; 60 s after creation for a node that never posted status) gets
//     Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown,
//     reason NodeStatusUnknown, "Kubelet stopped posting node status.";
//     the Lease is read live first, in case the informer lags
//     (NodeControllerLeaseCircuitBreaker, beta and on in v1.37).
//   - NoSchedule taints by condition (TaintNodesByCondition): Ready=False
//     node.kubernetes.io/not-ready, Ready=Unknown node.kubernetes.io/
//     unreachable, the pressure and network conditions, and
//     spec.unschedulable node.kubernetes.io/unschedulable; each removed
//     when its cause goes.
//   - NoExecute taints: not-ready or unreachable (never both) on a node
//     whose Ready is False or Unknown, at --node-eviction-rate per zone,
//     removed when it is Ready again. As upstream, when every zone is
//     fully disrupted (no Ready node at all, as when a one-node cluster's
//     agent stops) the controller enters disruption mode: it removes the
//     NoExecute taints and adds none until some node is Ready again; a
//     partially disrupted small zone gets none either.
//   - Pods on a node that turns NotReady get Ready=False and a NodeNotReady
//     event; the node gets NodeNotReady, RegisteredNode and RemovingNode
//     events.
//
// Not here, as in upstream v1.37 where it is a controller of its own
// (SeparateTaintEvictionController, GA): evicting pods that do not
// tolerate the NoExecute taints (taint-eviction-controller). Spec G12: such
// an eviction is only a graceful DELETE that a dead node never completes;
// podgc finishes pods on out-of-service or deleted nodes (F7).
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Defaults, as kube-controller-manager v1.37 runs the controller
// (pkg/controller/nodelifecycle/config/v1alpha1/defaults.go and
// cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go).
const (
	DefaultMonitorPeriod          = 5 * time.Second
	DefaultGracePeriod            = 50 * time.Second
	DefaultStartupGracePeriod     = 60 * time.Second
	DefaultEvictionRate           = 0.1
	DefaultSecondaryEvictionRate  = 0.01
	DefaultLargeClusterThreshold  = 50
	DefaultUnhealthyZoneThreshold = 0.55
)

// excludeDisruptionLabel keeps a node out of the zone-health counts
// (upstream labelNodeDisruptionExclusion).
const excludeDisruptionLabel = "node.kubernetes.io/exclude-disruption"

// EventSourceComponent is the source of the controller's events.
const EventSourceComponent = "node-controller"

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client updates node status, taints and pod conditions, reads Leases
	// live and records events. Required.
	Client kubernetes.Interface
	// Informers provides the Node, Lease and Pod informers. Required; the
	// caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock paces the monitor passes and the taint rate, and is the time
	// against which nodes are judged. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
	// MonitorPeriod is --node-monitor-period. Default 5 s.
	MonitorPeriod time.Duration
	// GracePeriod is --node-monitor-grace-period. Default 50 s.
	GracePeriod time.Duration
	// StartupGracePeriod is --node-startup-grace-period. Default 60 s.
	StartupGracePeriod time.Duration
	// EvictionRate and SecondaryEvictionRate are --node-eviction-rate and
	// --secondary-node-eviction-rate, in nodes a second per zone, for the
	// NoExecute taints. Defaults 0.1 and 0.01.
	EvictionRate, SecondaryEvictionRate float64
	// LargeClusterThreshold is --large-cluster-size-threshold. Default 50.
	LargeClusterThreshold int
	// UnhealthyZoneThreshold is --unhealthy-zone-threshold. Default 0.55.
	UnhealthyZoneThreshold float64
}

// Controller is a node lifecycle controller.
type Controller struct {
	client      kubernetes.Interface
	clock       clock.WithTicker
	log         *slog.Logger
	metrics     *metrics
	reg         prometheus.Registerer
	nodeLister  corelisters.NodeLister
	leaseLister coordinationlisters.LeaseLister
	podLister   corelisters.PodLister
	synced      []cache.InformerSynced
	// queue runs the NoSchedule tainting pass of a node on its changes.
	queue *runner.Queue[string]

	period, grace, startupGrace time.Duration
	evictionRate, secondaryRate float64
	largeCluster                int
	unhealthyThreshold          float64
	recorder                    record.EventRecorder
	started                     atomic.Bool

	// The monitor goroutine's own state (upstream's knownNodeSet,
	// nodeHealthMap, zoneStates, zoneNoExecuteTainter, nodesToRetry).
	known      map[string]bool
	health     map[string]*health
	zoneStates map[string]zoneState
	tainters   map[string]*tainter
	retry      map[string]bool
	// latest holds, for the pass under way, each node as this pass last
	// wrote or read it: the informer has not seen this pass's own writes
	// yet, and the NoExecute pass must judge the node by its new status.
	latest map[string]*corev1.Node
}

// New builds the controller and registers its event handler; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("nodelifecycle: Client and Informers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MonitorPeriod, DefaultMonitorPeriod)
	def(&cfg.GracePeriod, DefaultGracePeriod)
	def(&cfg.StartupGracePeriod, DefaultStartupGracePeriod)
	if cfg.EvictionRate <= 0 {
		cfg.EvictionRate = DefaultEvictionRate
	}
	if cfg.SecondaryEvictionRate <= 0 {
		cfg.SecondaryEvictionRate = DefaultSecondaryEvictionRate
	}
	if cfg.LargeClusterThreshold <= 0 {
		cfg.LargeClusterThreshold = DefaultLargeClusterThreshold
	}
	if cfg.UnhealthyZoneThreshold <= 0 {
		cfg.UnhealthyZoneThreshold = DefaultUnhealthyZoneThreshold
	}
	nodes := cfg.Informers.Core().V1().Nodes()
	leases := cfg.Informers.Coordination().V1().Leases()
	pods := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:             cfg.Client,
		clock:              cfg.Clock,
		log:                cfg.Logger.With("controller", "nodelifecycle"),
		metrics:            newMetrics(),
		reg:                cfg.Registerer,
		nodeLister:         nodes.Lister(),
		leaseLister:        leases.Lister(),
		podLister:          pods.Lister(),
		synced:             []cache.InformerSynced{nodes.Informer().HasSynced, leases.Informer().HasSynced, pods.Informer().HasSynced},
		period:             cfg.MonitorPeriod,
		grace:              cfg.GracePeriod,
		startupGrace:       cfg.StartupGracePeriod,
		evictionRate:       cfg.EvictionRate,
		secondaryRate:      cfg.SecondaryEvictionRate,
		largeCluster:       cfg.LargeClusterThreshold,
		unhealthyThreshold: cfg.UnhealthyZoneThreshold,
		recorder:           &record.FakeRecorder{},
		known:              map[string]bool{},
		health:             map[string]*health{},
		zoneStates:         map[string]zoneState{},
		tainters:           map[string]*tainter{},
		retry:              map[string]bool{},
	}
	// Upstream runs the NoSchedule pass from a plain work queue with 8
	// workers and no retry (a TODO there); here a failed pass retries
	// with the default controller back-off.
	queue, err := runner.New(runner.Config[string]{
		Name:         "nodelifecycle",
		Clock:        cfg.Clock,
		Logger:       c.log,
		Workers:      8,
		Sync:         c.syncNoSchedule,
		ErrorMessage: "updating NoSchedule taints failed, will retry",
		KeyAttrs:     func(name string) []any { return []any{"node", name} },
		StartAttrs:   []any{"monitorPeriod", c.period, "gracePeriod", c.grace},
	})
	if err != nil {
		return nil, fmt.Errorf("nodelifecycle: %w", err)
	}
	c.queue = queue
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	queueNode := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok {
			c.queue.Add(n.Name)
		}
	}
	if err := c.queue.Watch(nodes.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    queueNode,
		UpdateFunc: func(_, obj any) { queueNode(obj) },
	}, 0); err != nil {
		c.queue.Close()
		c.metrics.unregister(cfg.Registerer)
		return nil, fmt.Errorf("nodelifecycle: %w", err)
	}
	return c, nil
}

// Run monitors nodes until ctx ends, then stops its goroutines (monitor
// loop, taint workers, event broadcaster), removes its event handler and
// returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("nodelifecycle: Run called twice")
	}
	recorder, stopEvents := runner.StartEvents(c.client, c.clock, c.log, EventSourceComponent)
	defer stopEvents()
	c.recorder = recorder

	var wg sync.WaitGroup
	defer wg.Wait()
	monitorCtx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() { c.monitorLoop(monitorCtx) })
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("nodelifecycle: %w", err)
	}
	return nil
}

// monitorLoop makes a monitor pass once the informers have synced, then
// every period, until ctx ends.
func (c *Controller) monitorLoop(ctx context.Context) {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	t := c.clock.NewTicker(c.period)
	defer t.Stop()
	for {
		c.monitor(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// monitor is one pass of upstream's monitorNodeHealth, followed by the
// NoExecute tainting pass (upstream runs that one every 100 ms on its
// own; here it runs right after the rate limiters are set for the pass,
// which paces it by the monitor period).
func (c *Controller) monitor(ctx context.Context) {
	start := c.clock.Now()
	defer func() {
		c.metrics.passes.Inc()
		c.metrics.passDuration.Observe(c.clock.Since(start).Seconds())
	}()
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		c.log.Error("listing nodes", "err", err)
		return
	}
	slices.SortFunc(nodes, func(a, b *corev1.Node) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	c.latest = make(map[string]*corev1.Node, len(nodes))
	present := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		present[n.Name] = true
		c.ensureZone(n)
		if !c.known[n.Name] {
			c.known[n.Name] = true
			c.nodeEvent(n, "RegisteredNode", fmt.Sprintf("Registered Node %v in Controller", n.Name))
			// A node seen for the first time (or after a restart) starts
			// reachable; the pass re-taints it if it is not.
			c.markReachable(ctx, c.node(n))
		}
	}
	for name := range c.known {
		if !present[name] {
			delete(c.known, name)
			delete(c.health, name)
			delete(c.retry, name)
			c.nodeEvent(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, "RemovingNode", fmt.Sprintf("Removing Node %v from Controller", name))
		}
	}
	zoneConditions := map[string][]*corev1.NodeCondition{}
	for _, n := range nodes {
		node, obs, current, ok := c.updateHealth(ctx, c.node(n))
		if !ok {
			continue
		}
		if _, excluded := node.Labels[excludeDisruptionLabel]; !excluded {
			z := zoneKey(node)
			zoneConditions[z] = append(zoneConditions[z], current)
		}
		if current == nil {
			continue
		}
		c.taintBasedEviction(ctx, node, current)
		switch {
		case current.Status != corev1.ConditionTrue && obs.Status == corev1.ConditionTrue:
			// Once, on the transition.
			c.recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: %s", node.Name, "NodeNotReady")
			fallthrough
		case c.retry[node.Name] && obs.Status != corev1.ConditionTrue:
			if err := c.markPodsNotReady(ctx, node.Name); err != nil {
				c.log.Error("marking pods not ready, will retry", "node", node.Name, "err", err)
				c.metrics.errors.WithLabelValues("pods").Inc()
				c.retry[node.Name] = true
				continue
			}
		}
		delete(c.retry, node.Name)
	}
	c.handleDisruption(ctx, zoneConditions, nodes)
	c.noExecuteTaintingPass(ctx)
}

// updateHealth is upstream's tryUpdateNodeHealth: it records the node's
// signs of life and, when it is overdue, writes its conditions as
// Unknown. It returns the node as it now stands, the Ready condition
// observed before and the current one; ok is false when the node is to
// be skipped this pass.
func (c *Controller) updateHealth(ctx context.Context, node *corev1.Node) (*corev1.Node, corev1.NodeCondition, *corev1.NodeCondition, bool) {
	now := c.clock.Now()
	lease, err := c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(node.Name)
	if err != nil {
		lease = nil
	}
	o := observe(node, lease, c.health[node.Name], now, c.grace, c.startupGrace)
	c.health[node.Name] = o.health
	current := o.currentReady
	if !o.overdue(now) {
		return node, o.observedReady, current, true
	}
	if !c.leaseIsCurrent(ctx, node.Name, o.health.lease) {
		return nil, corev1.NodeCondition{}, nil, false
	}
	updated := markUnknown(node, now)
	current = readyCondition(&updated.Status)
	if !apiequality.Semantic.DeepEqual(current, &o.observedReady) {
		saved, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if err != nil {
			// Upstream skips the node too (after retries); the next
			// pass sees the node as it then is.
			c.log.Error("marking node status Unknown", "node", node.Name, "err", err)
			c.metrics.errors.WithLabelValues("status").Inc()
			return nil, corev1.NodeCondition{}, nil, false
		}
		updated = saved
		c.latest[updated.Name] = updated
		current = readyCondition(&updated.Status)
		c.health[node.Name] = &health{status: &updated.Status, probe: o.health.probe, lease: lease}
		c.metrics.unknown.Inc()
		c.log.Info("node stopped posting status; conditions set to Unknown", "node", node.Name,
			"lastSeen", o.health.probe, "grace", o.grace)
	}
	return updated, o.observedReady, current, true
}

// leaseIsCurrent is the NodeControllerLeaseCircuitBreaker check: before
// declaring a node dead, read its Lease live; if it differs from the one
// the informer gave, the cache lags and the node is left for a later
// pass (upstream holds the whole pass; per node is enough here).
func (c *Controller) leaseIsCurrent(ctx context.Context, name string, seen *coordinationv1.Lease) bool {
	live, err := c.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		c.log.Error("reading the node's lease", "node", name, "err", err)
		return false
	}
	rv := ""
	if seen != nil {
		rv = seen.ResourceVersion
	}
	if live.ResourceVersion != rv {
		c.log.Info("lease cache is behind; not judging the node this pass", "node", name, "cached", rv, "live", live.ResourceVersion)
		return false
	}
	return true
}

// taintBasedEviction is upstream's processTaintBaseEviction: a NotReady
// node swaps an unreachable taint for not-ready at once, else waits its
// turn for the not-ready taint (and Unknown the other way round); a Ready
// node loses both.
func (c *Controller) taintBasedEviction(ctx context.Context, node *corev1.Node, ready *corev1.NodeCondition) {
	switch ready.Status {
	case corev1.ConditionFalse:
		if hasTaint(node.Spec.Taints, &unreachableNoExecute) {
			c.swapNoExecute(ctx, node, notReadyNoExecute, unreachableNoExecute)
		} else {
			c.markForTainting(node, corev1.ConditionFalse)
		}
	case corev1.ConditionUnknown:
		if hasTaint(node.Spec.Taints, &notReadyNoExecute) {
			c.swapNoExecute(ctx, node, unreachableNoExecute, notReadyNoExecute)
		} else {
			c.markForTainting(node, corev1.ConditionUnknown)
		}
	case corev1.ConditionTrue:
		if c.markReachable(ctx, node) {
			c.log.Info("node is healthy again; NoExecute taints removed", "node", node.Name)
		}
	}
}

// markForTainting queues node for its NoExecute taint; a node whose taint
// is missing is queued afresh (upstream markNodeForTainting).
func (c *Controller) markForTainting(node *corev1.Node, status corev1.ConditionStatus) {
	t := c.tainters[zoneKey(node)]
	if status == corev1.ConditionFalse && !hasTaint(node.Spec.Taints, &notReadyNoExecute) ||
		status == corev1.ConditionUnknown && !hasTaint(node.Spec.Taints, &unreachableNoExecute) {
		t.remove(node.Name)
	}
	t.add(node.Name)
}

// markReachable removes both NoExecute taints and forgets the node in its
// zone's queue (upstream markNodeAsReachable). It reports whether a taint
// was removed.
func (c *Controller) markReachable(ctx context.Context, node *corev1.Node) bool {
	updated, changed, err := c.updateTaints(ctx, node, nil, []corev1.Taint{unreachableNoExecute, notReadyNoExecute})
	if err != nil {
		c.log.Error("removing NoExecute taints, will retry", "node", node.Name, "err", err)
		return false
	}
	c.latest[node.Name] = updated
	if t := c.tainters[zoneKey(node)]; t != nil {
		t.remove(node.Name)
	}
	return changed
}

func (c *Controller) swapNoExecute(ctx context.Context, node *corev1.Node, add, remove corev1.Taint) bool {
	updated, _, err := c.updateTaints(ctx, node, []corev1.Taint{add}, []corev1.Taint{remove})
	if err != nil {
		c.log.Error("swapping NoExecute taints, will retry", "node", node.Name, "add", add.Key, "err", err)
		return false
	}
	c.latest[node.Name] = updated
	return true
}

// ensureZone gives a newly seen zone its state and taint queue (upstream
// addPodEvictorForNewZone).
func (c *Controller) ensureZone(node *corev1.Node) {
	z := zoneKey(node)
	if _, ok := c.zoneStates[z]; !ok {
		c.zoneStates[z] = stateInitial
	}
	if _, ok := c.tainters[z]; !ok {
		c.tainters[z] = newTainter(c.clock, c.evictionRate)
	}
}

// noExecuteTaintingPass is upstream's doNoExecuteTaintingPass: each zone's
// queued nodes, at its rate, get the NoExecute taint their Ready condition
// calls for, and lose the other one.
func (c *Controller) noExecuteTaintingPass(ctx context.Context) {
	zones := make([]string, 0, len(c.tainters))
	for z := range c.tainters {
		zones = append(zones, z)
	}
	slices.Sort(zones)
	for _, z := range zones {
		c.tainters[z].try(func(name string) bool {
			node := c.latest[name]
			if node == nil {
				var err error
				node, err = c.nodeLister.Get(name)
				if apierrors.IsNotFound(err) {
					return true
				}
				if err != nil {
					return false
				}
			}
			ready := readyCondition(&node.Status)
			if ready == nil {
				return false
			}
			switch ready.Status {
			case corev1.ConditionFalse:
				return c.swapNoExecute(ctx, node, notReadyNoExecute, unreachableNoExecute)
			case corev1.ConditionUnknown:
				return c.swapNoExecute(ctx, node, unreachableNoExecute, notReadyNoExecute)
			}
			return true // Ready again: nothing to taint
		})
	}
}

// handleDisruption is upstream's: it computes each zone's state and sets
// its NoExecute taint rate; when every zone is fully disrupted it removes
// the NoExecute taints from all nodes and stops the tainting (a control
// plane that sees no Ready node at all more likely lost its own network
// than every node); when some node comes back it restarts the probe times
// of all nodes so that none is judged on the time it could not be seen.
func (c *Controller) handleDisruption(ctx context.Context, zoneConditions map[string][]*corev1.NodeCondition, nodes []*corev1.Node) {
	newStates := map[string]zoneState{}
	allAreFullyDisrupted := true
	for z, conds := range zoneConditions {
		unhealthy, s := computeZoneState(conds, c.unhealthyThreshold)
		c.metrics.zoneSize.WithLabelValues(zoneLabel(z)).Set(float64(len(conds)))
		c.metrics.unhealthy.WithLabelValues(zoneLabel(z)).Set(float64(unhealthy))
		if s != stateFullDisruption {
			allAreFullyDisrupted = false
		}
		newStates[z] = s
		if _, ok := c.zoneStates[z]; !ok {
			c.zoneStates[z] = stateInitial
		}
	}
	allWasFullyDisrupted := true
	for z, s := range c.zoneStates {
		if _, ok := zoneConditions[z]; !ok {
			c.metrics.zoneSize.DeleteLabelValues(zoneLabel(z))
			c.metrics.unhealthy.DeleteLabelValues(zoneLabel(z))
			delete(c.zoneStates, z)
			continue
		}
		if s != stateFullDisruption {
			allWasFullyDisrupted = false
		}
	}
	if allAreFullyDisrupted && allWasFullyDisrupted {
		return
	}
	if allAreFullyDisrupted {
		c.log.Info("no node is Ready: entering disruption mode, NoExecute taints removed and stopped")
		for _, n := range nodes {
			c.markReachable(ctx, c.node(n))
		}
		for z := range c.zoneStates {
			c.tainters[z].swap(0)
			c.zoneStates[z] = stateFullDisruption
		}
		return
	}
	if allWasFullyDisrupted {
		c.log.Info("some node is Ready: leaving disruption mode")
		now := c.clock.Now()
		for _, n := range nodes {
			if h := c.health[n.Name]; h != nil {
				h.probe = now
			}
		}
		for z := range c.zoneStates {
			c.setRate(z, len(zoneConditions[z]), newStates[z])
			c.zoneStates[z] = newStates[z]
		}
		return
	}
	for z, s := range c.zoneStates {
		if s == newStates[z] {
			continue
		}
		c.log.Info("zone changed state", "zone", zoneLabel(z), "state", newStates[z])
		c.setRate(z, len(zoneConditions[z]), newStates[z])
		c.zoneStates[z] = newStates[z]
	}
}

// setRate is upstream setLimiterInZone: the normal rate for a normal or
// fully disrupted zone, the secondary rate for a partially disrupted large
// zone and none for a small one.
func (c *Controller) setRate(zone string, size int, s zoneState) {
	t := c.tainters[zone]
	if t == nil {
		return
	}
	switch s {
	case stateNormal, stateFullDisruption:
		t.swap(c.evictionRate)
	case statePartialDisruption:
		if size > c.largeCluster {
			t.swap(c.secondaryRate)
		} else {
			t.swap(0)
		}
	}
}

// syncNoSchedule is upstream's doNoScheduleTaintingPass for one node.
func (c *Controller) syncNoSchedule(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	add, remove := noScheduleDiff(node)
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	_, _, err = c.updateTaints(ctx, node, add, remove)
	return err
}

// node returns the pass's latest version of n.
func (c *Controller) node(n *corev1.Node) *corev1.Node {
	if l := c.latest[n.Name]; l != nil {
		return l
	}
	return n
}
