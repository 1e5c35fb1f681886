// Package scheduler is terminus' pod scheduler: what kube-scheduler's
// default profile does for the filters the node agent's pods need (issue
// 6). It watches pending pods (no spec.nodeName, spec.schedulerName
// "default-scheduler" or empty, not terminating), filters the nodes as the
// NodeUnschedulable, TaintToleration (NoSchedule and NoExecute, plus the
// not-ready/unreachable taint a node that is not Ready would carry),
// NodeAffinity (nodeSelector, required node affinity with matchExpressions
// and matchFields) and NodeResourcesFit (pods, cpu, memory,
// ephemeral-storage and scalar resources against status.allocatable)
// plugins do, scores the rest with LeastAllocated (ties by node name), and
// binds with POST pods/binding, recording a Scheduled event.
//
// A pod that fits nowhere gets PodScheduled=False (reason Unschedulable)
// with upstream's FitError message and a FailedScheduling Warning event,
// and waits, as in upstream's scheduling queue, until a node is added or
// changes or an assigned pod goes away, after a back-off of 1 s doubling
// to 10 s; pods parked for 5 min are retried anyway. Pods with scheduling
// gates get PodScheduled=False (reason SchedulingGated) and wait for the
// gates to go.
//
// Not implemented: preemption (the message says what upstream's
// DefaultPreemption says when it finds no victim), NodePorts, inter-pod
// affinity, topology spread, volume plugins, DRA, scoring plugins other
// than LeastAllocated, extenders and multiple profiles.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Config holds the scheduler's dependencies and settings.
type Config struct {
	// Client binds pods, patches their status and records events.
	// Required.
	Client kubernetes.Interface
	// Informers provides the pod and node informers. Required; the caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives the back-off, the parked-pod flush, condition times and
	// the event correlator. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the scheduler's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the scheduler's metrics. Nil: none.
	Registerer prometheus.Registerer
	// SchedulerName is the spec.schedulerName this scheduler serves.
	// Default "default-scheduler" (pods with an empty name are defaulted
	// to it by the API; they are served too).
	SchedulerName string
	// InitialBackoff and MaxBackoff bound a failed pod's back-off
	// (--pod-initial-backoff-seconds, --pod-max-backoff-seconds).
	// Defaults 1 s and 10 s.
	InitialBackoff, MaxBackoff time.Duration
	// MaxInUnschedulablePods is how long a pod stays parked as
	// unschedulable without an event before it is retried. Default 5 min.
	MaxInUnschedulablePods time.Duration
}

// Controller is the scheduler.
type Controller struct {
	client     kubernetes.Interface
	clock      clock.WithTicker
	log        *slog.Logger
	name       string
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	queue      *runner.Queue[string]
	pool       *pool
	maxParked  time.Duration
	metrics    *metrics
	reg        prometheus.Registerer

	// recorder records events; Run replaces the discarding default.
	recorder record.EventRecorder

	// assumed holds the pods bound by this scheduler that the informer
	// still shows pending (upstream's assumed pods), so that their
	// resources count at once and they are not scheduled twice. Only the
	// worker uses it.
	assumed map[types.UID]*corev1.Pod

	started sync.Once
}

