// Package pvcprotection is the PVC protection controller (spec F1,
// upstream pkg/controller/volume/pvcprotection). It removes the
// kubernetes.io/pvc-protection finalizer from a terminating
// PersistentVolumeClaim once no scheduled pod uses the claim, and adds the
// finalizer to live claims that lack it (claims created before admission
// added it on create).
//
// Before removing the finalizer it looks for a user in its informer cache
// and then in a live LIST of the namespace's pods, so a pod the cache has
// not seen yet still holds the claim. Claims are processed in batches per
// namespace so that a mass deletion costs one live LIST per batch.
package pvcprotection

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Finalizer is the finalizer this controller manages.
const Finalizer = "kubernetes.io/pvc-protection"

// podPVCIndex indexes pods by the "<namespace>/<claim>" keys of the claims
// their volumes name.
const podPVCIndex = "terminus.pvcprotection/pod-pvc"

// Config holds the controller's dependencies.
type Config struct {
	// Client talks to the API server. Required.
	Client kubernetes.Interface
	// Informers provides the PVC and pod informers. Required; the caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// Clock drives the retry back-off. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Nil: none.
	Registerer prometheus.Registerer
	// Workers is the number of namespace batches processed in parallel.
	// Default 1, as kube-controller-manager runs it.
	Workers int
}

// Controller is a PVC protection controller.
type Controller struct {
	client     kubernetes.Interface
	log        *slog.Logger
	pvcLister  corelisters.PersistentVolumeClaimLister
	podIndexer cache.Indexer
	queue      *runner.Queue[types.NamespacedName]
	metrics    *metrics
}

// New builds the controller, adds its pod index to cfg.Informers and
// registers its event handlers; start the factory after it. New starts no
// goroutine.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("pvcprotection: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pvcs := cfg.Informers.Core().V1().PersistentVolumeClaims()
	pods := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:     cfg.Client,
		log:        cfg.Logger.With("controller", "pvcprotection"),
		pvcLister:  pvcs.Lister(),
		podIndexer: pods.Informer().GetIndexer(),
		metrics:    newMetrics(),
	}
	if _, ok := c.podIndexer.GetIndexers()[podPVCIndex]; !ok {
		if err := pods.Informer().AddIndexers(cache.Indexers{podPVCIndex: podPVCIndexFunc}); err != nil {
			return nil, fmt.Errorf("pvcprotection: adding the pod index: %w", err)
		}
	}
	// Claims are synced in batches per namespace (upstream
	// pvcProcessingStore), so that a mass deletion costs one live pod LIST
	// per batch. Workqueue's default controller back-off, on cfg.Clock; one
	// worker unless asked, as kube-controller-manager runs it.
	queue, err := runner.New(runner.Config[types.NamespacedName]{
		Name:         "pvcprotection",
		Clock:        cfg.Clock,
		Logger:       c.log,
		Workers:      cfg.Workers,
		GroupOf:      func(key types.NamespacedName) string { return key.Namespace },
		SyncGroup:    c.syncBatch,
		Observe:      func(_ types.NamespacedName, err error, _ time.Duration) { c.metrics.observe(err) },
		ErrorMessage: "processing claim failed, will retry",
		KeyAttrs: func(key types.NamespacedName) []any {
			return []any{"namespace", key.Namespace, "name", key.Name}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("pvcprotection: %w", err)
	}
	c.queue = queue
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	if err := c.queue.Watch(pvcs.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.pvcChanged,
		UpdateFunc: func(_, obj any) { c.pvcChanged(obj) },
	}, 0); err != nil {
		return nil, c.fail(cfg.Registerer, err)
	}
	if err := c.queue.Watch(pods.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj, false) },
		UpdateFunc: func(old, obj any) { c.podChanged(old, obj, false) },
		DeleteFunc: func(obj any) { c.podChanged(nil, obj, true) },
	}, 0); err != nil {
		return nil, c.fail(cfg.Registerer, err)
	}
	return c, nil
}

// fail undoes New.
func (c *Controller) fail(reg prometheus.Registerer, err error) error {
	c.queue.Close()
	c.metrics.unregister(reg)
	return fmt.Errorf("pvcprotection: %w", err)
}

// Run processes claims until ctx ends, then stops its goroutines, removes
// its event handlers and returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.queue.Run(ctx); err != nil {
		return fmt.Errorf("pvcprotection: %w", err)
	}
	return nil
}

