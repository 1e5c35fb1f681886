package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// sync brings one owner's pods and status in line (upstream
// syncReplicaSet). It acts on pods only when the owner's expectations are
// satisfied and the owner is not being deleted (G11), and writes status
// every time.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", key, err)
	}
	rs, err := c.kind.cached(namespace, name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	needsSync := c.expectations.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// Validation forbids it; a retry would not help.
		c.log.Error("invalid selector", c.kind.gvk.Kind, key, "err", err)
		return nil
	}
	// The pods this owner controls and the orphans of its namespace.
	all, err := podcontrol.PodsForOwner(c.podIndexer, rs, c.kind.gvk.Kind, true)
	if err != nil {
		return err
	}
	// G11: only active pods are claimed and counted.
	active, err := c.claimPods(ctx, rs, selector, podcontrol.FilterActivePods(all))
	if err != nil {
		return err
	}
	var terminating []*corev1.Pod
	if c.kind.terminatingReplicas {
		terminating = podcontrol.FilterClaimedPods(rs, selector, podcontrol.FilterTerminatingPods(all))
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, active, rs)
	}
	rs = rs.DeepCopy()
	// One reading of the clock for the status and the next availability
	// check, so that they agree.
	now := c.clock.Now()
	status := calculateStatus(rs, active, terminating, manageErr, c.kind.terminatingReplicas, now)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	if manageErr != nil {
		return manageErr
	}
	// The last line of defence for availability: requeue when the next
	// pod becomes available (minReadySeconds at the latest).
	if minReady := updated.Spec.MinReadySeconds; minReady > 0 && updated.Status.ReadyReplicas != updated.Status.AvailableReplicas {
		next := time.Duration(minReady) * time.Second
		if d := podcontrol.NextAvailabilityCheck(active, minReady, now, c.clock); d != nil {
			next = *d
		}
		c.queue.AddAfter(key, next)
	}
	return nil
}

// claimPods claims pods for rs; an adoption first rereads rs live, since a
// cached owner may already be deleted or replaced (upstream claimPods).
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	canAdopt := podcontrol.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
		fresh, err := c.kind.get(ctx, rs.Namespace, rs.Name)
		if err != nil {
			return nil, err
		}
		if fresh.UID != rs.UID {
			return nil, fmt.Errorf("original %s %s/%s is gone: got uid %s, wanted %s", c.kind.gvk.Kind, rs.Namespace, rs.Name, fresh.UID, rs.UID)
		}
		return fresh, nil
	})
	m := podcontrol.NewRefManager(rs, c.kind.gvk, selector, canAdopt)
	claimed, err := m.ClaimPods(ctx, c.pods, pods)
	if err != nil {
		return claimed, fmt.Errorf("claiming pods: %w", err)
	}
	return claimed, nil
}

// replicas is spec.replicas; the API defaults it to 1.
func replicas(rs *appsv1.ReplicaSet) int {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return int(*rs.Spec.Replicas)
}

// manageReplicas creates or deletes pods until active matches
// spec.replicas, at most c.burst in one sync (upstream manageReplicas).
func (c *Controller) manageReplicas(ctx context.Context, active []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	key := keyOf(rs)
	diff := len(active) - replicas(rs)
	switch {
	case diff < 0:
		return c.createPods(ctx, rs, min(-diff, c.burst))
	case diff > 0:
		return c.deletePods(ctx, rs, active, min(diff, c.burst))
	}
	c.log.Debug("replicas in line", c.kind.gvk.Kind, key, "replicas", len(active))
	return nil
}

// createPods creates n pods in slow-start batches. Creates that were never
// attempted after a failure are not expected: the next sync retries them.
func (c *Controller) createPods(ctx context.Context, rs *appsv1.ReplicaSet, n int) error {
	key := keyOf(rs)
	// Expected before the first create, so that the informer's add can
	// never arrive before the expectation.
	c.expectations.ExpectCreations(key, n)
	c.log.Debug("too few replicas", c.kind.gvk.Kind, key, "need", replicas(rs), "creating", n)
	owner := podcontrol.ObjectReference(rs, c.kind.gvk)
	ref := podcontrol.NewControllerRef(rs, c.kind.gvk)
	created, err := podcontrol.SlowStartBatch(n, podcontrol.SlowStartInitialBatchSize, func() error {
		_, err := c.pods.CreatePod(ctx, rs.Namespace, &rs.Spec.Template, owner, ref, "")
		c.metrics.podOp("create", err)
		if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			// Every create would fail the same way; the namespace is
			// going away with this owner.
			return nil
		}
		return err
	})
	if skipped := n - created; skipped > 0 {
		c.log.Debug("slow-start failure, skipping creates", c.kind.gvk.Kind, key, "skipped", skipped)
		c.expectations.LowerCreations(key, skipped)
	}
	return err
}

// deletePods deletes n of active, chosen in G11's order, in parallel.
func (c *Controller) deletePods(ctx context.Context, rs *appsv1.ReplicaSet, active []*corev1.Pod, n int) error {
	key := keyOf(rs)
	c.log.Debug("too many replicas", c.kind.gvk.Kind, key, "need", replicas(rs), "deleting", n)
	related, err := c.relatedPods(rs)
	if err != nil {
		// The ranks are a preference; delete anyway.
		c.log.Warn("listing related pods", c.kind.gvk.Kind, key, "err", err)
	}
	victims := podcontrol.PodsToDelete(append([]*corev1.Pod(nil), active...), related, n, c.clock.Now())
	podKeys := make([]string, len(victims))
	for i, p := range victims {
		podKeys[i] = podcontrol.PodKey(p)
	}
	// Tracked by pod, so that a pod seen first terminating and then gone
	// counts once.
	c.expectations.ExpectDeletions(key, podKeys)
	owner := podcontrol.ObjectReference(rs, c.kind.gvk)
	errs := make([]error, len(victims))
	var wg sync.WaitGroup
	for i, p := range victims {
		wg.Go(func() {
			err := c.pods.DeletePod(ctx, rs.Namespace, p.Name, owner)
			if err == nil {
				c.metrics.podOp("delete", nil)
				return
			}
			// The informer will not show this deletion.
			c.expectations.DeletionObserved(key, podKeys[i])
			if !apierrors.IsNotFound(err) {
				c.metrics.podOp("delete", err)
				errs[i] = err
			}
		})
	}
	wg.Wait()
	// The errors are likely alike; upstream returns the first.
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// relatedPods returns the pods of every owner that shares rs's controller
// (the ReplicaSets of one Deployment), each once: the siblings by which
// G11 ranks victims on the same node. Without a controller there are none
// (upstream getIndirectlyRelatedPods).
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) ([]*corev1.Pod, error) {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil, nil
	}
	siblings, err := c.kind.byIndex(controllerUIDIndex, string(ref.UID))
	if err != nil {
		return nil, err
	}
	seen := map[types.UID]bool{}
	var out []*corev1.Pod
	var errs []error
	for _, s := range siblings {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil {
			continue // an invalid selector matches no pod
		}
		pods, err := c.podLister.Pods(s.Namespace).List(sel)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				out = append(out, p)
			}
		}
	}
	return out, errors.Join(errs...)
}
