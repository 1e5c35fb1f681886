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
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
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
	clock      clock.WithTicker
	log        *slog.Logger
	workers    int
	pvcs       cache.SharedIndexInformer
	pods       cache.SharedIndexInformer
	pvcLister  corelisters.PersistentVolumeClaimLister
	podIndexer cache.Indexer
	metrics    *metrics
	started    atomic.Bool

	// Set by Run before its handlers and goroutines start.
	queue   workqueue.TypedRateLimitingInterface[string]
	batches *batches
}

// New builds the controller and adds its pod index to cfg.Informers; start
// the factory after it. New starts no goroutine: the event handlers and
// the queue live as long as Run.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("pvcprotection: Client and Informers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	pvcs := cfg.Informers.Core().V1().PersistentVolumeClaims()
	pods := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:     cfg.Client,
		clock:      cfg.Clock,
		log:        cfg.Logger.With("controller", "pvcprotection"),
		workers:    cfg.Workers,
		pvcs:       pvcs.Informer(),
		pods:       pods.Informer(),
		pvcLister:  pvcs.Lister(),
		podIndexer: pods.Informer().GetIndexer(),
		metrics:    newMetrics(),
	}
	if _, ok := c.podIndexer.GetIndexers()[podPVCIndex]; !ok {
		if err := c.pods.AddIndexers(cache.Indexers{podPVCIndex: podPVCIndexFunc}); err != nil {
			return nil, fmt.Errorf("pvcprotection: adding the pod index: %w", err)
		}
	}
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	return c, nil
}

// Run processes claims until ctx ends, then stops its goroutines, removes
// its event handlers and returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("pvcprotection: Run called twice")
	}
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "pvcprotection", Clock: c.clock},
	)
	c.batches = newBatches()
	var wg sync.WaitGroup
	defer func() {
		c.queue.ShutDown()
		c.batches.shutDown()
		wg.Wait()
		c.log.Info("stopped")
	}()
	// Handlers added to a running informer first receive an add for every
	// cached object, so nothing is missed by adding them here.
	pvcReg, err := c.pvcs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.pvcChanged,
		UpdateFunc: func(_, obj any) { c.pvcChanged(obj) },
	})
	if err != nil {
		return fmt.Errorf("pvcprotection: adding the PVC handler: %w", err)
	}
	defer c.removeHandler(c.pvcs, pvcReg)
	podReg, err := c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj, false) },
		UpdateFunc: func(old, obj any) { c.podChanged(old, obj, false) },
		DeleteFunc: func(obj any) { c.podChanged(nil, obj, true) },
	})
	if err != nil {
		return fmt.Errorf("pvcprotection: adding the pod handler: %w", err)
	}
	defer c.removeHandler(c.pods, podReg)
	c.log.Info("starting", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.pvcs.HasSynced, c.pods.HasSynced, pvcReg.HasSynced, podReg.HasSynced) {
		return nil
	}
	wg.Go(c.dispatch)
	for range c.workers {
		wg.Go(func() {
			for c.processBatch(ctx) {
			}
		})
	}
	<-ctx.Done()
	return nil
}

func (c *Controller) removeHandler(inf cache.SharedIndexInformer, reg cache.ResourceEventHandlerRegistration) {
	if err := inf.RemoveEventHandler(reg); err != nil {
		c.log.Warn("removing event handler", "err", err)
	}
}

// dispatch moves claim keys from the rate-limited queue into per-namespace
// batches. A key stays in processing (not Done) until its batch ran, so an
// event during processing queues it again afterwards.
func (c *Controller) dispatch() {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		ns, _, err := cache.SplitMetaNamespaceKey(key)
		if err != nil {
			c.log.Error("bad claim key", "key", key, "err", err)
			c.queue.Forget(key)
			c.queue.Done(key)
			continue
		}
		c.batches.add(ns, key)
	}
}

// processBatch handles the claims of one namespace with at most one live
// pod LIST. It returns false once the controller stops.
func (c *Controller) processBatch(ctx context.Context) bool {
	ns, keys, ok := c.batches.next()
	if !ok {
		return false
	}
	live := &livePods{}
	for _, key := range keys {
		_, name, _ := cache.SplitMetaNamespaceKey(key)
		err := c.sync(ctx, ns, name, live)
		c.metrics.syncs.Inc()
		if err != nil {
			c.metrics.errors.Inc()
			c.log.Error("processing claim failed, will retry", "namespace", ns, "name", name, "err", err)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
	return true
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
		c.queue.Add(pvc.Namespace + "/" + pvc.Name)
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
		c.queue.Add(pod.Namespace + "/" + name)
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
