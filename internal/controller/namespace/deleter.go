package namespace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
)

// FinalizerName is the spec.finalizers entry this controller removes once a
// namespace is empty.
const FinalizerName = corev1.FinalizerKubernetes

// finalizerEstimateSeconds is the wait assumed for any remaining item that
// carries a finalizer (spec E10 step 7).
const finalizerEstimateSeconds int64 = 15

// podsResource is deleted before every other resource (spec E10 step 5).
var podsResource = schema.GroupResource{Resource: "pods"}

// remainingError reports that content remains and the namespace should be
// looked at again after the estimate (seconds) has partly passed.
type remainingError struct {
	estimate int64
}

func (e *remainingError) Error() string {
	return fmt.Sprintf("some content remains in the namespace, estimate %d seconds before it is removed", e.estimate)
}

// RequeueAfter, which makes the error a runner.Requeuer, is upstream's
// wait after a pass that left content: half the estimate plus one second.
func (e *remainingError) RequeueAfter() time.Duration {
	return time.Duration(e.estimate/2+1) * time.Second
}

// target is one discovered resource and the collection verbs it supports.
type target struct {
	gvr              schema.GroupVersionResource
	list             bool
	deleteCollection bool
}

// resourceResult is what deleting one resource left behind.
type resourceResult struct {
	// estimate is the wait in seconds before the remaining items should be
	// gone; zero means no estimate, not that nothing remains.
	estimate int64
	// remaining is the number of items still listed.
	remaining int
	// byFinalizer counts the remaining items holding each finalizer.
	byFinalizer map[string]int
}

// sync runs one pass over a namespace (spec E10). It returns nil when the
// namespace is gone, not terminating or finalized, a *remainingError when
// content remains, and any other error for a retry with back-off.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	ns, err = c.retryOnConflict(ctx, ns, c.setTerminating)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if ns.DeletionTimestamp.IsZero() {
		return nil
	}
	// E8: with spec.finalizers already empty there is nothing for us to do,
	// even though the namespace stays Terminating.
	if len(ns.Spec.Finalizers) == 0 {
		return nil
	}
	ns, estimate, err := c.deleteAllContent(ctx, ns)
	if err != nil {
		return err
	}
	if estimate > 0 {
		return &remainingError{estimate: estimate}
	}
	if _, err := c.retryOnConflict(ctx, ns, c.finalize); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	c.log.Info("namespace finalized", "namespace", name)
	return nil
}

// retryOnConflict calls fn until it does not fail with a conflict, reading
// the namespace again before each retry. It fails if the namespace was
// replaced by another with the same name.
func (c *Controller) retryOnConflict(ctx context.Context, ns *corev1.Namespace,
	fn func(context.Context, *corev1.Namespace) (*corev1.Namespace, error)) (*corev1.Namespace, error) {
	for {
		out, err := fn(ctx, ns)
		if err == nil || !apierrors.IsConflict(err) {
			return out, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		latest, err := c.client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if latest.UID != ns.UID {
			return nil, errors.New("namespace uid has changed across retries")
		}
		ns = latest
	}
}

// setTerminating sets status.phase to Terminating through /status if it is
// not already (spec E10 step 2).
func (c *Controller) setTerminating(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	if ns.DeletionTimestamp.IsZero() || ns.Status.Phase == corev1.NamespaceTerminating {
		return ns, nil
	}
	ns = ns.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	return c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
}

// finalize removes the kubernetes finalizer through /finalize, keeping the
// other entries, sorted and without duplicates (spec E10 step 9).
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	keep := sets.New[string]()
	for _, f := range ns.Spec.Finalizers {
		if f != FinalizerName {
			keep.Insert(string(f))
		}
	}
	ns = ns.DeepCopy()
	ns.Spec.Finalizers = make([]corev1.FinalizerName, 0, keep.Len())
	for _, f := range sets.List(keep) {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerName(f))
	}
	return c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
}

// discover lists the preferred namespaced resources that support delete,
// pods first and the rest sorted. Discovery and parsing errors are
// recorded in conds and returned, but whatever was discovered is still
// returned.
func (c *Controller) discover(ctx context.Context, conds *conditionSet) ([]target, []error) {
	var errs []error
	var lists []*metav1.APIResourceList
	var err error
	if d, ok := c.discovery.(discovery.ServerResourcesInterfaceWithContext); ok {
		lists, err = d.ServerPreferredNamespacedResourcesWithContext(ctx)
	} else {
		lists, err = c.discovery.ServerPreferredNamespacedResources()
	}
	if err != nil {
		// Not fatal: delete what could be discovered.
		errs = append(errs, err)
		conds.discoveryFailed(err)
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete"}}, lists)
	if _, err := discovery.GroupVersionResources(deletable); err != nil {
		errs = append(errs, err)
		conds.groupVersionFailed(err)
		return nil, errs
	}
	seen := map[schema.GroupVersionResource]bool{}
	var targets []target
	for _, rl := range deletable {
		gv, _ := schema.ParseGroupVersion(rl.GroupVersion) // parsed above
		for _, r := range rl.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if seen[gvr] {
				continue
			}
			seen[gvr] = true
			targets = append(targets, target{
				gvr:              gvr,
				list:             slices.Contains(r.Verbs, "list"),
				deleteCollection: slices.Contains(r.Verbs, "deletecollection"),
			})
		}
	}
	slices.SortFunc(targets, func(a, b target) int {
		if ap, bp := a.gvr.GroupResource() == podsResource, b.gvr.GroupResource() == podsResource; ap != bp {
			if ap {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.gvr.Group, b.gvr.Group), cmp.Compare(a.gvr.Resource, b.gvr.Resource),
			cmp.Compare(a.gvr.Version, b.gvr.Version))
	})
	return targets, errs
}

