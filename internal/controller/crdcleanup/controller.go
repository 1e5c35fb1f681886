// Package crdcleanup is the CustomResourceDefinition finalizer controller
// (spec F4; upstream apiextensions-apiserver's crd_finalizer.go): when a
// CRD is deleted it deletes every custom resource of it, waits until none
// remain (custom-resource finalizers hold this), then removes the
// customresourcecleanup.apiextensions.k8s.io finalizer so the CRD goes.
package crdcleanup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiextensionsinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions"
	apiextensionslisters "k8s.io/apiextensions-apiserver/pkg/client/listers/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
	"github.com/terminus-project/terminus/internal/lifecycle"
)

// PollInterval is how often the controller looks again for custom
// resources that finalizers still hold. Upstream polls every 5 s; a CRD
// here goes within a second of its last instance (one LIST a second, and
// only while instances remain).
const PollInterval = time.Second

// Config holds the controller's dependencies.
type Config struct {
	// Client writes CRDs. Required.
	Client apiextensionsclient.Interface
	// Metadata lists and deletes custom resources. Required.
	Metadata metadata.Interface
	// Informers provides the CRD informer. Required; the caller starts it
	// after New.
	Informers apiextensionsinformers.SharedInformerFactory
	// Clock drives polling and retries. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
}

// Controller finalizes deleted CRDs.
type Controller struct {
	client   apiextensionsclient.Interface
	metadata metadata.Interface
	lister   apiextensionslisters.CustomResourceDefinitionLister
	clock    clock.PassiveClock
	log      *slog.Logger
	queue    *runner.Queue[string]
	deleted  prometheus.Counter
	reg      prometheus.Registerer
}

// New builds the controller and registers its event handler; start
// cfg.Informers after it. New starts no goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Metadata == nil || cfg.Informers == nil {
		return nil, errors.New("crdcleanup: Client, Metadata and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	crds := cfg.Informers.Apiextensions().V1().CustomResourceDefinitions()
	c := &Controller{
		client:   cfg.Client,
		metadata: cfg.Metadata,
		lister:   crds.Lister(),
		clock:    cfg.Clock,
		log:      cfg.Logger,
		reg:      cfg.Registerer,
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_crdcleanup_finalized_total",
			Help: "CustomResourceDefinitions whose custom resources were all deleted and whose cleanup finalizer was removed.",
		}),
	}
	queue, err := runner.New(runner.Config[string]{
		Name:         "crd_finalizer",
		Clock:        cfg.Clock,
		Logger:       c.log,
		Sync:         c.sync,
		Workers:      1,
		ErrorMessage: "finalizing CustomResourceDefinition failed, will retry",
		KeyAttrs:     func(name string) []any { return []any{"name", name} },
	})
	if err != nil {
		return nil, fmt.Errorf("crdcleanup: %w", err)
	}
	c.queue = queue
	if err := runner.Register(cfg.Registerer, c.deleted); err != nil {
		return nil, fmt.Errorf("crdcleanup: %w", err)
	}
	if err := c.queue.Watch(crds.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updated,
	}, 0); err != nil {
		runner.Unregister(cfg.Registerer, c.deleted)
		return nil, fmt.Errorf("crdcleanup: %w", err)
	}
	return c, nil
}

// Run processes CRDs until ctx ends. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	defer runner.Unregister(c.reg, c.deleted)
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("crdcleanup: %w", err)
	}
	return nil
}

func (c *Controller) enqueue(obj any) {
	d, ok := runner.Unwrap[*apiextensionsv1.CustomResourceDefinition](obj)
	if ok && d.DeletionTimestamp != nil && slices.Contains(d.Finalizers, lifecycle.CRDCleanupFinalizer) {
		c.queue.Add(d.Name)
	}
}

// updated queues a terminating CRD unless only its Terminating condition
// changed: this controller writes that condition, and queueing on its own
// writes would loop (upstream skips them the same way).
func (c *Controller) updated(oldObj, newObj any) {
	o, ok1 := runner.Unwrap[*apiextensionsv1.CustomResourceDefinition](oldObj)
	n, ok2 := runner.Unwrap[*apiextensionsv1.CustomResourceDefinition](newObj)
	if !ok1 || !ok2 {
		return
	}
	if o.ResourceVersion != n.ResourceVersion {
		oc, nc := o.DeepCopy(), n.DeepCopy()
		oc.ResourceVersion, nc.ResourceVersion = "", ""
		oc.ManagedFields, nc.ManagedFields = nil, nil
		oc.Status.Conditions = withoutTerminating(oc.Status.Conditions)
		nc.Status.Conditions = withoutTerminating(nc.Status.Conditions)
		if apiequality.Semantic.DeepEqual(oc, nc) {
			return
		}
	}
	c.enqueue(n)
}

