// Package rootcacert is the root CA certificate publisher (upstream
// kube-controller-manager pkg/controller/certificates/rootcacertpublisher):
// every Active namespace gets a "kube-root-ca.crt" ConfigMap holding the
// cluster CA bundle under "ca.crt", created again if it is deleted and
// reset if its data is changed or its description annotation removed.
// Terminating namespaces are skipped.
//
// Like upstream it records no Events.
package rootcacert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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

// The published ConfigMap.
const (
	ConfigMapName         = "kube-root-ca.crt"
	DataKey               = "ca.crt"
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Config holds the publisher's dependencies.
type Config struct {
	// Client writes the ConfigMaps. Required.
	Client kubernetes.Interface
	// Informers provides the namespace and ConfigMap informers. Required;
	// the caller starts it after New.
	Informers informers.SharedInformerFactory
	// RootCA is the cluster CA bundle (PEM) to publish. Required.
	RootCA []byte
	// Clock drives the retry back-off. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the publisher's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the publisher's metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of namespaces processed in parallel. Default
	// 1, as kube-controller-manager runs it.
	Workers int
}

// Controller is a root CA certificate publisher.
type Controller struct {
	client   kubernetes.Interface
	rootCA   string
	log      *slog.Logger
	nsLister corelisters.NamespaceLister
	cmLister corelisters.ConfigMapLister
	queue    *runner.Queue[string]
	syncs    *prometheus.CounterVec
}

// New builds the publisher and registers its event handlers; start
// cfg.Informers after it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("rootcacert controller: Client and Informers are required")
	}
	if len(cfg.RootCA) == 0 {
		return nil, errors.New("rootcacert controller: RootCA is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nss := cfg.Informers.Core().V1().Namespaces()
	cms := cfg.Informers.Core().V1().ConfigMaps()
	c := &Controller{
		client:   cfg.Client,
		rootCA:   string(cfg.RootCA),
		log:      cfg.Logger.With("controller", "rootcacert"),
		nsLister: nss.Lister(),
		cmLister: cms.Lister(),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_rootcacert_syncs_total",
			Help: "Namespace syncs of the root CA certificate publisher, by result (ok, error).",
		}, []string{"result"}),
	}
	// Workqueue's default controller back-off, on cfg.Clock; one worker
	// unless asked, as kube-controller-manager runs it.
	queue, err := runner.New(runner.Config[string]{
		Name:         "root_ca_cert_publisher",
		Clock:        cfg.Clock,
		Logger:       c.log,
		Workers:      cfg.Workers,
		Sync:         c.sync,
		Observe:      func(_ string, err error, _ time.Duration) { c.syncs.WithLabelValues(result(err)).Inc() },
		ErrorMessage: "publishing the root CA",
		KeyAttrs:     func(ns string) []any { return []any{"namespace", ns} },
	})
	if err != nil {
		return nil, fmt.Errorf("rootcacert controller: %w", err)
	}
	c.queue = queue
	if err := c.queue.Watch(nss.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.namespaceChanged,
		UpdateFunc: func(_, obj any) { c.namespaceChanged(obj) },
	}, 0); err != nil {
		return nil, c.fail(err)
	}
	if err := c.queue.Watch(cms.Informer(), cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { c.configMapChanged(obj) },
		DeleteFunc: c.configMapChanged,
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
	return fmt.Errorf("rootcacert controller: %w", err)
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func (c *Controller) namespaceChanged(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceActive {
		c.queue.Add(ns.Name)
	}
}

func (c *Controller) configMapChanged(obj any) {
	cm, ok := runner.Unwrap[*corev1.ConfigMap](obj)
	if !ok {
		c.log.Warn("unexpected object in a ConfigMap event", "type", fmt.Sprintf("%T", obj))
		return
	}
	if cm.Name == ConfigMapName {
		c.queue.Add(cm.Namespace)
	}
}

// Run processes namespaces until ctx ends, then stops its goroutines and
// returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("rootcacert controller: %w", err)
	}
	return nil
}

// sync creates or resets the ConfigMap in an Active namespace.
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
	data := map[string]string{DataKey: c.rootCA}
	cm, err := c.cmLister.ConfigMaps(name).Get(ConfigMapName)
	switch {
	case apierrors.IsNotFound(err):
		_, err := c.client.CoreV1().ConfigMaps(name).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:        ConfigMapName,
				Annotations: map[string]string{DescriptionAnnotation: Description},
			},
			Data: data,
		}, metav1.CreateOptions{})
		// The namespace is gone or going: nothing to retry.
		if apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	case err != nil:
		return err
	}
	// Like upstream: the data must match exactly and the description must
	// be there; other keys of the object (binaryData, labels) are the
	// user's.
	if maps.Equal(cm.Data, data) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = data
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	_, err = c.client.CoreV1().ConfigMaps(name).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}
