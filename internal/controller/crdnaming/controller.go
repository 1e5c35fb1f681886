// Package crdnaming is the CustomResourceDefinition naming and
// establishing controller (upstream apiextensions-apiserver's
// NamingConditionController and EstablishingController, in one queue). It
// accepts a CRD's names unless another CRD of its group holds them
// (condition NamesAccepted), which makes the API server serve the custom
// resources, and marks the CRD Established in the same write, which lists
// them in discovery.
package crdnaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiextensionsinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions"
	apiextensionslisters "k8s.io/apiextensions-apiserver/pkg/client/listers/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
	"github.com/terminus-project/terminus/internal/crd"
	"github.com/terminus-project/terminus/internal/lifecycle"
)

// Config holds the controller's dependencies.
type Config struct {
	// Client talks to the API server. Required.
	Client apiextensionsclient.Interface
	// Informers provides the CRD informer. Required; the caller starts it
	// after New.
	Informers apiextensionsinformers.SharedInformerFactory
	// Clock drives retries and condition times. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
}

// Controller accepts CRD names and establishes CRDs.
type Controller struct {
	client apiextensionsclient.Interface
	lister apiextensionslisters.CustomResourceDefinitionLister
	clock  clock.PassiveClock
	log    *slog.Logger
	queue  *runner.Queue[string]
	syncs  *prometheus.CounterVec
	reg    prometheus.Registerer
}

// New builds the controller and registers its event handler; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("crdnaming: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	crds := cfg.Informers.Apiextensions().V1().CustomResourceDefinitions()
	c := &Controller{
		client: cfg.Client,
		lister: crds.Lister(),
		clock:  cfg.Clock,
		log:    cfg.Logger,
		reg:    cfg.Registerer,
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_crdnaming_syncs_total",
			Help: "CustomResourceDefinition naming syncs, by result (ok, error).",
		}, []string{"result"}),
	}
	queue, err := runner.New(runner.Config[string]{
		Name:    "crd_naming",
		Clock:   cfg.Clock,
		Logger:  c.log,
		Sync:    c.sync,
		Workers: 1,
		Observe: func(_ string, err error, _ time.Duration) {
			if err != nil {
				c.syncs.WithLabelValues("error").Inc()
				return
			}
			c.syncs.WithLabelValues("ok").Inc()
		},
		ErrorMessage: "syncing CustomResourceDefinition names failed, will retry",
		KeyAttrs:     func(name string) []any { return []any{"name", name} },
	})
	if err != nil {
		return nil, fmt.Errorf("crdnaming: %w", err)
	}
	c.queue = queue
	if err := runner.Register(cfg.Registerer, c.syncs); err != nil {
		return nil, fmt.Errorf("crdnaming: %w", err)
	}
	if err := c.queue.Watch(crds.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		// A deleted CRD frees its names for the others of its group.
		DeleteFunc: c.enqueueGroup,
	}, 0); err != nil {
		runner.Unregister(cfg.Registerer, c.syncs)
		return nil, fmt.Errorf("crdnaming: %w", err)
	}
	return c, nil
}

// Run processes CRDs until ctx ends. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	defer runner.Unregister(c.reg, c.syncs)
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("crdnaming: %w", err)
	}
	return nil
}

func (c *Controller) enqueue(obj any) {
	if d, ok := runner.Unwrap[*apiextensionsv1.CustomResourceDefinition](obj); ok {
		c.queue.Add(d.Name)
	}
}

func (c *Controller) enqueueGroup(obj any) {
	d, ok := runner.Unwrap[*apiextensionsv1.CustomResourceDefinition](obj)
	if !ok {
		return
	}
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, o := range all {
		if o.Spec.Group == d.Spec.Group {
			c.queue.Add(o.Name)
		}
	}
}

// sync brings one CRD's accepted names and NamesAccepted/Established
// conditions up to date, in two writes as upstream: names first (the API
// server starts serving), then Established (discovery lists it).
func (c *Controller) sync(ctx context.Context, name string) error {
	cur, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	var others []*apiextensionsv1.CustomResourceDefinition
	for _, o := range all {
		if o.Name != cur.Name && o.Spec.Group == cur.Spec.Group {
			others = append(others, o)
		}
	}
	// AcceptNames also decides Established as upstream's establishing
	// controller would (once established, always; the conversion
	// webhook's CA bundle checked); it is written with the names in one
	// update, without the HA delay of a multi-server setup, so that a
	// client that creates a CRD and then re-reads discovery finds the kind.
	accepted, namesCond, established := crd.AcceptNames(cur, others)
	next := cur.DeepCopy()
	next.Status.AcceptedNames = accepted
	now := c.clock.Now()
	lifecycle.SetCRDCondition(next, namesCond, now)
	lifecycle.SetCRDCondition(next, established, now)
	if apiequality.Semantic.DeepEqual(cur.Status, next.Status) {
		return nil
	}
	_, err = c.client.ApiextensionsV1().CustomResourceDefinitions().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	return runner.IgnoreGoneOrStale(err)
}
