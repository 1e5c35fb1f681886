package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	// errEnqueuedVirtualDelete: the item is absent; the graph builder
	// takes over.
	errEnqueuedVirtualDelete = errors.New("enqueued virtual delete event")
	// errNamespacedOwnerOfClusterScopedObject: such a reference can never
	// be resolved, so the item is never collected (D13).
	errNamespacedOwnerOfClusterScopedObject = errors.New("cluster-scoped objects cannot refer to namespaced owners")
)

// restMappingError: an owner reference's apiVersion and kind do not map to
// a resource (D16). The item is retried with backoff.
type restMappingError struct{ kind, apiVersion string }

func (e *restMappingError) Error() string {
	return fmt.Sprintf("unable to get REST mapping for %s/%s", e.apiVersion, e.kind)
}

// orphanParallelism bounds the concurrent patches of one orphaning.
const orphanParallelism = 16

func (c *Controller) processAttemptToDeleteWorker(ctx context.Context) bool {
	n, quit := c.attemptToDelete.Get()
	if quit {
		return false
	}
	defer c.attemptToDelete.Done(n)
	if c.attemptToDeleteWorker(ctx, n) {
		c.attemptToDelete.AddRateLimited(n)
	} else {
		c.attemptToDelete.Forget(n)
	}
	return true
}

// attemptToDeleteWorker processes one node and reports whether to requeue
// it with backoff.
func (c *Controller) attemptToDeleteWorker(ctx context.Context, n *node) (requeue bool) {
	if !n.isObserved() {
		// A virtual node the graph has since dropped or observed is stale.
		cur, ok := c.uidToNode.Read(n.identity.UID)
		if !ok || cur.isObserved() {
			return false
		}
	}
	err := c.attemptToDeleteItem(ctx, n)
	var rme *restMappingError
	switch {
	case errors.Is(err, errEnqueuedVirtualDelete), errors.Is(err, errNamespacedOwnerOfClusterScopedObject):
		return false
	case errors.As(err, &rme):
		c.log.Debug("cannot map a reference; retrying", "item", n.identity, "err", err)
		c.metrics.errors.WithLabelValues("attempt_to_delete").Inc()
		c.requestRediscovery()
		return true
	case err != nil:
		if ctx.Err() == nil {
			c.log.Warn("error syncing item", "item", n.identity, "err", err)
		}
		c.metrics.errors.WithLabelValues("attempt_to_delete").Inc()
		return true
	case !n.isObserved():
		// The owner exists but its informer has not shown it yet.
		return true
	}
	return false
}

// isDangling verifies one owner reference of item (D3, D5, D12–D15): the
// owner is looked up at the reference's coordinates in item's namespace
// (or cluster-wide for cluster-scoped kinds); a 404 or another uid makes
// it dangling.
func (c *Controller) isDangling(ctx context.Context, ref metav1.OwnerReference, item *node) (bool, *metav1.PartialObjectMetadata, error) {
	key := objectReference{OwnerReference: ownerReferenceCoordinates(ref)}
	if c.absentOwnerCache.Has(key) {
		return true, nil, nil
	}
	key.Namespace = item.identity.Namespace
	if c.absentOwnerCache.Has(key) {
		return true, nil, nil
	}
	gvr, namespaced, err := c.apiResource(ref.APIVersion, ref.Kind)
	if err != nil {
		return false, nil, err
	}
	if !namespaced {
		key.Namespace = ""
	}
	if item.identity.Namespace == "" && namespaced {
		return false, nil, errNamespacedOwnerOfClusterScopedObject
	}
	owner, err := c.metadata.Resource(gvr).Namespace(key.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.absentOwnerCache.Add(key)
		return true, nil, nil
	case err != nil:
		return false, nil, err
	case owner.UID != ref.UID:
		c.absentOwnerCache.Add(key)
		return true, nil, nil
	}
	return false, owner, nil
}

// classifyReferences sorts item's references into solid, dangling and
// waitingForDependentsDeletion (D4).
func (c *Controller) classifyReferences(ctx context.Context, item *node, refs []metav1.OwnerReference) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range refs {
		isDangling, owner, err := c.isDangling(ctx, ref, item)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case isDangling:
			dangling = append(dangling, ref)
		case beingDeleted(owner) && hasFinalizer(owner, metav1.FinalizerDeleteDependents):
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}
	return solid, dangling, waiting, nil
}

func ownerRefsToUIDs(refs []metav1.OwnerReference) []types.UID {
	out := make([]types.UID, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.UID)
	}
	return out
}

