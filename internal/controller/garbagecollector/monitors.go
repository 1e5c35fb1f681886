package garbagecollector

import (
	"context"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
)

// rediscoverMinInterval bounds how often a reference that cannot be
// mapped (D16) triggers an early discovery refresh.
const rediscoverMinInterval = time.Second

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// monitor is the metadata informer of one resource.
type monitor struct {
	gvk      schema.GroupVersionKind
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc // nil until started
}

func (m *monitor) hasSynced() bool { return m.informer.HasSynced() }

// discoveryLoop refreshes discovery every resync period, and early on
// request, until ctx ends.
func (c *Controller) discoveryLoop(ctx context.Context, known map[schema.GroupVersionResource]schema.GroupVersionKind) {
	tick := c.clock.NewTicker(c.resync)
	defer tick.Stop()
	var lastEarly time.Time
	// deferred fires when an early request that came too soon may run: a
	// request is postponed, never dropped, so the last change (a CRD
	// established right after it was created) is always seen.
	var deferred <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		case <-deferred:
			deferred = nil
			lastEarly = c.clock.Now()
		case <-c.rediscover:
			if wait := rediscoverMinInterval - c.clock.Since(lastEarly); wait > 0 {
				if deferred == nil {
					deferred = c.clock.After(wait)
				}
				continue
			}
			lastEarly = c.clock.Now()
		}
		known = c.syncDiscovery(ctx, known)
	}
}

// requestRediscovery asks the discovery loop for an early refresh.
func (c *Controller) requestRediscovery() {
	select {
	case c.rediscover <- struct{}{}:
	default:
	}
}

// syncDiscovery reads discovery and, when the deletable resources changed,
// resets the mapper and adds and removes monitors (upstream Sync). It
// returns the resources now monitored.
func (c *Controller) syncDiscovery(ctx context.Context, old map[schema.GroupVersionResource]schema.GroupVersionKind) map[schema.GroupVersionResource]schema.GroupVersionKind {
	found, err := c.deletableResources(ctx)
	if err != nil {
		c.log.Warn("discovery failed", "err", err)
	}
	if len(found) == 0 {
		c.metrics.errors.WithLabelValues("discovery").Inc()
		return old
	}
	// Keep synced monitors of groups whose discovery failed this time, so
	// a flaky aggregated API does not drop and re-list its resources.
	if failed, ok := discovery.GroupDiscoveryFailedErrorGroups(err); ok {
		c.metrics.errors.WithLabelValues("discovery").Inc()
		for gvr, gvk := range old {
			if _, bad := failed[gvr.GroupVersion()]; bad && c.resourceSynced(gvr) {
				found[gvr] = gvk
			}
		}
	}
	if maps.Equal(old, found) {
		return old
	}
	if r, ok := c.mapper.(meta.ResettableRESTMapper); ok {
		r.Reset()
	}
	c.syncMonitors(found)
	return found
}

// deletableResources lists the preferred-version resources that support
// delete, list and watch, minus the ignored ones (D1).
func (c *Controller) deletableResources(ctx context.Context) (map[schema.GroupVersionResource]schema.GroupVersionKind, error) {
	lists, err := discovery.ServerPreferredResourcesWithContext(ctx, discovery.ToDiscoveryInterfaceWithContext(c.discovery))
	out := map[schema.GroupVersionResource]schema.GroupVersionKind{}
	lists = discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete", "list", "watch"}}, lists)
	for _, rl := range lists {
		gv, perr := schema.ParseGroupVersion(rl.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range rl.APIResources {
			gvr := gv.WithResource(r.Name)
			if _, ok := c.ignored[gvr.GroupResource()]; ok {
				continue
			}
			out[gvr] = gv.WithKind(r.Kind)
		}
	}
	return out, err
}

func (c *Controller) resourceSynced(gvr schema.GroupVersionResource) bool {
	c.monitorLock.RLock()
	defer c.monitorLock.RUnlock()
	m, ok := c.monitors[gvr]
	return ok && m.hasSynced()
}

// syncMonitors makes the monitors match resources: new resources get an
// informer (started at once when Run is running), gone ones are stopped.
func (c *Controller) syncMonitors(resources map[schema.GroupVersionResource]schema.GroupVersionKind) {
	c.monitorLock.Lock()
	defer c.monitorLock.Unlock()
	added, removed := 0, 0
	for gvr, m := range c.monitors {
		if gvk, ok := resources[gvr]; ok && gvk == m.gvk {
			continue
		}
		if m.cancel != nil {
			m.cancel()
		}
		delete(c.monitors, gvr)
		removed++
	}
	for gvr, gvk := range resources {
		if _, ok := c.monitors[gvr]; ok {
			continue
		}
		m := &monitor{gvk: gvk, informer: c.newInformer(gvr, gvk)}
		c.monitors[gvr] = m
		added++
		if c.monitorCtx == nil || c.monitorCtx.Err() != nil {
			continue
		}
		mctx, cancel := context.WithCancel(c.monitorCtx)
		m.cancel = cancel
		c.monitorWG.Go(func() { m.informer.RunWithContext(mctx) })
	}
	if added > 0 || removed > 0 {
		c.log.Info("resource monitors changed", "added", added, "removed", removed, "total", len(c.monitors))
	}
}

// newInformer builds the metadata informer of one resource, without
// resync, feeding the graph builder.
func (c *Controller) newInformer(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind) cache.SharedIndexInformer {
	inf := metadatainformer.NewFilteredMetadataInformer(c.metadata, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		c.log.Debug("monitor watch error", "resource", resourceName(gvr), "err", err)
	})
	// A CRD that changes may add or withdraw custom resources: look at
	// discovery again soon, so they are monitored without waiting for the
	// next period (issue 8; upstream waits for it).
	crds := gvr == crdResource
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			c.graphChanges.Add(&event{eventType: addEvent, obj: obj, gvk: gvk})
			if crds {
				c.requestRediscovery()
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			c.graphChanges.Add(&event{eventType: updateEvent, obj: newObj, oldObj: oldObj, gvk: gvk})
			if crds {
				c.requestRediscovery()
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			c.graphChanges.Add(&event{eventType: deleteEvent, obj: obj, gvk: gvk})
			if crds {
				c.requestRediscovery()
			}
		},
	})
	return inf
}