// New builds the scheduler and registers its event handlers; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("scheduler: Client and Informers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SchedulerName == "" {
		cfg.SchedulerName = corev1.DefaultSchedulerName
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxInUnschedulablePods <= 0 {
		cfg.MaxInUnschedulablePods = DefaultMaxInUnschedulablePods
	}
	pods := cfg.Informers.Core().V1().Pods()
	nodes := cfg.Informers.Core().V1().Nodes()
	c := &Controller{
		client:     cfg.Client,
		clock:      cfg.Clock,
		log:        cfg.Logger.With("controller", "scheduler"),
		name:       cfg.SchedulerName,
		podLister:  pods.Lister(),
		nodeLister: nodes.Lister(),
		pool:       newPool(cfg.InitialBackoff, cfg.MaxBackoff),
		maxParked:  cfg.MaxInUnschedulablePods,
		reg:        cfg.Registerer,
		recorder:   &record.FakeRecorder{},
		assumed:    map[types.UID]*corev1.Pod{},
	}
	c.metrics = newMetrics(c.pool.parked)
	// One worker, as kube-scheduler schedules one pod at a time: each
	// attempt sees the placements of the ones before. Errors (not
	// verdicts) back off like unschedulable pods, 1 s to 10 s.
	queue, err := runner.New(runner.Config[string]{
		Name:           "scheduler",
		Clock:          cfg.Clock,
		Logger:         c.log,
		Workers:        1,
		RetryBaseDelay: cfg.InitialBackoff,
		RetryMaxDelay:  cfg.MaxBackoff,
		Sync:           c.sync,
		ErrorMessage:   "scheduling pod failed, will retry",
		KeyAttrs:       func(key string) []any { return []any{"pod", key} },
		StartAttrs:     []any{"schedulerName", c.name},
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	c.queue = queue
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	if err := c.queue.Watch(pods.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj) },
		UpdateFunc: c.podChanged,
		DeleteFunc: c.podDeleted,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	if err := c.queue.Watch(nodes.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.moveAll("NodeAdd") },
		UpdateFunc: c.nodeChanged,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	return c, nil
}

// fail undoes New.
func (c *Controller) fail(err error) error {
	c.queue.Close()
	c.metrics.unregister(c.reg)
	return fmt.Errorf("scheduler: %w", err)
}

// Run schedules pods until ctx ends, then stops its goroutines (workers,
// flush loop, event broadcaster), removes its event handlers and returns
// nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return errors.New("scheduler: Run called twice")
	}
	// Events go to core/v1 Events, as kube-controller-manager's
	// recorders do (kube-scheduler itself writes events.k8s.io/v1; the
	// reason, type and message are the same), aggregated by the
	// correlator on the injected clock.
	recorder, stopEvents := runner.StartEvents(c.client, c.clock, c.log, c.name)
	defer stopEvents()
	c.recorder = recorder

	var wg sync.WaitGroup
	defer wg.Wait()
	flushCtx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() { c.flushLoop(flushCtx) })
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}

// flushLoop retries pods parked for longer than maxParked, every 30 s.
func (c *Controller) flushLoop(ctx context.Context) {
	t := c.clock.NewTicker(unschedulableFlushPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			for key, d := range c.pool.flush(c.clock.Now(), c.maxParked) {
				c.queue.AddAfter(key, d)
			}
		}
	}
}

