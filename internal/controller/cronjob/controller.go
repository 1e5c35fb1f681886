// Package cronjob is the CronJob controller (upstream
// pkg/controller/cronjob: cronjob_controllerv2.go and utils.go;
// kube-controller-manager's "cronjob" controller, issue 6).
//
// For each CronJob it reads the schedule (a standard 5-field cron
// expression, parsed here: robfig/cron is not a dependency) in
// spec.timeZone, and at each scheduled time on the injected clock creates
// the Job <cronjob>-<scheduled time in minutes since the epoch> from
// jobTemplate, with the batch.kubernetes.io/cronjob-scheduled-timestamp
// annotation and the CronJob as controller, honouring concurrencyPolicy
// (Allow, Forbid, Replace), startingDeadlineSeconds, suspend and
// upstream's "too many missed start times" warning (more than 100). It
// keeps status.active, lastScheduleTime and lastSuccessfulTime, deletes
// finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit
// (background propagation), records upstream's events, and requeues each
// CronJob for its next scheduled time, so a test stepping a fake clock
// drives it.
package cronjob

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Name is the controller's name (kube-controller-manager's "cronjob").
const Name = "cronjob"

// DefaultWorkers is kube-controller-manager's --concurrent-cron-job-syncs.
const DefaultWorkers = 5

var (
	controllerKind = batchv1.SchemeGroupVersion.WithKind("CronJob")
	jobKind        = batchv1.SchemeGroupVersion.WithKind("Job")
)

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client reads and writes CronJobs, Jobs and events. Required.
	Client kubernetes.Interface
	// Informers provides the CronJob and Job informers. Required; the
	// caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock is the time schedules are evaluated at; it drives the
	// requeues. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the terminus_cronjob_* metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of CronJobs synced in parallel. Default
	// DefaultWorkers.
	Workers int
}

// Controller is the CronJob controller.
type Controller struct {
	client    kubernetes.Interface
	clock     clock.WithTicker
	log       *slog.Logger
	recorder  record.EventRecorder
	cjLister  batchlisters.CronJobLister
	jobLister batchlisters.JobLister
	jobs      cache.Indexer
	queue     *runner.Queue[string]
	reg       prometheus.Registerer
	syncs     prometheus.Counter
	errs      prometheus.Counter
	created   prometheus.Counter
	skew      prometheus.Histogram
	started   sync.Once
}

// New builds the controller and registers its event handlers; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("cronjob: Client and Informers are required")
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
	cjInf := cfg.Informers.Batch().V1().CronJobs()
	jobInf := cfg.Informers.Batch().V1().Jobs()
	c := &Controller{
		client: cfg.Client, clock: cfg.Clock, log: log,
		cjLister: cjInf.Lister(), jobLister: jobInf.Lister(), jobs: jobInf.Informer().GetIndexer(),
		reg: cfg.Registerer,
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_cronjob_syncs_total", Help: "CronJob syncs, successful or not.",
		}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_cronjob_sync_errors_total", Help: "CronJob syncs that failed and were queued for a retry.",
		}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_cronjob_jobs_created_total", Help: "Jobs created by CronJobs.",
		}),
		skew: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "terminus_cronjob_job_creation_skew_seconds",
			Help:    "Time between a Job's scheduled time and its creation (upstream cronjob_job_creation_skew_duration_seconds).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	q, err := runner.New(runner.Config[string]{
		Name: Name, Clock: cfg.Clock, Logger: log, Workers: cfg.Workers,
		Sync: c.sync,
		Observe: func(_ string, err error, _ time.Duration) {
			c.syncs.Inc()
			if err != nil {
				c.errs.Inc()
			}
		},
		KeyAttrs: func(key string) []any { return []any{"cronjob", key} },
	})
	if err != nil {
		return nil, fmt.Errorf("cronjob: %w", err)
	}
	c.queue = q
	if err := runner.Register(cfg.Registerer, c.collectors()...); err != nil {
		return nil, fmt.Errorf("cronjob: %w", err)
	}
	if err := q.Watch(cjInf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addCronJob,
		UpdateFunc: c.updateCronJob,
		DeleteFunc: c.addCronJob,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	if err := q.Watch(jobInf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobChanged,
		UpdateFunc: func(old, cur any) { c.jobChanged(old); c.jobChanged(cur) },
		DeleteFunc: c.jobChanged,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	return c, nil
}

func (c *Controller) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.syncs, c.errs, c.created, c.skew}
}

func (c *Controller) fail(err error) error {
	c.queue.Close()
	runner.Unregister(c.reg, c.collectors()...)
	return fmt.Errorf("cronjob: %w", err)
}

// Run syncs CronJobs until ctx ends, then returns nil. It may be called
// once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return fmt.Errorf("cronjob: %w", runner.ErrRunTwice)
	}
	recorder, stopEvents := runner.StartEvents(c.client, c.clock, c.log, "cronjob-controller")
	defer stopEvents()
	c.recorder = recorder
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("cronjob: %w", err)
	}
	return nil
}

func (c *Controller) event(cj *batchv1.CronJob, typ, reason, format string, args ...any) {
	if c.recorder != nil {
		apiVersion, kind := controllerKind.ToAPIVersionAndKind()
		ref := &corev1.ObjectReference{Kind: kind, APIVersion: apiVersion, Namespace: cj.Namespace, Name: cj.Name,
			UID: cj.UID, ResourceVersion: cj.ResourceVersion}
		c.recorder.Eventf(ref, typ, reason, format, args...)
	}
}

func cronJobFromEvent(obj any) *batchv1.CronJob {
	cj, _ := runner.Unwrap[*batchv1.CronJob](obj)
	return cj
}

func (c *Controller) addCronJob(obj any) {
	if cj := cronJobFromEvent(obj); cj != nil {
		c.queue.Add(cj.Namespace + "/" + cj.Name)
	}
}

// updateCronJob queues the CronJob at once: its sync computes the next
// time afresh, so a changed schedule or time zone takes effect (upstream
// updateCronJob requeues for the new next time).
func (c *Controller) updateCronJob(oldObj, newObj any) {
	old, cur := cronJobFromEvent(oldObj), cronJobFromEvent(newObj)
	if old == nil || cur == nil {
		return
	}
	c.queue.Add(cur.Namespace + "/" + cur.Name)
}

// jobChanged queues the CronJob that controls a Job.
func (c *Controller) jobChanged(obj any) {
	j, ok := runner.Unwrap[*batchv1.Job](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(j)
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return
	}
	cj, err := c.cjLister.CronJobs(j.Namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return
	}
	c.queue.Add(cj.Namespace + "/" + cj.Name)
}