// deleteAllContent deletes everything in the namespace, pods first, writes
// the conditions and returns the namespace as last written, the estimate
// in seconds and the errors met (spec E10 steps 4 to 8).
func (c *Controller) deleteAllContent(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, int64, error) {
	var conds conditionSet
	targets, errs := c.discover(ctx, &conds)
	deletedAt := ns.DeletionTimestamp.Time
	totals := newContentTotals()
	var estimate int64
	podsRemain := false
	for _, t := range targets {
		r, err := c.deleteResource(ctx, t, ns.Name, deletedAt)
		if err != nil {
			errs = append(errs, err)
			conds.deleteContentFailed(err)
		}
		estimate = max(estimate, r.estimate)
		totals.add(t.gvr, r)
		if t.gvr.GroupResource() == podsResource && r.remaining > 0 {
			// Pods first: leave everything else alone while pods remain.
			podsRemain = true
			break
		}
	}
	// Upstream counts what remains only once the pods are gone: while
	// pods terminate the content conditions read as all removed (E10
	// step 5, observed on v1.37.2 by the differential run).
	if !podsRemain {
		conds.contentRemaining(totals)
	}
	// Always recompute: a condition that failed before may be fine now.
	ns = ns.DeepCopy()
	if conds.apply(&ns.Status, c.clock.Now()) {
		updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
		if err != nil {
			c.log.Warn("updating the namespace conditions", "namespace", ns.Name, "err", err)
		} else {
			ns = updated
		}
	}
	return ns, estimate, utilerrors.NewAggregate(errs)
}

// deleteResource deletes every item of one resource in the namespace and
// reports what is left.
func (c *Controller) deleteResource(ctx context.Context, t target, ns string, deletedAt time.Time) (resourceResult, error) {
	estimate, err := c.estimateGracefulTermination(ctx, t.gvr, ns, deletedAt)
	if err != nil {
		return resourceResult{}, err
	}
	done := false
	if t.deleteCollection {
		if done, err = c.deleteCollection(ctx, t.gvr, ns); err != nil {
			return resourceResult{estimate: estimate}, err
		}
	}
	if !done {
		if err := c.deleteEachItem(ctx, t, ns); err != nil {
			return resourceResult{estimate: estimate}, err
		}
	}
	items, listed, err := c.list(ctx, t, ns)
	if err != nil || !listed {
		return resourceResult{estimate: estimate}, err
	}
	if len(items) == 0 {
		return resourceResult{}, nil
	}
	byFinalizer := map[string]int{}
	for _, item := range items {
		for _, f := range item.Finalizers {
			byFinalizer[f]++
		}
	}
	r := resourceResult{estimate: estimate, remaining: len(items), byFinalizer: byFinalizer}
	switch {
	case estimate != 0:
		return r, nil
	case len(byFinalizer) > 0:
		// Finalizers are normal: give their controllers time.
		r.estimate = finalizerEstimateSeconds
		return r, nil
	}
	return resourceResult{remaining: len(items)},
		fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", ns, t.gvr)
}

// background is the propagation policy of every delete, so that the
// garbage collector never adds the orphan finalizer to namespace content.
func backgroundDelete() metav1.DeleteOptions {
	p := metav1.DeletePropagationBackground
	return metav1.DeleteOptions{PropagationPolicy: &p}
}

// unsupported reports the answers that mean a verb is not served for a
// resource listed by discovery.
func unsupported(err error) bool {
	return apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err)
}

// deleteCollection sends one DELETE on the collection. It reports false
// without an error if the server does not support it.
func (c *Controller) deleteCollection(ctx context.Context, gvr schema.GroupVersionResource, ns string) (bool, error) {
	err := c.metadata.Resource(gvr).Namespace(ns).DeleteCollection(ctx, backgroundDelete(), metav1.ListOptions{})
	switch {
	case err == nil:
		return true, nil
	case unsupported(err):
		return false, nil
	}
	return true, err
}

// list lists the items of a resource in the namespace; listed is false if
// the resource cannot be listed.
func (c *Controller) list(ctx context.Context, t target, ns string) (items []metav1.PartialObjectMetadata, listed bool, err error) {
	if !t.list {
		return nil, false, nil
	}
	l, err := c.metadata.Resource(t.gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	switch {
	case err == nil:
		return l.Items, true, nil
	case unsupported(err):
		return nil, false, nil
	}
	return nil, true, err
}

// deleteEachItem lists a resource and deletes its items one by one,
// ignoring items already gone and items that cannot be deleted.
func (c *Controller) deleteEachItem(ctx context.Context, t target, ns string) error {
	items, listed, err := c.list(ctx, t, ns)
	if err != nil || !listed {
		return err
	}
	for _, item := range items {
		err := c.metadata.Resource(t.gvr).Namespace(ns).Delete(ctx, item.Name, backgroundDelete())
		if err != nil && !unsupported(err) {
			return err
		}
	}
	return nil
}

// estimateGracefulTermination is the wait for pods: the largest grace
// period among pods not yet terminal, or zero once that long has passed
// since the namespace was deleted. Other resources have no estimate.
func (c *Controller) estimateGracefulTermination(ctx context.Context, gvr schema.GroupVersionResource, ns string, deletedAt time.Time) (int64, error) {
	if gvr.GroupResource() != podsResource {
		return 0, nil
	}
	pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	var estimate int64
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if g := p.Spec.TerminationGracePeriodSeconds; g != nil && *g > estimate {
			estimate = *g
		}
	}
	if c.clock.Since(deletedAt) >= time.Duration(estimate)*time.Second {
		return 0, nil
	}
	return estimate, nil
}
