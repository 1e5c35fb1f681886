package job

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// trackStatusAndRemoveFinalizers counts finished pods without losing or
// double-counting any (spec F5, upstream
// trackJobStatusAndRemoveFinalizers):
//
//  1. the uids of newly finished pods go into
//     status.uncountedTerminatedPods, with the interim FailureTarget or
//     SuccessCriteriaMet condition, in one status write;
//  2. their tracking finalizers are removed;
//  3. the uids whose finalizer is gone move into succeeded / failed;
//  4. the terminal Complete or Failed condition is added once nothing is
//     uncounted or terminating.
//
// At most MaxUncountedPods pods are handled per sync.
func (c *Controller) trackStatusAndRemoveFinalizers(ctx context.Context, jc *syncCtx, needsFlush bool) error {
	job := jc.job
	indexed := isIndexed(job)
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	if indexed {
		// Completed indexes are introduced in order.
		sort.SliceStable(jc.pods, func(i, j int) bool { return completionIndex(jc.pods[i]) < completionIndex(jc.pods[j]) })
	}
	withFinalizer := uidSet{}
	for _, p := range jc.pods {
		if hasTrackingFinalizer(p) && !jc.expectedRm.has(p.UID) {
			withFinalizer[p.UID] = struct{}{}
		}
	}
	oldSucceeded, oldFailed := job.Status.Succeeded, job.Status.Failed
	if cleanUncounted(&job.Status, withFinalizer) {
		needsFlush = true
	}
	uncounted := job.Status.UncountedTerminatedPods
	var toRemove []*corev1.Pod
	newIndexes := 0
	reachedMax := false
	for _, p := range jc.pods {
		if !hasTrackingFinalizer(p) || jc.expectedRm.has(p.UID) {
			// Counted by an earlier sync.
			continue
		}
		failed := isPodFailed(p, job)
		// Upstream canRemoveFinalizer: the Job is deleting or finished,
		// or the pod is.
		if job.DeletionTimestamp == nil && jc.finishedCondition == nil && p.Status.Phase != corev1.PodSucceeded {
			if !failed {
				continue
			}
			// With backoffLimitPerIndex the index's last failed pod
			// stays until its replacement copied its failure count.
			if d, ok := jc.delayed[completionIndex(p)]; ok && d.UID == p.UID {
				continue
			}
		}
		toRemove = append(toRemove, p)
		ix := completionIndex(p)
		validIndex := ix != unknownIndex && ix < completions
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !jc.uncountedFailed.has(p.UID):
			if indexed {
				if _, seen := jc.prevSucceededIdx[ix]; validIndex && !seen {
					newIndexes++
					needsFlush = true
				}
			} else if !jc.uncountedSucceeded.has(p.UID) {
				uncounted.Succeeded = append(uncounted.Succeeded, p.UID)
				needsFlush = true
			}
		case failed || (jc.finishedCondition != nil && jc.finishedCondition.Type != batchv1.JobSuccessCriteriaMet):
			// A finished Job counts its unfinished pods as failed; an
			// Ignore rule of the podFailurePolicy keeps a failure out
			// of status.failed (upstream).
			if !jc.uncountedFailed.has(p.UID) && (!indexed || validIndex) &&
				matchPodFailurePolicy(job.Spec.PodFailurePolicy, p).counts() {
				uncounted.Failed = append(uncounted.Failed, p.UID)
				needsFlush = true
			}
		}
		if newIndexes+len(uncounted.Succeeded)+len(uncounted.Failed) >= MaxUncountedPods {
			// The next sync goes on: the status write queues the Job.
			reachedMax = true
			break
		}
	}
	if indexed {
		s := jc.succeededIdx.String()
		if s != job.Status.CompletedIndexes {
			needsFlush = true
		}
		job.Status.Succeeded = int32(len(jc.succeededIdx))
		job.Status.CompletedIndexes = s
		// status.failedIndexes is set exactly when backoffLimitPerIndex
		// is (upstream).
		var failedIdx *string
		if jc.failedIdx != nil {
			failedIdx = ptr.To(jc.failedIdx.String())
		}
		if !ptr.Equal(job.Status.FailedIndexes, failedIdx) {
			job.Status.FailedIndexes = failedIdx
			needsFlush = true
		}
	}
	now := c.clock.Now()
	if fc := jc.finishedCondition; fc != nil && fc.Type == batchv1.JobFailureTarget {
		// The interim condition records the failure before the
		// finalizers go; Failed follows once the pods are gone.
		job.Status.Conditions = append(job.Status.Conditions, *fc)
		needsFlush = true
		jc.finishedCondition = newCondition(batchv1.JobFailed, fc.Reason, fc.Message, now)
	}
	if fc := jc.finishedCondition; fc != nil && fc.Type == batchv1.JobSuccessCriteriaMet {
		if findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet) == nil {
			job.Status.Conditions = append(job.Status.Conditions, *fc)
			needsFlush = true
		}
		jc.finishedCondition = newCondition(batchv1.JobComplete, fc.Reason, fc.Message, now)
	}

	// 1. Flush the uncounted uids and the interim condition.
	if needsFlush {
		updated, err := c.updateStatus(ctx, job)
		if err != nil {
			return fmt.Errorf("adding uncounted pods to status: %w", err)
		}
		c.backoff.update(jc.key, jc.backoff)
		c.countFinished(oldSucceeded, oldFailed, updated)
		oldSucceeded, oldFailed = updated.Status.Succeeded, updated.Status.Failed
		job, jc.job = updated, updated
		if job.Status.UncountedTerminatedPods == nil {
			job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
		}
		needsFlush = false
	}
	// 2. Remove the finalizers; 3. count what lost them.
	var rmErr error
	if len(toRemove) > 0 {
		var removed []bool
		removed, rmErr = c.removeTrackingFinalizers(ctx, jc.key, toRemove)
		for i, p := range toRemove {
			if removed[i] {
				delete(withFinalizer, p.UID)
			}
		}
	}
	if cleanUncounted(&job.Status, withFinalizer) {
		needsFlush = true
	}
	if rmErr != nil {
		if needsFlush {
			if _, err := c.updateStatus(ctx, job); err != nil {
				return errors.Join(rmErr, fmt.Errorf("removing uncounted pods from status: %w", err))
			}
		}
		return rmErr
	}
	// 4. The terminal condition.
	finished := !reachedMax && c.enactFinished(jc)
	if finished {
		needsFlush = true
	}
	if needsFlush {
		updated, err := c.updateStatus(ctx, job)
		if err != nil {
			return fmt.Errorf("removing uncounted pods from status: %w", err)
		}
		c.countFinished(oldSucceeded, oldFailed, updated)
		if finished {
			c.recordFinished(updated, jc.finishedCondition)
			c.backoff.remove(jc.key)
		}
	}
	return nil
}

