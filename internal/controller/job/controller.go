// Package job is the Job controller (upstream pkg/controller/job:
// job_controller.go, tracking_utils.go, backoff_utils.go,
// indexed_job_utils.go; kube-controller-manager's "job" controller,
// issue 6).
//
// For each Job it claims pods (spec D: adopting matching orphans with the
// batch.kubernetes.io/job-tracking finalizer, releasing owned pods that
// no longer match), creates pods up to min(parallelism, remaining
// completions) with the controller reference and the tracking finalizer
// (spec F5), and counts finished pods the way upstream does so that no pod
// is counted twice or lost: a finished pod's uid goes first into
// status.uncountedTerminatedPods, then its finalizer is removed, then the
// uid moves into status.succeeded or status.failed. Pods that fail delay
// the next creates by upstream's back-off (10 s doubling up to 6 min, on
// the injected clock); more failures than backoffLimit, or a Job active
// longer than activeDeadlineSeconds, fail the Job. As v1.37 does (the
// JobManagedBy and JobPodReplacementPolicy features are on), the Job gets
// the interim SuccessCriteriaMet or FailureTarget condition first and the
// terminal Complete or Failed condition only once no pod is active or
// terminating and every finished pod is counted. Suspended Jobs delete
// their active pods. Indexed Jobs give each pod a completion index
// (annotation and label batch.kubernetes.io/job-completion-index, the
// JOB_COMPLETION_INDEX variable, hostname <job>-<index>) and report
// status.completedIndexes.
//
// The tracking finalizer is also removed from pods whose Job is gone,
// finished, or that were orphaned (a DELETE of a Job without a policy
// orphans its pods, spec B7; kubectl sends background explicitly), so
// that no pod is held forever. Deleting a Job takes its pods down through
// the garbage collector, not through this controller.
//
// The policies work as upstream's (policies.go, perindex.go): the rules
// of spec.podFailurePolicy are matched in order against pods in phase
// Failed (FailJob fails the Job with reason PodFailurePolicy, Ignore keeps
// the failure out of backoffLimit and status.failed, Count counts it,
// FailIndex fails the pod's index); backoffLimitPerIndex counts failures
// per index in the batch.kubernetes.io/job-index-failure-count annotation
// of replacement pods, lists failed indexes in status.failedIndexes and
// fails the Job on maxFailedIndexes (MaxFailedIndexesExceeded) or once
// every index ended with some failed (FailedIndexes); a met
// spec.successPolicy completes an Indexed Job early (reason SuccessPolicy),
// terminating its remaining pods. With podReplacementPolicy Failed (or a
// podFailurePolicy) a terminating pod is replaced only once Failed.
//
// Not implemented: the per-Job sync batching of pod events (upstream
// waits 1 s; this controller syncs at once), the metric of pod failures
// handled by the podFailurePolicy.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Name is the controller's name (kube-controller-manager's "job").
const Name = "job"

// DefaultWorkers is kube-controller-manager's --concurrent-job-syncs.
const DefaultWorkers = 5

// Limits of one sync (upstream MaxPodCreateDeletePerSync and
// MaxUncountedPods: the uids in status stay under 20 KB).
const (
	MaxPodCreateDeletePerSync = 500
	MaxUncountedPods          = 500
)

// Pod failure back-off (upstream DefaultJobPodFailureBackOff and
// MaxJobPodFailureBackOff).
const (
	DefaultPodFailureBackOff = 10 * time.Second
	MaxPodFailureBackOff     = 6 * time.Minute
)

var controllerKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client reads and writes Jobs, pods and events. Required.
	Client kubernetes.Interface
	// Informers provides the Job and pod informers. Required; the caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives start and completion times, activeDeadlineSeconds, the
	// pod failure back-off, expectations, the retry back-off and the event
	// correlator. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the terminus_job_* metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of Jobs synced in parallel. Default
	// DefaultWorkers.
	Workers int
}

