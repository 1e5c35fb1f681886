// Package serviceaccount is the service accounts controller (upstream
// kube-controller-manager pkg/controller/serviceaccount,
// serviceaccounts_controller.go): every Active namespace gets a "default"
// ServiceAccount, created again if it is deleted. Terminating namespaces
// are skipped. Tokens are not this controller's business.
//
// Like upstream it records no Events.
package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// DefaultName is the name of the ServiceAccount every namespace gets.
const DefaultName = "default"

// Config holds the controller's dependencies.
type Config struct {
	// Client creates service accounts. Required.
	Client kubernetes.Interface
	// Informers provides the namespace and service account informers.
	// Required; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives the retry back-off. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of namespaces processed in parallel. Default
	// 1, as kube-controller-manager runs it.
	Workers int
}

// Controller is a service accounts controller.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	queue    *runner.Queue[string]
	syncs    *prometheus.CounterVec
}

// New builds the controller and registers its event handlers; start
// cfg.Informers after it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("serviceaccount controller: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nss := cfg.Informers.Core().V1().Namespaces()
	sas := cfg.Informers.Core().V1().ServiceAccounts()
	c := &Controller{
		client:   cfg.Client,
		log:      cfg.Logger.With("controller", "serviceaccount"),
		nsLister: nss.Lister(),
		saLister: sas.Lister(),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_serviceaccount_controller_syncs_total",
			Help: "Namespace syncs of the service accounts controller, by result (ok, error).",
		}, []string{"result"}),
	}
	// Workqueue's default controller back-off, on cfg.Clock; one worker
	// unless asked, as kube-controller-manager runs it.
	queue, err := runner.New(runner.Config[string]{
		Name:         "serviceaccount",
		Clock:        cfg.Clock,
		Logger:       c.log,
		Workers:      cfg.Workers,
		Sync:         c.sync,
		Observe:      func(_ string, err error, _ time.Duration) { c.syncs.WithLabelValues(result(err)).Inc() },
		ErrorMessage: "ensuring service accounts",
		KeyAttrs:     func(ns string) []any { return []any{"namespace", ns} },
	})
	if err != nil {
		return nil, fmt.Errorf("serviceaccount controller: %w", err)
	}
	c.queue = queue
	if err := c.queue.Watch(nss.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.namespaceChanged,
		UpdateFunc: func(_, obj any) { c.namespaceChanged(obj) },
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	if err := c.queue.Watch(sas.Informer(), cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.serviceAccountDeleted,
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(c.syncs); err != nil {
			return nil, c.fail(fmt.Errorf("registering metrics: %w", err))
		}
	}
	return c, nil
}

// fail undoes New.
func (c *Controller) fail(err error) error {
	c.queue.Close()
	return fmt.Errorf("serviceaccount controller: %w", err)
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func (c *Controller) namespaceChanged(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

func (c *Controller) serviceAccountDeleted(obj any) {
	sa, ok := runner.Unwrap[*corev1.ServiceAccount](obj)
	if !ok {
		c.log.Warn("unexpected object in a service account delete event", "type", fmt.Sprintf("%T", obj))
		return
	}
	if sa.Name == DefaultName {
		c.queue.Add(sa.Namespace)
	}
}

// Run processes namespaces until ctx ends, then stops its goroutines and
// returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("serviceaccount controller: %w", err)
	}
	return nil
}

// sync creates the default ServiceAccount in an Active namespace that
// lacks it.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
		// Nothing may be created in a terminating namespace (spec E5).
		return nil
	}
	var errs []error
	for _, saName := range []string{DefaultName} {
		switch _, err := c.saLister.ServiceAccounts(name).Get(saName); {
		case err == nil:
			continue
		case !apierrors.IsNotFound(err):
			return err
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: saName, Namespace: name}}
		_, err := c.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.log.Debug("created service account", "namespace", name, "name", saName)
		case apierrors.IsAlreadyExists(err), apierrors.IsNotFound(err),
			apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			// Created meanwhile, or the namespace is gone or going.
		default:
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}
