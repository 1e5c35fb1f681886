// Package deployment is the Deployment controller (upstream
// pkg/controller/deployment, kube-controller-manager's "deployment"
// controller; issue 6), an API client over client-go like every
// terminus controller.
//
// For each Deployment it claims ReplicaSets by selector (adopting
// matching orphans, releasing owned ones that no longer match, spec D),
// finds the new ReplicaSet (the one whose template equals the
// Deployment's, ignoring the pod-template-hash label) or creates it,
// named <deployment>-<hash> with upstream's hash, and then:
//
//   - RollingUpdate: scales the new ReplicaSet up within maxSurge and
//     old ones down within maxUnavailable, unhealthy old replicas first
//     (rolling.go);
//   - Recreate: scales old ReplicaSets to 0, waits until none of their
//     pods is left running, terminating ones included, then creates and
//     scales up the new one (recreate.go);
//   - a scaling event (spec.replicas differs from a ReplicaSet's
//     desired-replicas annotation) or a paused Deployment: scales the
//     ReplicaSets proportionally, without rolling (sync.go);
//   - a deprecated rollbackTo annotation: rolls the template back
//     (rollback.go); modern kubectl rollout undo patches the template
//     itself, which is an ordinary rollout;
//   - deletes old ReplicaSets with no replicas beyond
//     revisionHistoryLimit.
//
// It writes status (replicas, updated, ready, available, unavailable and
// terminating replicas, observedGeneration, collisionCount, the
// Available and Progressing conditions with upstream's reasons and
// messages, progressDeadlineSeconds measured on the injected clock) so
// that kubectl rollout status completes, and records ScalingReplicaSet
// events. A Deployment being deleted only gets its status: its
// ReplicaSets and pods go through the garbage collector (spec B7).
// Replica controllers count only active pods (spec G11); the
// Deployment adds up its ReplicaSets' status.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
	"github.com/terminus-project/terminus/internal/controller/runner"
)

// DefaultWorkers is kube-controller-manager's
// --concurrent-deployment-syncs.
const DefaultWorkers = 5

// Name is the controller's name (queue, metrics prefix, --controllers).
const Name = "deployment"

var (
	deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
	replicaSetKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// Config holds the controller's dependencies and settings.
type Config struct {
	// Client reads and writes Deployments, ReplicaSets and events.
	// Required.
	Client kubernetes.Interface
	// Informers provides the Deployment, ReplicaSet and pod informers.
	// Required; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives condition times, the progress deadline, the retry
	// back-off and the event correlator. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the terminus_deployment_* metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of Deployments synced in parallel. Default
	// DefaultWorkers.
	Workers int
}

// Controller is the Deployment controller.
type Controller struct {
	client     kubernetes.Interface
	clock      clock.WithTicker
	log        *slog.Logger
	dLister    appslisters.DeploymentLister
	dIndexer   cache.Indexer
	rsLister   appslisters.ReplicaSetLister
	rsIndexer  cache.Indexer
	podIndexer cache.Indexer
	queue      *runner.Queue[string]
	metrics    *metrics
	reg        prometheus.Registerer
	// recorder is set by Run before the workers start; until then events
	// are discarded.
	recorder record.EventRecorder
	started  sync.Once
}

// New builds the controller and registers its event handlers and
// indexes; start cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("deployment: Client and Informers are required")
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
	dInformer := cfg.Informers.Apps().V1().Deployments()
	rsInformer := cfg.Informers.Apps().V1().ReplicaSets()
	podInformer := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:     cfg.Client,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		dLister:    dInformer.Lister(),
		dIndexer:   dInformer.Informer().GetIndexer(),
		rsLister:   rsInformer.Lister(),
		rsIndexer:  rsInformer.Informer().GetIndexer(),
		podIndexer: podInformer.Informer().GetIndexer(),
		metrics:    newMetrics(),
		reg:        cfg.Registerer,
		recorder:   &record.FakeRecorder{},
	}
	queue, err := runner.New(runner.Config[string]{
		Name:     Name,
		Clock:    cfg.Clock,
		Logger:   cfg.Logger,
		Workers:  cfg.Workers,
		Sync:     c.sync,
		Observe:  func(_ string, err error, _ time.Duration) { c.metrics.observe(err) },
		KeyAttrs: func(key string) []any { return []any{"deployment", key} },
	})
	if err != nil {
		return nil, fmt.Errorf("deployment: %w", err)
	}
	c.queue = queue
	// The pods of a ReplicaSet, found by controller reference, tell
	// Recreate whether old pods still run.
	if err := podcontrol.AddPodControllerIndexer(podInformer.Informer()); err != nil {
		return nil, fmt.Errorf("deployment: %w", err)
	}
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	watches := []struct {
		inf runner.Informer
		h   cache.ResourceEventHandler
	}{
		{dInformer.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addDeployment, UpdateFunc: c.updateDeployment, DeleteFunc: c.deleteDeployment}},
		{rsInformer.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addReplicaSet, UpdateFunc: c.updateReplicaSet, DeleteFunc: c.deleteReplicaSet}},
		// Only deletions: Recreate waits for the old pods to be gone.
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod}},
	}
	for _, w := range watches {
		if err := c.queue.Watch(w.inf, w.h, 0); err != nil {
			c.queue.Close()
			c.metrics.unregister(c.reg)
			return nil, fmt.Errorf("deployment: %w", err)
		}
	}
	return c, nil
}

// Run syncs Deployments until ctx ends, then stops its goroutines
// (workers, event broadcaster), removes its event handlers and returns
// nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	first := false
	c.started.Do(func() { first = true })
	if !first {
		return fmt.Errorf("deployment: %w", runner.ErrRunTwice)
	}
	// Events go to core/v1 Events (kubectl describe shows them),
	// aggregated by the correlator on the injected clock.
	recorder, stopEvents := runner.StartEvents(c.client, c.clock, c.log, "deployment-controller")
	defer stopEvents()
	c.recorder = recorder
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	return nil
}

// keyOf is the queue key of a Deployment.
func keyOf(d *appsv1.Deployment) string { return d.Namespace + "/" + d.Name }