// enactFinished adds the terminal condition once every finished pod is
// counted and none terminates (upstream enactJobFinished with
// delayTerminalCondition, on in v1.37).
func (c *Controller) enactFinished(jc *syncCtx) bool {
	fc := jc.finishedCondition
	if fc == nil {
		return false
	}
	job := jc.job
	if u := job.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		return false
	}
	if jc.terminating > 0 {
		return false
	}
	job.Status.Conditions, _ = ensureCondition(job.Status.Conditions, fc.Type, fc.Status, fc.Reason, fc.Message, c.clock.Now())
	if fc.Type == batchv1.JobComplete {
		t := findCondition(job.Status.Conditions, batchv1.JobComplete).LastTransitionTime
		job.Status.CompletionTime = &t
	}
	return true
}

// recordFinished records the Job's end (upstream recordJobFinished).
func (c *Controller) recordFinished(job *batchv1.Job, fc *batchv1.JobCondition) {
	if fc.Type == batchv1.JobComplete {
		if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		c.event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		c.metrics.jobsFinished.WithLabelValues("succeeded", fc.Reason).Inc()
		return
	}
	c.event(job, corev1.EventTypeWarning, fc.Reason, "%s", fc.Message)
	c.metrics.jobsFinished.WithLabelValues("failed", fc.Reason).Inc()
}

// countFinished counts the pods the status now counts.
func (c *Controller) countFinished(oldSucceeded, oldFailed int32, job *batchv1.Job) {
	if d := job.Status.Succeeded - oldSucceeded; d > 0 {
		c.metrics.podsFinished.WithLabelValues("succeeded").Add(float64(d))
	}
	if d := job.Status.Failed - oldFailed; d > 0 {
		c.metrics.podsFinished.WithLabelValues("failed").Add(float64(d))
	}
}

// updateStatus writes job's status through the status subresource.
func (c *Controller) updateStatus(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	updated, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating the status of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	c.written.record(keyOf(job.Namespace, job.Name), updated.ResourceVersion)
	return updated, nil
}

// writtenStatus remembers the resourceVersion of the last status this
// controller wrote per Job. The Job and pod informers are separate
// watches: a sync may see a pod whose tracking finalizer it removed
// (counted in a status it wrote) while the Job in its cache still lacks
// that status, and would take the pod for uncounted and create a
// replacement. sync waits for the cache to catch up instead.
type writtenStatus struct {
	mu    sync.Mutex
	byKey map[string]uint64
}

func (w *writtenStatus) record(key, rv string) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return // not a number this server hands out: nothing to compare
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.byKey[key] = max(w.byKey[key], n)
}

// stale reports whether the cached Job predates a status written here.
func (w *writtenStatus) stale(key, rv string) bool {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return n < w.byKey[key]
}

func (w *writtenStatus) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byKey, key)
}

// removeTrackingFinalizers removes the finalizer from pods in parallel,
// awaiting the updates in the finalizer expectations; removed[i] reports
// pod i done (gone counts as done).
func (c *Controller) removeTrackingFinalizers(ctx context.Context, key string, pods []*corev1.Pod) ([]bool, error) {
	removed := make([]bool, len(pods))
	errs := make([]error, len(pods))
	c.finalizers.expect(key, uidsOf(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			err := c.removeFinalizer(ctx, p)
			if err != nil {
				// No update will show this removal.
				c.finalizers.observed(key, p.UID)
				if !apierrors.IsNotFound(err) {
					errs[i] = fmt.Errorf("removing tracking finalizer: %w", err)
					return
				}
			}
			removed[i] = true
		})
	}
	wg.Wait()
	return removed, errors.Join(errs...)
}

// syncOrphanPod removes the tracking finalizer from a pod that no
// unfinished Job of this controller controls: an orphan (B7's orphan
// deletion released it), or a pod whose Job is gone or finished
// (upstream syncOrphanPod).
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", key, err)
	}
	pod, err := c.podLister.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
			// Another kind's pod: not ours to touch.
			return nil
		}
		if j := c.resolveControllerRef(namespace, ref); j != nil {
			if m := j.Spec.ManagedBy; m != nil && *m != batchv1.JobControllerName {
				return nil
			}
			if !isFinished(j) {
				return nil
			}
		}
	}
	if err := c.removeFinalizer(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
