// Package podgc is the pod garbage collector (spec F7, G12; upstream
// pkg/controller/podgc). Every period (20 s by default, on the injected
// clock) it force-deletes, with a grace of 0:
//
//   - terminated pods (Succeeded or Failed) beyond TerminatedPodThreshold,
//     evicted first, then oldest first;
//   - terminating pods on NotReady nodes tainted
//     node.kubernetes.io/out-of-service;
//   - pods bound to nodes whose Node object is gone, after a quarantine
//     (40 s) and a live GET of the node; they get condition
//     DisruptionTarget=True (DeletionByPodGC) first;
//   - terminating pods that were never scheduled.
//
// A pod that is not yet Succeeded or Failed is first patched to phase
// Failed, since no kubelet will ever set its final phase.
package podgc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Defaults, as kube-controller-manager runs podgc.
const (
	DefaultPeriod                 = 20 * time.Second
	DefaultQuarantine             = 40 * time.Second
	DefaultTerminatedPodThreshold = 12500
	DefaultWorkers                = 10
)

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client talks to the API server. Required.
	Client kubernetes.Interface
	// Informers provides the pod and node informers. Required; the caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// Clock paces the passes and the quarantine and stamps conditions.
	// Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers bounds the deletions in flight within one pass. Default 10.
	Workers int
	// Period is the time between passes. Default 20 s.
	Period time.Duration
	// Quarantine is how long a node must be missing from the informer
	// before a live GET decides that its pods are orphaned. Default 40 s.
	Quarantine time.Duration
	// TerminatedPodThreshold is the number of terminated pods kept
	// (--terminated-pod-gc-threshold). 0 means the default, 12500; a
	// negative value turns the terminated-pod collection off.
	TerminatedPodThreshold int
}

// Controller is a pod garbage collector.
type Controller struct {
	client     kubernetes.Interface
	clock      clock.WithTicker
	log        *slog.Logger
	workers    int
	period     time.Duration
	quarantine time.Duration
	threshold  int
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	metrics    *metrics
	started    atomic.Bool

	// quarantined maps a missing node's name to when a pass first saw it
	// missing. Only the pass goroutine uses it.
	quarantined map[string]time.Time
}

// New builds the controller; it starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("podgc: Client and Informers are required")
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
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = DefaultQuarantine
	}
	if cfg.TerminatedPodThreshold == 0 {
		cfg.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	pods := cfg.Informers.Core().V1().Pods()
	nodes := cfg.Informers.Core().V1().Nodes()
	c := &Controller{
		client:      cfg.Client,
		clock:       cfg.Clock,
		log:         cfg.Logger.With("controller", "podgc"),
		workers:     cfg.Workers,
		period:      cfg.Period,
		quarantine:  cfg.Quarantine,
		threshold:   cfg.TerminatedPodThreshold,
		podLister:   pods.Lister(),
		nodeLister:  nodes.Lister(),
		synced:      []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		metrics:     newMetrics(),
		quarantined: map[string]time.Time{},
	}
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	return c, nil
}

// Run makes a pass at once and then every period until ctx ends, then
// returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("podgc: Run called twice")
	}
	c.log.Info("starting", "period", c.period, "quarantine", c.quarantine, "terminatedPodThreshold", c.threshold)
	defer c.log.Info("stopped")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	ticker := c.clock.NewTicker(c.period)
	defer ticker.Stop()
	for {
		c.pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		}
	}
}

