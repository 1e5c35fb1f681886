package job

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// The event handlers follow upstream job_controller.go: Jobs are queued
// on every change; pods queue their controlling Job (observing the
// expectations of creates, deletes and finalizer removals), or, if
// orphans, every Job that selects them, and an orphan (or a pod of a gone
// Job) that still carries the tracking finalizer goes to the orphan queue
// (F5).

func jobFromEvent(obj any) *batchv1.Job {
	j, _ := runner.Unwrap[*batchv1.Job](obj)
	return j
}

func podFromEvent(obj any) *corev1.Pod {
	p, _ := runner.Unwrap[*corev1.Pod](obj)
	return p
}

func (c *Controller) addJob(obj any) {
	if j := jobFromEvent(obj); j != nil {
		c.queue.Add(keyOf(j.Namespace, j.Name))
	}
}

func (c *Controller) updateJob(oldObj, newObj any) {
	old, cur := jobFromEvent(oldObj), jobFromEvent(newObj)
	if old == nil || cur == nil {
		return
	}
	if old.UID != cur.UID {
		c.deleteJob(cache.DeletedFinalStateUnknown{Key: keyOf(old.Namespace, old.Name), Obj: old})
	}
	key := keyOf(cur.Namespace, cur.Name)
	c.queue.Add(key)
	// A changed activeDeadlineSeconds moves the deadline check (upstream
	// updateJob).
	if !isFinished(cur) && cur.Status.StartTime != nil && cur.Spec.ActiveDeadlineSeconds != nil &&
		!ptr.Equal(old.Spec.ActiveDeadlineSeconds, cur.Spec.ActiveDeadlineSeconds) {
		left := time.Duration(*cur.Spec.ActiveDeadlineSeconds)*time.Second - c.clock.Since(cur.Status.StartTime.Time)
		c.queue.AddAfter(key, max(left, 0))
	}
}

// deleteJob forgets the Job's expectations and queues its pods that still
// carry the tracking finalizer for the orphan queue, which removes it now
// that the Job is gone (upstream deleteJob and cleanupPodFinalizers).
func (c *Controller) deleteJob(obj any) {
	j := jobFromEvent(obj)
	if j == nil {
		return
	}
	key := keyOf(j.Namespace, j.Name)
	c.expectations.Delete(key)
	c.finalizers.delete(key)
	c.queue.Add(key)
	pods, err := podcontrol.PodsForOwner(c.podIndexer, j, controllerKind.Kind, false)
	if err != nil {
		c.log.Warn("listing the pods of a deleted job", "job", key, "err", err)
		return
	}
	for _, p := range pods {
		if hasTrackingFinalizer(p) {
			c.orphans.Add(keyOf(p.Namespace, p.Name))
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := podFromEvent(obj)
	if pod == nil {
		return
	}
	if pod.DeletionTimestamp != nil {
		// Already terminating when first seen (a restart): a deletion.
		c.deletePodFinal(pod, false)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		j := c.resolveControllerRef(pod.Namespace, ref)
		if j == nil {
			c.maybeOrphan(pod)
			return
		}
		key := keyOf(j.Namespace, j.Name)
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		c.finishedJobPod(j, pod)
		return
	}
	c.maybeOrphan(pod)
	for _, j := range c.jobsSelecting(pod) {
		c.queue.Add(keyOf(j.Namespace, j.Name))
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, cur := podFromEvent(oldObj), podFromEvent(newObj)
	if old == nil || cur == nil || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil {
		// A terminating pod counts as deleted for the expectations, but
		// the Job still syncs it: it may have to count it and remove
		// its finalizer.
		c.deletePodFinal(cur, false)
		if !apiequality.Semantic.DeepEqual(metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)) {
			c.deletePodFinal(old, false)
		}
		return
	}
	// The finalizer may have been removed and added back between two
	// events; the current state is what counts (upstream's comment).
	finalizerRemoved := !hasTrackingFinalizer(cur)
	curRef, oldRef := metav1.GetControllerOfNoCopy(cur), metav1.GetControllerOfNoCopy(old)
	if !apiequality.Semantic.DeepEqual(curRef, oldRef) && oldRef != nil {
		if j := c.resolveControllerRef(old.Namespace, oldRef); j != nil {
			key := keyOf(j.Namespace, j.Name)
			if finalizerRemoved {
				c.finalizers.observed(key, cur.UID)
			}
			c.queue.Add(key)
		}
	}
	if curRef != nil {
		j := c.resolveControllerRef(cur.Namespace, curRef)
		if j == nil {
			c.maybeOrphan(cur)
			return
		}
		key := keyOf(j.Namespace, j.Name)
		if finalizerRemoved {
			c.finalizers.observed(key, cur.UID)
		}
		c.queue.Add(key)
		c.finishedJobPod(j, cur)
		return
	}
	// An orphan: its finalizer goes, and a Job may adopt it.
	c.maybeOrphan(cur)
	for _, j := range c.jobsSelecting(cur) {
		c.queue.Add(keyOf(j.Namespace, j.Name))
	}
}

func (c *Controller) deletePod(obj any) { c.deletePodFinal(podFromEvent(obj), true) }

// deletePodFinal observes the deletion of pod for its Job; final is true
// when the pod is gone from the store, whose finalizer removal then also
// counts as seen.
func (c *Controller) deletePodFinal(pod *corev1.Pod, final bool) {
	if pod == nil {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		c.maybeOrphan(pod)
		return
	}
	j := c.resolveControllerRef(pod.Namespace, ref)
	if j == nil {
		c.maybeOrphan(pod)
		return
	}
	key := keyOf(j.Namespace, j.Name)
	c.expectations.DeletionObserved(key, podcontrol.PodKey(pod))
	if final || !hasTrackingFinalizer(pod) {
		c.finalizers.observed(key, pod.UID)
	}
	c.queue.Add(key)
}

// maybeOrphan queues pod for the orphan queue if it carries the tracking
// finalizer and is still there.
func (c *Controller) maybeOrphan(pod *corev1.Pod) {
	if hasTrackingFinalizer(pod) {
		c.orphans.Add(keyOf(pod.Namespace, pod.Name))
	}
}

// finishedJobPod queues a pod of a finished Job that still carries the
// tracking finalizer for the orphan queue: a finished Job is not synced
// again, so nothing else would release the pod.
func (c *Controller) finishedJobPod(j *batchv1.Job, pod *corev1.Pod) {
	if isFinished(j) {
		c.maybeOrphan(pod)
	}
}

// resolveControllerRef returns the cached Job ref points to, or nil if it
// is of another kind, absent, or another object of that name.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *batchv1.Job {
	if ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	j, err := c.jobLister.Jobs(namespace).Get(ref.Name)
	if err != nil || j.UID != ref.UID {
		return nil
	}
	return j
}

// jobsSelecting returns the cached Jobs of pod's namespace whose selector
// matches it; an empty selector matches nothing.
func (c *Controller) jobsSelecting(pod *corev1.Pod) []*batchv1.Job {
	if len(pod.Labels) == 0 {
		return nil
	}
	jobs, err := c.jobLister.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*batchv1.Job
	for _, j := range jobs {
		sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, j)
	}
	return out
}
