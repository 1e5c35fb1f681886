// Package pvprotection is the PV protection controller (spec F2, upstream
// pkg/controller/volume/pvprotection). It removes the
// kubernetes.io/pv-protection finalizer from a terminating
// PersistentVolume once the volume is not bound (status.phase != Bound),
// and adds the finalizer to live volumes that lack it (volumes created
// before admission added it on create).
package pvprotection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Finalizer is the finalizer this controller manages.
const Finalizer = "kubernetes.io/pv-protection"

// Config holds the controller's dependencies.
type Config struct {
	// Client talks to the API server. Required.
	Client kubernetes.Interface
	// Informers provides the PV informer. Required; the caller starts it
	// after New.
	Informers informers.SharedInformerFactory
	// Clock drives the retry back-off. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of volumes processed in parallel. Default 1,
	// as kube-controller-manager runs it.
	Workers int
}

// Controller is a PV protection controller.
type Controller struct {
	client  kubernetes.Interface
	log     *slog.Logger
	lister  corelisters.PersistentVolumeLister
	queue   *runner.Queue[string]
	metrics *metrics
}

// New builds the controller and registers its event handler; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("pvprotection: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pvs := cfg.Informers.Core().V1().PersistentVolumes()
	c := &Controller{
		client:  cfg.Client,
		log:     cfg.Logger.With("controller", "pvprotection"),
		lister:  pvs.Lister(),
		metrics: newMetrics(),
	}
	// Workqueue's default controller back-off, on cfg.Clock; one worker
	// unless asked, as kube-controller-manager runs it.
	queue, err := runner.New(runner.Config[string]{
		Name:         "pvprotection",
		Clock:        cfg.Clock,
		Logger:       c.log,
		Workers:      cfg.Workers,
		Sync:         c.sync,
		Observe:      func(_ string, err error, _ time.Duration) { c.metrics.observe(err) },
		ErrorMessage: "processing volume failed, will retry",
		KeyAttrs:     func(name string) []any { return []any{"name", name} },
	})
	if err != nil {
		return nil, fmt.Errorf("pvprotection: %w", err)
	}
	c.queue = queue
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	if err := c.queue.Watch(pvs.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.pvChanged,
		UpdateFunc: func(_, obj any) { c.pvChanged(obj) },
	}, 0); err != nil {
		c.metrics.unregister(cfg.Registerer)
		return nil, fmt.Errorf("pvprotection: %w", err)
	}
	return c, nil
}

// Run processes volumes until ctx ends, then stops its goroutines, removes
// its event handler and returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("pvprotection: %w", err)
	}
	return nil
}

// sync brings one volume's finalizer to where spec F2 wants it.
func (c *Controller) sync(ctx context.Context, name string) error {
	pv, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	has := slices.Contains(pv.Finalizers, Finalizer)
	switch {
	case pv.DeletionTimestamp != nil && has:
		if isBound(pv) {
			c.log.Debug("keeping volume: it is bound", "name", name)
			return nil
		}
		return c.setFinalizer(ctx, pv, false)
	case pv.DeletionTimestamp == nil && !has:
		return c.setFinalizer(ctx, pv, true)
	}
	return nil
}

// isBound reports whether pv is in use (spec F2): the PV controller has
// set its phase to Bound. Only the phase counts, as upstream: a claimRef
// on an Available or Released volume does not hold it.
func isBound(pv *corev1.PersistentVolume) bool {
	return pv.Status.Phase == corev1.VolumeBound
}

// setFinalizer adds or removes the finalizer with an update of the cached
// object; a conflict is retried with the next cache state.
func (c *Controller) setFinalizer(ctx context.Context, pv *corev1.PersistentVolume, add bool) error {
	clone := pv.DeepCopy()
	op := "removed"
	if add {
		clone.Finalizers = append(clone.Finalizers, Finalizer)
		op = "added"
	} else {
		clone.Finalizers = slices.DeleteFunc(clone.Finalizers, func(f string) bool { return f == Finalizer })
	}
	_, err := c.client.CoreV1().PersistentVolumes().Update(ctx, clone, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating finalizers: %w", err)
	}
	c.metrics.finalizers.WithLabelValues(op).Inc()
	c.log.Info("finalizer "+op, "name", pv.Name)
	return nil
}

// pvChanged queues a volume that needs the finalizer or may lose it.
func (c *Controller) pvChanged(obj any) {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return
	}
	if (pv.DeletionTimestamp == nil) != slices.Contains(pv.Finalizers, Finalizer) {
		c.queue.Add(pv.Name)
	}
}