// pass runs the four collections of spec F7 over one informer snapshot,
// in upstream's order. A pod is handled at most once per pass.
func (c *Controller) pass(ctx context.Context) {
	defer c.metrics.passes.Inc()
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		c.log.Error("listing pods", "err", err)
		return
	}
	nodeList, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		c.log.Error("listing nodes", "err", err)
		return
	}
	nodes := make(map[string]*corev1.Node, len(nodeList))
	for _, n := range nodeList {
		nodes[n.Name] = n
	}
	handled := map[types.UID]bool{}
	c.deleteAll(ctx, reasonTerminated, terminatedOverThreshold(pods, c.threshold), nil, handled)
	c.deleteAll(ctx, reasonOutOfService, terminatingOutOfService(pods, nodes), nil, handled)
	c.deleteAll(ctx, reasonOrphaned, onNodes(pods, c.deletedNodes(ctx, pods, nodes)), &corev1.PodCondition{
		Type:    corev1.DisruptionTarget,
		Status:  corev1.ConditionTrue,
		Reason:  "DeletionByPodGC",
		Message: "PodGC: node no longer exists",
	}, handled)
	c.deleteAll(ctx, reasonTerminatingUnscheduled, unscheduledTerminating(pods), nil, handled)
}

// deletedNodes returns the nodes that pods are bound to and that have been
// missing from the informer for the quarantine and are confirmed gone by a
// live GET. A node that was checked goes back into quarantine if pods
// still name it at the next pass (upstream's delaying queue does the same).
func (c *Controller) deletedNodes(ctx context.Context, pods []*corev1.Pod, nodes map[string]*corev1.Node) map[string]bool {
	now := c.clock.Now()
	missing := missingNodes(pods, nodes)
	for name := range c.quarantined {
		if !missing[name] {
			delete(c.quarantined, name) // it came back, or no pod names it
		}
	}
	deleted := map[string]bool{}
	for name := range missing {
		since, ok := c.quarantined[name]
		if !ok {
			c.quarantined[name] = now
			since = now
		}
		if now.Sub(since) < c.quarantine {
			continue
		}
		delete(c.quarantined, name)
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			deleted[name] = true
		case err != nil:
			c.log.Error("checking a missing node", "node", name, "err", err)
		}
	}
	return deleted
}

// deleteAll marks pods Failed (with cond, if given) and deletes them with
// a grace of 0, Workers at a time. Failures are logged and counted; the
// next pass tries again.
func (c *Controller) deleteAll(ctx context.Context, reason string, pods []*corev1.Pod, cond *corev1.PodCondition, handled map[types.UID]bool) {
	var g errgroup.Group
	g.SetLimit(c.workers)
	for _, pod := range pods {
		if handled[pod.UID] {
			continue
		}
		handled[pod.UID] = true
		g.Go(func() error {
			c.metrics.deletions.WithLabelValues(pod.Namespace, reason).Inc()
			if err := c.markFailedAndDelete(ctx, pod, cond); err != nil {
				c.metrics.errors.WithLabelValues(pod.Namespace, reason).Inc()
				c.log.Error("force-deleting pod failed", "namespace", pod.Namespace, "name", pod.Name, "reason", reason, "err", err)
				return nil
			}
			c.log.Info("force-deleted pod", "namespace", pod.Namespace, "name", pod.Name, "node", pod.Spec.NodeName, "reason", reason)
			return nil
		})
	}
	_ = g.Wait()
}

// markFailedAndDelete is upstream's markFailedAndDeletePodWithCondition: a
// pod not yet Succeeded or Failed is patched to Failed (with cond) so it
// does not stay Running forever with no kubelet to finish it, then it is
// deleted with a grace of 0. Both writes carry the pod's uid as a
// precondition, so a pod re-created under the same name is left alone.
func (c *Controller) markFailedAndDelete(ctx context.Context, pod *corev1.Pod, cond *corev1.PodCondition) error {
	pods := c.client.CoreV1().Pods(pod.Namespace)
	if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		patch, err := failedStatusPatch(pod, cond, c.clock.Now())
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("marking the pod Failed: %w", err)
		}
	}
	opts := *metav1.NewDeleteOptions(0)
	opts.Preconditions = metav1.NewUIDPreconditions(string(pod.UID))
	err := pods.Delete(ctx, pod.Name, opts)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or a different pod now holds the name
	}
	return err
}