// syncBatch returns the sync for one batch of claims of namespace ns; they
// share at most one live pod LIST.
func (c *Controller) syncBatch(ns string) func(context.Context, types.NamespacedName) error {
	live := &livePods{}
	return func(ctx context.Context, key types.NamespacedName) error {
		return c.sync(ctx, ns, key.Name, live)
	}
}

// livePods caches one live pod LIST of a namespace for one batch.
type livePods struct {
	pods   []corev1.Pod
	listed bool
}

// sync brings one claim's finalizer to where spec F1 wants it.
func (c *Controller) sync(ctx context.Context, ns, name string, live *livePods) error {
	pvc, err := c.pvcLister.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	has := slices.Contains(pvc.Finalizers, Finalizer)
	switch {
	case pvc.DeletionTimestamp != nil && has:
		used, err := c.inUse(ctx, pvc, live)
		if err != nil {
			return err
		}
		if used {
			c.log.Debug("keeping claim: a scheduled pod uses it", "namespace", ns, "name", name)
			return nil
		}
		return c.setFinalizer(ctx, pvc, false)
	case pvc.DeletionTimestamp == nil && !has:
		return c.setFinalizer(ctx, pvc, true)
	}
	return nil
}

// inUse looks for a pod using pvc in the informer cache first; finding
// none there, it asks the API server, since the cache may not have seen a
// new pod yet.
func (c *Controller) inUse(ctx context.Context, pvc *corev1.PersistentVolumeClaim, live *livePods) (bool, error) {
	objs, err := c.podIndexer.ByIndex(podPVCIndex, pvc.Namespace+"/"+pvc.Name)
	if err != nil {
		c.log.Warn("pod index lookup failed; asking the API server", "err", err)
	}
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok && podUsesPVC(pod, pvc) {
			return true, nil
		}
	}
	if !live.listed {
		list, err := c.client.CoreV1().Pods(pvc.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("live list of pods: %w", err)
		}
		c.metrics.liveLists.Inc()
		live.pods, live.listed = list.Items, true
	}
	for i := range live.pods {
		if podUsesPVC(&live.pods[i], pvc) {
			return true, nil
		}
	}
	return false, nil
}

// setFinalizer adds or removes the finalizer with an update of the cached
// object; a conflict is retried with the next cache state.
func (c *Controller) setFinalizer(ctx context.Context, pvc *corev1.PersistentVolumeClaim, add bool) error {
	clone := pvc.DeepCopy()
	op := "removed"
	if add {
		clone.Finalizers = append(clone.Finalizers, Finalizer)
		op = "added"
	} else {
		clone.Finalizers = slices.DeleteFunc(clone.Finalizers, func(f string) bool { return f == Finalizer })
	}
	_, err := c.client.CoreV1().PersistentVolumeClaims(clone.Namespace).Update(ctx, clone, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating finalizers: %w", err)
	}
	c.metrics.finalizers.WithLabelValues(op).Inc()
	c.log.Info("finalizer "+op, "namespace", pvc.Namespace, "name", pvc.Name)
	return nil
}

// pvcChanged queues a claim that needs the finalizer or may lose it.
func (c *Controller) pvcChanged(obj any) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	has := slices.Contains(pvc.Finalizers, Finalizer)
	if (pvc.DeletionTimestamp == nil) != has {
		c.queue.Add(types.NamespacedName{Namespace: pvc.Namespace, Name: pvc.Name})
	}
}

// podChanged queues the claims of a pod whose event may release them. An
// update whose uid changed hides a delete and a re-create, so the old pod
// counts as deleted.
func (c *Controller) podChanged(old, obj any, deleted bool) {
	pod := asPod(obj)
	if pod == nil {
		return
	}
	c.enqueueClaims(pod, deleted)
	if oldPod := asPod(old); oldPod != nil && oldPod.UID != pod.UID {
		c.enqueueClaims(oldPod, true)
	}
}

func (c *Controller) enqueueClaims(pod *corev1.Pod, deleted bool) {
	if !mayReleaseClaims(pod, deleted) {
		return
	}
	for _, name := range claimNames(pod) {
		c.queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: name})
	}
}

func asPod(obj any) *corev1.Pod {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o
	case cache.DeletedFinalStateUnknown:
		pod, _ := o.Obj.(*corev1.Pod)
		return pod
	}
	return nil
}

func podPVCIndexFunc(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	names := claimNames(pod)
	for i, n := range names {
		names[i] = pod.Namespace + "/" + n
	}
	return names, nil
}