func withoutTerminating(conds []apiextensionsv1.CustomResourceDefinitionCondition) []apiextensionsv1.CustomResourceDefinitionCondition {
	return slices.DeleteFunc(conds, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
		return c.Type == apiextensionsv1.Terminating
	})
}

// sync runs one pass of spec F4 for a terminating CRD.
func (c *Controller) sync(ctx context.Context, name string) error {
	cur, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.DeletionTimestamp == nil || !slices.Contains(cur.Finalizers, lifecycle.CRDCleanupFinalizer) {
		return nil
	}
	crd := cur.DeepCopy()
	lifecycle.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{
		Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue,
		Reason: "InstanceDeletionInProgress", Message: "CustomResource deletion is in progress",
	}, c.clock.Now())
	if crd, err = c.client.ApiextensionsV1().CustomResourceDefinitions().UpdateStatus(ctx, crd, metav1.UpdateOptions{}); err != nil {
		return runner.IgnoreGoneOrStale(err)
	}
	remaining, err := c.deleteInstances(ctx, crd)
	if err != nil {
		lifecycle.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{
			Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue,
			Reason: "InstanceDeletionFailed", Message: fmt.Sprintf("could not issue all deletes: %v", err),
		}, c.clock.Now())
		if _, uerr := c.client.ApiextensionsV1().CustomResourceDefinitions().UpdateStatus(ctx, crd, metav1.UpdateOptions{}); uerr != nil {
			return errors.Join(err, runner.IgnoreGoneOrStale(uerr))
		}
		return err
	}
	if remaining > 0 {
		lifecycle.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{
			Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue,
			Reason: "InstanceDeletionCheck", Message: fmt.Sprintf("could not confirm zero CustomResources remaining: %d remaining", remaining),
		}, c.clock.Now())
		if _, err := c.client.ApiextensionsV1().CustomResourceDefinitions().UpdateStatus(ctx, crd, metav1.UpdateOptions{}); err != nil {
			return runner.IgnoreGoneOrStale(err)
		}
		c.queue.AddAfter(name, PollInterval)
		return nil
	}
	lifecycle.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{
		Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue,
		Reason: "InstanceDeletionCompleted", Message: "removed all instances",
	}, c.clock.Now())
	crd.Finalizers = slices.DeleteFunc(crd.Finalizers, func(f string) bool { return f == lifecycle.CRDCleanupFinalizer })
	// Upstream removes the finalizer through the status subresource; the
	// last finalizer's removal deletes the CRD (spec C5).
	if _, err := c.client.ApiextensionsV1().CustomResourceDefinitions().UpdateStatus(ctx, crd, metav1.UpdateOptions{}); err != nil {
		return runner.IgnoreGoneOrStale(err)
	}
	c.deleted.Inc()
	c.log.Debug("removed all custom resources", "name", name)
	return nil
}

// deleteInstances deletes every custom resource of crd, namespace by
// namespace as upstream does, and reports how many are still there.
func (c *Controller) deleteInstances(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) (int, error) {
	gvr, ok := servedResource(crd)
	if !ok {
		// Never served: there can be no instances.
		return 0, nil
	}
	res := c.metadata.Resource(gvr)
	list, err := res.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(list.Items) == 0 {
		return 0, nil
	}
	namespaces := map[string]bool{}
	for _, it := range list.Items {
		namespaces[it.Namespace] = true
	}
	var errs []error
	for ns := range namespaces {
		var err error
		if crd.Spec.Scope == apiextensionsv1.NamespaceScoped {
			err = res.Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		} else {
			err = res.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return 0, errors.Join(errs...)
	}
	list, err = res.List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	return len(list.Items), nil
}

// servedResource is the resource to reach the CRD's objects through: all
// versions share one storage (conversion None), so any served version.
func servedResource(crd *apiextensionsv1.CustomResourceDefinition) (schema.GroupVersionResource, bool) {
	if !lifecycle.CRDServed(crd) {
		return schema.GroupVersionResource{}, false
	}
	for _, v := range crd.Spec.Versions {
		if v.Served {
			return schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Spec.Names.Plural}, true
		}
	}
	return schema.GroupVersionResource{}, false
}