// responsible reports whether pod is this scheduler's to schedule:
// unassigned, for this scheduler, not terminating, not terminal.
func (c *Controller) responsible(pod *corev1.Pod) bool {
	name := pod.Spec.SchedulerName
	if name == "" {
		name = corev1.DefaultSchedulerName
	}
	return pod.Spec.NodeName == "" && name == c.name && pod.DeletionTimestamp == nil &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// sync makes one scheduling attempt for the pod named key.
func (c *Controller) sync(ctx context.Context, key string) error {
	cycle := c.pool.cycle()
	start := c.clock.Now()
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key of ours
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.pool.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if !c.responsible(pod) {
		c.pool.forget(key)
		return nil
	}
	if _, ok := c.assumed[pod.UID]; ok {
		return nil // bound by us; the informer has not caught up
	}
	if len(pod.Spec.SchedulingGates) > 0 {
		// Upstream's SchedulingGates PreEnqueue plugin keeps the pod out
		// of the queue and the scheduler says so in the condition. The
		// update that removes the last gate queues it again.
		return c.setCondition(ctx, pod, corev1.PodReasonSchedulingGated, "Scheduling is blocked due to non-empty scheduling gates")
	}
	nodes, err := c.snapshot()
	if err != nil {
		return err
	}
	var res scheduleResult
	var fitMsg string
	if len(nodes) == 0 {
		// Upstream's ErrNoNodesAvailable: UnschedulableAndUnresolvable
		// with the error's text.
		fitMsg = errNoNodes
	} else {
		res = schedule(newPodToSchedule(pod), nodes)
		if res.err != nil {
			fitMsg = res.err.Error()
		}
	}
	if res.node != "" {
		if err := c.bind(ctx, pod, res.node); err != nil {
			c.metrics.observe(resultError, c.clock.Since(start))
			c.pool.failed(key, c.clock.Now(), cycle, false)
			return err
		}
		c.metrics.observe(resultScheduled, c.clock.Since(start))
		c.pool.forget(key)
		return nil
	}
	c.metrics.observe(resultUnschedulable, c.clock.Since(start))
	c.log.Debug("pod is unschedulable", "pod", key, "reason", fitMsg)
	c.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", truncateMessage(fitMsg))
	condErr := c.setCondition(ctx, pod, corev1.PodReasonUnschedulable, fitMsg)
	if retry, requeue := c.pool.failed(key, c.clock.Now(), cycle, true); requeue {
		c.queue.AddAfter(key, retry)
	}
	if condErr != nil {
		c.log.Warn("setting PodScheduled=False failed", "pod", key, "err", condErr)
	}
	return nil
}

// snapshot returns the nodes with what the pods bound to them request,
// counting the assumed pods the informer does not show bound yet
// (upstream's scheduler cache snapshot). Terminal pods do not count, as
// upstream's scheduler does not even watch them; terminating pods do.
func (c *Controller) snapshot() ([]*nodeInfo, error) {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	infos := make(map[string]*nodeInfo, len(nodes))
	out := make([]*nodeInfo, 0, len(nodes))
	for _, n := range nodes {
		ni := &nodeInfo{node: n}
		infos[n.Name] = ni
		out = append(out, ni)
	}
	seen := make(map[types.UID]bool, len(c.assumed))
	count := func(p *corev1.Pod) {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return
		}
		if ni := infos[p.Spec.NodeName]; ni != nil {
			req, nz := podResources(p)
			ni.addPod(podUsage{requested: req, nonZero: nz, priority: podPriority(p)})
		}
	}
	for _, p := range pods {
		if a, ok := c.assumed[p.UID]; ok {
			seen[p.UID] = true
			if p.Spec.NodeName == "" {
				count(a)
				continue
			}
			delete(c.assumed, p.UID) // the informer caught up
		}
		if p.Spec.NodeName != "" {
			count(p)
		}
	}
	for uid := range c.assumed {
		if !seen[uid] {
			delete(c.assumed, uid) // deleted meanwhile
		}
	}
	return out, nil
}

func podPriority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// bind posts the binding (upstream DefaultBinder) and records the
// Scheduled event. A pod that is gone, or was bound meanwhile (409), is
// left alone.
func (c *Controller) bind(ctx context.Context, pod *corev1.Pod, node string) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err) && !isRouteMissing(err):
		return nil
	case apierrors.IsConflict(err):
		c.log.Info("pod was bound or changed meanwhile", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("binding %s/%s to %s: %w", pod.Namespace, pod.Name, node, err)
	}
	bound := pod.DeepCopy()
	bound.Spec.NodeName = node
	c.assumed[pod.UID] = bound
	c.log.Info("pod scheduled", "pod", pod.Namespace+"/"+pod.Name, "node", node)
	c.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %v/%v to %v", pod.Namespace, pod.Name, node)
	return nil
}

// isRouteMissing tells a 404 for the pods/binding endpoint itself (a
// server without it) from a 404 for the pod: the former must be retried
// and logged, not taken for a deleted pod.
func isRouteMissing(err error) bool {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return false
	}
	d := se.Status().Details
	return d == nil || d.Name == ""
}