// attemptToDeleteItem is upstream's decision for one item (D4).
func (c *Controller) attemptToDeleteItem(ctx context.Context, item *node) error {
	if item.isBeingDeleted() && !item.isDeletingDependents() {
		return nil
	}
	latest, err := c.getObject(ctx, item.identity)
	switch {
	case apierrors.IsNotFound(err):
		c.enqueueVirtualDeleteEvent(item.identity)
		return errEnqueuedVirtualDelete
	case err != nil:
		return err
	case latest.UID != item.identity.UID:
		c.enqueueVirtualDeleteEvent(item.identity)
		return errEnqueuedVirtualDelete
	}
	if item.isDeletingDependents() {
		return c.processDeletingDependentsItem(ctx, item)
	}
	refs := latest.OwnerReferences
	if len(refs) == 0 {
		return nil
	}
	solid, dangling, waiting, err := c.classifyReferences(ctx, item, refs)
	if err != nil {
		return err
	}
	switch {
	case len(solid) > 0:
		// D6: keep the item, prune the references to absent owners and to
		// owners in foreground deletion.
		if len(dangling) == 0 && len(waiting) == 0 {
			return nil
		}
		uids := append(ownerRefsToUIDs(dangling), ownerRefsToUIDs(waiting)...)
		smp, err := deleteOwnerRefStrategicMergePatch(item.identity.UID, uids)
		if err != nil {
			return err
		}
		if _, err := c.patch(ctx, item, smp, func(ctx context.Context, n *node) ([]byte, error) {
			return c.deleteOwnerRefJSONMergePatch(ctx, n, uids...)
		}); err != nil {
			return err
		}
		c.metrics.refPatches.Inc()
		return nil
	case len(waiting) > 0 && item.dependentsLength() > 0:
		// D9: the item has dependents of its own, so it is deleted in
		// foreground too. If one of them is itself in foreground deletion,
		// stop blocking our owners first, which breaks cycles.
		for _, dep := range item.getDependents() {
			if !dep.isDeletingDependents() {
				continue
			}
			smp, err := unblockOwnerReferencesStrategicMergePatch(item)
			if err != nil {
				return err
			}
			if _, err := c.patch(ctx, item, smp, c.unblockOwnerReferencesJSONMergePatch); err != nil {
				return err
			}
			break
		}
		return c.deleteItem(ctx, item, latest, metav1.DeletePropagationForeground)
	default:
		// D4/D18: nothing solid left: delete with an explicit policy that
		// keeps the item's own GC finalizer.
		policy := metav1.DeletePropagationBackground
		switch {
		case hasFinalizer(latest, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case hasFinalizer(latest, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return c.deleteItem(ctx, item, latest, policy)
	}
}

func (c *Controller) deleteItem(ctx context.Context, item *node, latest *metav1.PartialObjectMetadata, policy metav1.DeletionPropagation) error {
	c.log.Info("deleting item", "item", item.identity, "propagationPolicy", policy)
	err := c.deleteObject(ctx, item.identity, latest.ResourceVersion, latest.OwnerReferences, policy)
	if apierrors.IsNotFound(err) {
		c.enqueueVirtualDeleteEvent(item.identity)
		return errEnqueuedVirtualDelete
	}
	if err == nil {
		c.metrics.deletes.WithLabelValues(string(policy)).Inc()
	}
	return err
}

// processDeletingDependentsItem finishes a foreground deletion (D9): the
// owner keeps foregroundDeletion while a dependent in the graph blocks it.
func (c *Controller) processDeletingDependentsItem(ctx context.Context, item *node) error {
	blocking := item.blockingDependents()
	if len(blocking) == 0 {
		return c.removeFinalizer(ctx, item, metav1.FinalizerDeleteDependents)
	}
	for _, dep := range blocking {
		if !dep.isDeletingDependents() {
			c.attemptToDelete.Add(dep)
		}
	}
	return nil
}

func (c *Controller) processAttemptToOrphanWorker(ctx context.Context) bool {
	n, quit := c.attemptToOrphan.Get()
	if quit {
		return false
	}
	defer c.attemptToOrphan.Done(n)
	if err := c.attemptToOrphanItem(ctx, n); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("orphaning failed", "owner", n.identity, "err", err)
		}
		c.metrics.errors.WithLabelValues("attempt_to_orphan").Inc()
		c.attemptToOrphan.AddRateLimited(n)
	} else {
		c.attemptToOrphan.Forget(n)
	}
	return true
}

// attemptToOrphanItem removes owner's references from every dependent in
// the graph, then the owner's orphan finalizer (D10).
func (c *Controller) attemptToOrphanItem(ctx context.Context, owner *node) error {
	if err := c.orphanDependents(ctx, owner.identity, owner.getDependents()); err != nil {
		return err
	}
	return c.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents)
}

func (c *Controller) orphanDependents(ctx context.Context, owner objectReference, deps []*node) error {
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(orphanParallelism)
	for _, dep := range deps {
		g.Go(func() error {
			smp, err := deleteOwnerRefStrategicMergePatch(dep.identity.UID, []types.UID{owner.UID})
			if err == nil {
				_, err = c.patch(ctx, dep, smp, func(ctx context.Context, n *node) ([]byte, error) {
					return c.deleteOwnerRefJSONMergePatch(ctx, n, owner.UID)
				})
			}
			if err != nil && !apierrors.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("orphaning %s: %w", dep.identity, err))
				mu.Unlock()
				return nil
			}
			if err == nil {
				c.metrics.orphans.Inc()
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}