// Controller is the Job controller.
type Controller struct {
	client       kubernetes.Interface
	clock        clock.WithTicker
	log          *slog.Logger
	pods         *podcontrol.PodControl
	recorder     record.EventRecorder
	expectations *podcontrol.Expectations
	finalizers   *finalizerExpectations
	written      *writtenStatus
	backoff      *backoffStore
	jobLister    batchlisters.JobLister
	jobIndexer   cache.Indexer
	podLister    corelisters.PodLister
	podIndexer   cache.Indexer
	queue        *runner.Queue[string]
	// orphans holds the keys of pods whose tracking finalizer may have to
	// go because no unfinished Job controls them (upstream orphanQueue).
	orphans *runner.Queue[string]
	metrics *metrics
	reg     prometheus.Registerer
	started sync.Once
}

// New builds the Job controller and registers its event handlers and
// indexes; start cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("job: Client and Informers are required")
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
	log := cfg.Logger.With("controller", Name)
	jobInformer := cfg.Informers.Batch().V1().Jobs()
	podInformer := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client: cfg.Client,
		clock:  cfg.Clock,
		log:    log,
		// Events are discarded until Run starts the broadcaster.
		pods:         &podcontrol.PodControl{Client: cfg.Client, Logger: log},
		expectations: podcontrol.NewExpectations(cfg.Clock),
		finalizers:   newFinalizerExpectations(),
		written:      &writtenStatus{byKey: map[string]uint64{}},
		backoff:      newBackoffStore(),
		jobLister:    jobInformer.Lister(),
		jobIndexer:   jobInformer.Informer().GetIndexer(),
		podLister:    podInformer.Lister(),
		podIndexer:   podInformer.Informer().GetIndexer(),
		metrics:      newMetrics(),
		reg:          cfg.Registerer,
	}
	queue, err := runner.New(runner.Config[string]{
		Name:         Name,
		Clock:        cfg.Clock,
		Logger:       log,
		Workers:      cfg.Workers,
		Sync:         c.sync,
		Observe:      func(_ string, err error, _ time.Duration) { c.metrics.observe(err) },
		ErrorMessage: "sync failed, will retry",
		KeyAttrs:     func(key string) []any { return []any{"job", key} },
	})
	if err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	c.queue = queue
	orphans, err := runner.New(runner.Config[string]{
		Name:         Name + "_orphan_pod",
		Clock:        cfg.Clock,
		Logger:       log,
		Sync:         c.syncOrphanPod,
		ErrorMessage: "removing the tracking finalizer of an orphan pod failed, will retry",
		KeyAttrs:     func(key string) []any { return []any{"pod", key} },
	})
	if err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	c.orphans = orphans
	if err := podcontrol.AddPodControllerIndexer(podInformer.Informer()); err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	if err := c.queue.Watch(jobInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
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
	c.orphans.Close()
	c.metrics.unregister(c.reg)
	return fmt.Errorf("job: %w", err)
}

// Run syncs Jobs and orphan pods until ctx ends, then stops its
// goroutines (workers, event broadcaster), removes its event handlers and
// returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return fmt.Errorf("job: %w", runner.ErrRunTwice)
	}
	// Events go to core/v1 Events, aggregated by the correlator on the
	// injected clock. The recorders are set before the workers start.
	recorder, stopEvents := runner.StartEvents(c.client, c.clock, c.log, "job-controller")
	defer stopEvents()
	c.recorder = recorder
	c.pods.Recorder = c.recorder

	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = c.orphans.Run(ctx) })
	errs[1] = c.queue.Run(ctx)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	return nil
}

// event records an event on job, if events are recorded yet.
func (c *Controller) event(job *batchv1.Job, typ, reason, format string, args ...any) {
	if c.recorder != nil {
		c.recorder.Eventf(podcontrol.ObjectReference(job, controllerKind), typ, reason, format, args...)
	}
}

// keyOf is the queue key of a Job (or a pod).
func keyOf(namespace, name string) string { return namespace + "/" + name }
