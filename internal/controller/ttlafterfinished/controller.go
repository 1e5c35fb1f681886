// Package ttlafterfinished is the TTL-after-finished controller (upstream
// pkg/controller/ttlafterfinished, kube-controller-manager's
// "ttl-after-finished-controller", issue 6): it deletes a finished Job
// (a true Complete or Failed condition) ttlSecondsAfterFinished after the
// condition's lastTransitionTime, on the injected clock.
//
// Before deleting it rereads the Job live and checks again, since the TTL
// may have been changed, and deletes with the Job's uid as a precondition
// and, as upstream, propagationPolicy Foreground, so that the Job is gone
// only once the garbage collector removed its pods (Config.Propagation
// can change it).
package ttlafterfinished

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Name is the controller's name in kube-controller-manager.
const Name = "ttl-after-finished-controller"

// DefaultWorkers is kube-controller-manager's
// --concurrent-ttl-after-finished-syncs.
const DefaultWorkers = 5

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client reads and deletes Jobs. Required.
	Client kubernetes.Interface
	// Informers provides the Job informer. Required; the caller starts it
	// after New.
	Informers informers.SharedInformerFactory
	// Clock decides when a TTL expires and drives the requeues. Default:
	// the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the terminus_ttlafterfinished_* metrics. Nil:
	// none.
	Registerer prometheus.Registerer
	// Workers is the number of Jobs handled in parallel. Default
	// DefaultWorkers.
	Workers int
	// Propagation is the DELETE's propagationPolicy. Default Foreground,
	// upstream's.
	Propagation metav1.DeletionPropagation
}

// Controller is the TTL-after-finished controller.
type Controller struct {
	client      kubernetes.Interface
	clock       clock.WithTicker
	log         *slog.Logger
	lister      batchlisters.JobLister
	queue       *runner.Queue[string]
	propagation metav1.DeletionPropagation
	reg         prometheus.Registerer
	deleted     prometheus.Counter
	delay       prometheus.Histogram
	errors      prometheus.Counter
	started     sync.Once
}

// New builds the controller and registers its event handlers; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("ttlafterfinished: Client and Informers are required")
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
	if cfg.Propagation == "" {
		cfg.Propagation = metav1.DeletePropagationForeground
	}
	log := cfg.Logger.With("controller", Name)
	inf := cfg.Informers.Batch().V1().Jobs()
	c := &Controller{
		client: cfg.Client, clock: cfg.Clock, log: log, lister: inf.Lister(),
		propagation: cfg.Propagation, reg: cfg.Registerer,
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_ttlafterfinished_jobs_deleted_total",
			Help: "Finished Jobs deleted because their ttlSecondsAfterFinished expired.",
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "terminus_ttlafterfinished_job_deletion_delay_seconds",
			Help:    "Time from the expiry of a Job's TTL to its deletion.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_ttlafterfinished_sync_errors_total",
			Help: "Job checks that failed and were queued for a retry.",
		}),
	}
	q, err := runner.New(runner.Config[string]{
		Name: "ttl_jobs_to_delete", Clock: cfg.Clock, Logger: log, Workers: cfg.Workers,
		Sync: c.sync,
		Observe: func(_ string, err error, _ time.Duration) {
			if err != nil {
				c.errors.Inc()
			}
		},
		ErrorMessage: "cleaning up a Job failed, will retry",
		KeyAttrs:     func(key string) []any { return []any{"job", key} },
	})
	if err != nil {
		return nil, fmt.Errorf("ttlafterfinished: %w", err)
	}
	c.queue = q
	if err := runner.Register(cfg.Registerer, c.deleted, c.delay, c.errors); err != nil {
		return nil, fmt.Errorf("ttlafterfinished: %w", err)
	}
	// Only finished Jobs with a TTL are queued (upstream addJob/updateJob).
	enqueue := func(obj any) {
		if j, ok := obj.(*batchv1.Job); ok && j.DeletionTimestamp == nil && needsCleanup(j) {
			c.queue.Add(j.Namespace + "/" + j.Name)
		}
	}
	if err := q.Watch(inf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
	}, 0); err != nil {
		q.Close()
		runner.Unregister(cfg.Registerer, c.deleted, c.delay, c.errors)
		return nil, fmt.Errorf("ttlafterfinished: %w", err)
	}
	return c, nil
}

// Run handles Jobs until ctx ends, then returns nil. It may be called
// once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return fmt.Errorf("ttlafterfinished: %w", runner.ErrRunTwice)
	}
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("ttlafterfinished: %w", err)
	}
	return nil
}

// sync deletes the Job key if its TTL expired, else requeues it for then
// (upstream processJob).
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", key, err)
	}
	j, err := c.lister.Jobs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.expired(key, j); err != nil || expired == nil {
		return err
	}
	// The cached TTL may be stale: check the live Job again.
	fresh, err := c.client.BatchV1().Jobs(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job %s: %w", key, err)
	}
	expiredAt, err := c.expired(key, fresh)
	if err != nil || expiredAt == nil {
		return err
	}
	policy := c.propagation
	c.log.Info("deleting a finished Job whose TTL expired", "job", key, "expiredAt", expiredAt.UTC())
	err = c.client.BatchV1().Jobs(namespace).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s: %w", key, err)
	}
	c.deleted.Inc()
	c.delay.Observe(c.clock.Since(*expiredAt).Seconds())
	return nil
}

// expired returns when j's TTL expired, or nil if it has not (then j is
// queued again for that moment) or j needs no cleanup.
func (c *Controller) expired(key string, j *batchv1.Job) (*time.Time, error) {
	if j.DeletionTimestamp != nil || !needsCleanup(j) {
		return nil, nil
	}
	finishAt, err := finishTime(j)
	if err != nil {
		return nil, err
	}
	expireAt := finishAt.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second)
	now := c.clock.Now()
	if finishAt.After(now) {
		c.log.Warn("found a Job finished in the future, likely clock skew; cleanup deferred", "job", key)
	}
	if left := expireAt.Sub(now); left > 0 {
		c.queue.AddAfter(key, left)
		return nil, nil
	}
	return &expireAt, nil
}

// needsCleanup: j has a TTL and is finished.
func needsCleanup(j *batchv1.Job) bool {
	return j.Spec.TTLSecondsAfterFinished != nil && isFinished(j)
}

func isFinished(j *batchv1.Job) bool {
	for _, cond := range j.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// finishTime is the lastTransitionTime of j's terminal condition
// (upstream jobFinishTime).
func finishTime(j *batchv1.Job) (time.Time, error) {
	for _, cond := range j.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			if cond.LastTransitionTime.IsZero() {
				return time.Time{}, fmt.Errorf("unable to find the time when the Job %s/%s finished", j.Namespace, j.Name)
			}
			return cond.LastTransitionTime.Time, nil
		}
	}
	return time.Time{}, fmt.Errorf("unable to find the status of the finished Job %s/%s", j.Namespace, j.Name)
}
