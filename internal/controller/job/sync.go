package job

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// Condition reasons and messages, as v1.37 writes them.
const (
	reasonBackoffLimitExceeded = batchv1.JobReasonBackoffLimitExceeded
	msgBackoffLimitExceeded    = "Job has reached the specified backoff limit"
	reasonDeadlineExceeded     = batchv1.JobReasonDeadlineExceeded
	msgDeadlineExceeded        = "Job was active longer than specified deadline"
	reasonCompletionsReached   = batchv1.JobReasonCompletionsReached
	msgCompletionsReached      = "Reached expected number of succeeded pods"
)

// syncCtx is what one sync knows about a Job (upstream syncJobCtx).
type syncCtx struct {
	job         *batchv1.Job
	key         string
	pods        []*corev1.Pod
	active      []*corev1.Pod
	ready       int32
	terminating int32
	// uncounted are the uids already in status.uncountedTerminatedPods.
	uncountedSucceeded, uncountedFailed uidSet
	// expectedRm are pods whose finalizer removal is awaited: already
	// counted.
	expectedRm        uidSet
	succeeded, failed int32
	finishedCondition *batchv1.JobCondition
	backoff           backoffRecord
	prevSucceededIdx  indexSet
	succeededIdx      indexSet
	// failedIdx are the failed indexes of a Job with
	// backoffLimitPerIndex, nil without.
	failedIdx indexSet
	// delayed holds, per index to run again, the failed pod whose
	// finalizer stays until its replacement exists (backoffLimitPerIndex).
	delayed            map[int]*corev1.Pod
	satisfiedExpectant bool
}

// isFinished reports whether j has a true Complete or Failed condition.
func isFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func findCondition(conds []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func newCondition(t batchv1.JobConditionType, reason, message string, now time.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
}

// ensureCondition sets condition t to status, reason and message, and
// reports whether anything changed; a new status moves the transition
// time (upstream ensureJobConditionStatus).
func ensureCondition(conds []batchv1.JobCondition, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) ([]batchv1.JobCondition, bool) {
	if c := findCondition(conds, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == message {
			return conds, false
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, message, metav1.NewTime(now)
		return conds, true
	}
	// A false condition that does not exist needs no entry.
	if status == corev1.ConditionFalse {
		return conds, false
	}
	return append(conds, *newCondition(t, reason, message, now)), true
}

func suspended(j *batchv1.Job) bool { return ptr.Deref(j.Spec.Suspend, false) }

// onlyReplaceFailedPods: pods are replaced once Failed, not while they
// terminate (podReplacementPolicy Failed, which a podFailurePolicy
// implies).
func onlyReplaceFailedPods(j *batchv1.Job) bool {
	return ptr.Deref(j.Spec.PodReplacementPolicy, "") == batchv1.Failed || j.Spec.PodFailurePolicy != nil
}

// isPodFailed: Failed, or, unless only Failed pods are replaced, deleted
// before succeeding (an orphan may never reach Failed; upstream
// isPodFailed).
func isPodFailed(p *corev1.Pod, j *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailedPods(j) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// staleRetry is how soon a Job whose cached copy predates our own status
// write is synced again.
const staleRetry = 100 * time.Millisecond

// sync brings one Job's pods and status in line (upstream syncJob).
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", key, err)
	}
	shared, err := c.jobLister.Jobs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		c.finalizers.delete(key)
		c.written.forget(key)
		c.backoff.remove(key)
		return nil
	}
	if err != nil {
		return err
	}
	if c.written.stale(key, shared.ResourceVersion) {
		// The update event of our own write is on its way and queues the
		// Job again; this one is a backstop should it be coalesced.
		c.queue.AddAfter(key, staleRetry)
		return nil
	}
	// Jobs managed by another controller are not ours to sync.
	if m := shared.Spec.ManagedBy; m != nil && *m != batchv1.JobControllerName {
		return nil
	}
	if isFinished(shared) {
		c.backoff.remove(key)
		return nil
	}
	job := shared.DeepCopy()
	if m := job.Spec.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
		c.event(job, corev1.EventTypeWarning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
		return nil
	}
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	// Read before the pods, so that a pod created meanwhile cannot sneak
	// past the expectations (upstream's comment).
	satisfied := c.expectations.Satisfied(key)
	pods, err := c.podsForJob(ctx, job)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	jc := &syncCtx{
		job: job, key: key, pods: pods,
		active:             podcontrol.FilterActivePods(pods),
		uncountedSucceeded: newUIDSet(job.Status.UncountedTerminatedPods.Succeeded),
		uncountedFailed:    newUIDSet(job.Status.UncountedTerminatedPods.Failed),
		expectedRm:         c.finalizers.expected(key),
		satisfiedExpectant: satisfied,
	}
	for _, p := range jc.active {
		if podcontrol.IsPodReady(p) {
			jc.ready++
		}
	}
	jc.terminating = int32(len(podcontrol.FilterTerminatingPods(pods)))
	newSucceeded, newFailed := jc.newFinishedPods()
	jc.succeeded = job.Status.Succeeded + int32(len(newSucceeded)) + int32(len(jc.uncountedSucceeded))
	// Failures an Ignore rule of the podFailurePolicy matches do not
	// count against backoffLimit (upstream nonIgnoredFailedPodsCount).
	jc.failed = job.Status.Failed + countedFailures(job, newFailed) + int32(len(jc.uncountedFailed))
	if job.Status.StartTime == nil && !suspended(job) {
		job.Status.StartTime = ptr.To(metav1.NewTime(now))
	}
	jc.backoff = nextBackoffRecord(c.backoff.get(key), newSucceeded, newFailed)

	c.decideFinished(jc, now)

	active := int32(len(jc.active))
	var manageErr error
	suspendChanged := false
	if jc.finishedCondition != nil {
		deletedReady, deleted, err := c.deleteActivePods(ctx, job, jc.active)
		if deleted != active || !satisfied {
			// Pods may remain, or be missing from the cache yet.
			jc.finishedCondition = nil
		}
		active -= deleted
		jc.terminating += deleted
		jc.ready -= deletedReady
		manageErr = err
	} else {
		manageCalled := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manageJob(ctx, jc)
			manageCalled = true
		}
		complete := false
		if job.Spec.Completions == nil {
			// Any success completes a Job without completions, once
			// nothing runs.
			complete = jc.succeeded > 0 && active == 0
		} else {
			complete = jc.succeeded >= *job.Spec.Completions && active == 0
		}
		switch {
		case complete:
			jc.finishedCondition = newCondition(batchv1.JobSuccessCriteriaMet, reasonCompletionsReached, msgCompletionsReached, now)
		case manageCalled && suspended(job):
			var changed bool
			job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
			if changed {
				suspendChanged = true
				c.event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
			}
		case manageCalled:
			var changed bool
			job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
			if changed {
				suspendChanged = true
				c.event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
				// activeDeadlineSeconds counts continuous activity.
				job.Status.StartTime = ptr.To(metav1.NewTime(now))
			}
		}
	}
	needsFlush := suspendChanged || active != job.Status.Active || !ptr.Equal(&jc.ready, job.Status.Ready) ||
		!ptr.Equal(&jc.terminating, job.Status.Terminating)
	job.Status.Active = active
	job.Status.Ready = ptr.To(jc.ready)
	job.Status.Terminating = ptr.To(jc.terminating)
	if err := c.trackStatusAndRemoveFinalizers(ctx, jc, needsFlush); err != nil {
		return fmt.Errorf("tracking status: %w", err)
	}
	return manageErr
}

// decideFinished sets jc.finishedCondition the way upstream syncJob
// does: the interim condition of an earlier sync decides; else a FailJob
// rule of the podFailurePolicy; else backoffLimit and the deadline; then,
// for Indexed Jobs, maxFailedIndexes, failed indexes covering what did
// not succeed, and the successPolicy.
func (c *Controller) decideFinished(jc *syncCtx, now time.Time) {
	job := jc.job
	if sc := findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet); sc != nil && sc.Status == corev1.ConditionTrue {
		jc.finishedCondition = sc.DeepCopy()
	} else if ft := findCondition(job.Status.Conditions, batchv1.JobFailureTarget); ft != nil && ft.Status == corev1.ConditionTrue {
		jc.finishedCondition = newCondition(batchv1.JobFailed, ft.Reason, ft.Message, now)
	} else if msg := failJobMessage(job, jc.pods); msg != "" {
		jc.finishedCondition = newCondition(batchv1.JobFailureTarget, reasonPodFailurePolicy, msg, now)
	} else if jc.failed > ptr.Deref(job.Spec.BackoffLimit, 6) || pastBackoffLimitOnFailure(job, jc.pods) {
		jc.finishedCondition = newCondition(batchv1.JobFailureTarget, reasonBackoffLimitExceeded, msgBackoffLimitExceeded, now)
	} else if c.pastActiveDeadline(job) {
		jc.finishedCondition = newCondition(batchv1.JobFailureTarget, reasonDeadlineExceeded, msgDeadlineExceeded, now)
	} else if job.Spec.ActiveDeadlineSeconds != nil && !suspended(job) {
		// Come back when the deadline passes.
		c.queue.AddAfter(jc.key, time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second-c.clock.Since(job.Status.StartTime.Time))
	}
	if !isIndexed(job) {
		return
	}
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	jc.prevSucceededIdx, jc.succeededIdx = succeededIndexes(job, jc.pods)
	jc.succeeded = int32(len(jc.succeededIdx))
	if hasBackoffLimitPerIndex(job) {
		jc.failedIdx = failedIndexes(job, jc.pods)
		if jc.finishedCondition == nil {
			if m := job.Spec.MaxFailedIndexes; m != nil && len(jc.failedIdx) > int(*m) {
				jc.finishedCondition = newCondition(batchv1.JobFailureTarget, reasonMaxFailedIndexesExceeded, msgMaxFailedIndexesExceeded, now)
			} else if len(jc.failedIdx) > 0 && len(jc.failedIdx)+len(jc.succeededIdx) >= completions {
				// Every index ended, some failed.
				jc.finishedCondition = newCondition(batchv1.JobFailureTarget, reasonFailedIndexes, msgFailedIndexes, now)
			}
		}
		jc.delayed = podsWithDelayedRemoval(jc)
	}
	if jc.finishedCondition == nil {
		if msg, met := matchSuccessPolicy(job.Spec.SuccessPolicy, completions, jc.succeededIdx); met {
			jc.finishedCondition = newCondition(batchv1.JobSuccessCriteriaMet, reasonSuccessPolicy, msg, now)
		}
	}
}

// newFinishedPods returns the pods that finished and are counted nowhere
// yet: they carry the finalizer, no removal is awaited, and their uid is
// not in uncountedTerminatedPods (upstream getNewFinishedPods).
func (jc *syncCtx) newFinishedPods() (succeeded, failed []*corev1.Pod) {
	for _, p := range jc.pods {
		if !hasTrackingFinalizer(p) || jc.expectedRm.has(p.UID) {
			continue
		}
		if isIndexed(jc.job) {
			if ix := completionIndex(p); ix == unknownIndex || ix >= int(ptr.Deref(jc.job.Spec.Completions, 0)) {
				continue
			}
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !jc.uncountedSucceeded.has(p.UID):
			succeeded = append(succeeded, p)
		case isPodFailed(p, jc.job) && !jc.uncountedFailed.has(p.UID):
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// succeededIndexes returns the indexes in status.completedIndexes and
// those plus the indexes of succeeded pods.
func succeededIndexes(job *batchv1.Job, pods []*corev1.Pod) (prev, cur indexSet) {
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	prev = parseIndexes(job.Status.CompletedIndexes, completions)
	cur = parseIndexes(job.Status.CompletedIndexes, completions)
	for _, p := range pods {
		if ix := completionIndex(p); p.Status.Phase == corev1.PodSucceeded && ix != unknownIndex && ix < completions {
			cur[ix] = struct{}{}
		}
	}
	return prev, cur
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure failures are
// container restarts; their sum over running pods reaching backoffLimit
// fails the Job (upstream pastBackoffLimitOnFailure).
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending {
			for _, s := range p.Status.InitContainerStatuses {
				restarts += s.RestartCount
			}
			for _, s := range p.Status.ContainerStatuses {
				restarts += s.RestartCount
			}
		}
	}
	limit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

// pastActiveDeadline: the Job has been active (not suspended) for
// activeDeadlineSeconds.
func (c *Controller) pastActiveDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return c.clock.Since(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// podsForJob claims the Job's pods: adopted orphans get the tracking
// finalizer with the controller reference, released pods lose it
// (upstream getPodsForJob). An adoption first rereads the Job live.
func (c *Controller) podsForJob(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("converting the job selector: %w", err)
	}
	candidates, err := podcontrol.PodsForOwner(c.podIndexer, job, controllerKind.Kind, true)
	if err != nil {
		return nil, err
	}
	canAdopt := podcontrol.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
		fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if fresh.UID != job.UID {
			return nil, fmt.Errorf("original Job %s/%s is gone: got uid %s, wanted %s", job.Namespace, job.Name, fresh.UID, job.UID)
		}
		return fresh, nil
	})
	m := podcontrol.NewRefManager(job, controllerKind, selector, canAdopt)
	match := func(obj metav1.Object) bool { return selector.Matches(labelsOf(obj)) }
	var claimed []*corev1.Pod
	var errs []error
	for _, p := range candidates {
		adopted := false
		ok, err := m.ClaimObject(ctx, p, match,
			func(ctx context.Context, obj metav1.Object) error {
				adopted = true
				return m.AdoptPod(ctx, c.pods, obj.(*corev1.Pod), batchv1.JobTrackingFinalizer)
			},
			func(ctx context.Context, obj metav1.Object) error {
				return m.ReleasePod(ctx, c.pods, obj.(*corev1.Pod), batchv1.JobTrackingFinalizer)
			})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		if adopted && !hasTrackingFinalizer(p) {
			// The cache does not show the adoption yet; count the pod
			// as tracked.
			p = p.DeepCopy()
			p.Finalizers = append(p.Finalizers, batchv1.JobTrackingFinalizer)
		}
		claimed = append(claimed, p)
	}
	if err := errors.Join(errs...); err != nil {
		return claimed, fmt.Errorf("claiming pods: %w", err)
	}
	return claimed, nil
}

// manageJob creates or deletes pods toward min(parallelism, remaining
// completions), holding creates back during the failure back-off
// (upstream manageJob). It returns the new active count.
func (c *Controller) manageJob(ctx context.Context, jc *syncCtx) (int32, error) {
	job := jc.job
	active := int32(len(jc.active))
	if suspended(job) {
		podsToDelete := podsForRemoval(job, jc.active, jc.succeededIdx, len(jc.active))
		readyGone, gone, err := c.deleteJobPods(ctx, job, jc.key, podsToDelete)
		jc.terminating += gone
		jc.ready -= readyGone
		return active - gone, err
	}
	parallelism := ptr.Deref(job.Spec.Parallelism, 1)
	var want int32
	if job.Spec.Completions == nil {
		// Once one pod succeeded, what runs may finish; nothing new.
		want = parallelism
		if jc.succeeded > 0 {
			want = active
		}
	} else {
		want = max(min(*job.Spec.Completions-jc.succeeded, parallelism), 0)
	}
	if extra := active - want; extra > 0 || (isIndexed(job) && hasDuplicates(job, jc)) {
		podsToDelete := podsForRemoval(job, jc.active, jc.succeededIdx, int(max(extra, 0)))
		if len(podsToDelete) > MaxPodCreateDeletePerSync {
			podsToDelete = podsToDelete[:MaxPodCreateDeletePerSync]
		}
		if len(podsToDelete) > 0 {
			// Deletes take precedence over creates in one sync.
			readyGone, gone, err := c.deleteJobPods(ctx, job, jc.key, podsToDelete)
			jc.terminating += gone
			jc.ready -= readyGone
			return active - gone, err
		}
	}
	var terminating int32
	if onlyReplaceFailedPods(job) {
		terminating = jc.terminating
	}
	diff := want - terminating - active
	if diff <= 0 {
		return active, nil
	}
	perIndex := hasBackoffLimitPerIndex(job)
	// With backoffLimitPerIndex each index backs off on its own.
	if wait := jc.backoff.remaining(c.clock, DefaultPodFailureBackOff, MaxPodFailureBackOff); wait > 0 && !perIndex {
		c.queue.AddAfter(jc.key, wait)
		return active, nil
	}
	diff = min(diff, MaxPodCreateDeletePerSync)
	var indexes []int
	if isIndexed(job) {
		indexes = firstPendingIndexes(jc.active, nonPendingIndexes(jc), int(diff), int(*job.Spec.Completions))
		if perIndex {
			var wait time.Duration
			if indexes, wait = readyIndexes(c.clock, indexes, jc.delayed); wait > 0 {
				c.queue.AddAfter(jc.key, wait)
				return active, nil
			}
		}
		diff = int32(len(indexes))
		if diff == 0 {
			return active, nil
		}
	}
	template := job.Spec.Template.DeepCopy()
	if !containsString(template.Finalizers, batchv1.JobTrackingFinalizer) {
		template.Finalizers = append(template.Finalizers, batchv1.JobTrackingFinalizer)
	}
	owner := podcontrol.ObjectReference(job, controllerKind)
	ref := podcontrol.NewControllerRef(job, controllerKind)
	c.expectations.ExpectCreations(jc.key, int(diff))
	var mu sync.Mutex
	var failed atomic.Int32
	next, attempted := 0, 0
	_, err := podcontrol.SlowStartBatch(int(diff), podcontrol.SlowStartInitialBatchSize, func() error {
		mu.Lock()
		attempted++
		mu.Unlock()
		t, generateName := template, ""
		if indexes != nil {
			mu.Lock()
			ix := indexes[next]
			next++
			mu.Unlock()
			t, generateName = indexedTemplate(job, template, ix), indexedGenerateName(job.Name, ix)
			if perIndex {
				addFailureCountAnnotations(t, job, jc.delayed[ix])
			}
		}
		_, err := c.pods.CreatePod(ctx, job.Namespace, t, owner, ref, generateName)
		c.metrics.podOp("create", err)
		if err != nil {
			// The informer will not show this pod.
			c.expectations.CreationObserved(jc.key)
			failed.Add(1)
		}
		if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			// The namespace is going away with this Job.
			return nil
		}
		return err
	})
	if skipped := int(diff) - attempted; skipped > 0 {
		// Creates never attempted after a failed batch are not awaited.
		c.expectations.LowerCreations(jc.key, skipped)
	}
	return active + int32(attempted) - failed.Load(), err
}

// hasDuplicates: an Indexed Job runs a pod with an index that is
// invalid, succeeded or run by another pod.
func hasDuplicates(job *batchv1.Job, jc *syncCtx) bool {
	return len(podsForRemoval(job, jc.active, jc.succeededIdx, 0)) > 0
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// deleteJobPods removes the tracking finalizer of each pod and deletes it
// (upstream deleteJobPods): the pod is counted as failed by the sync that
// sees it terminating. It returns the ready and all pods deleted.
func (c *Controller) deleteJobPods(ctx context.Context, job *batchv1.Job, key string, pods []*corev1.Pod) (int32, int32, error) {
	podKeys := make([]string, len(pods))
	for i, p := range pods {
		podKeys[i] = podcontrol.PodKey(p)
	}
	c.expectations.ExpectDeletions(key, podKeys)
	owner := podcontrol.ObjectReference(job, controllerKind)
	var readyGone, gone int32
	var mu sync.Mutex
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			err := c.removeFinalizer(ctx, p)
			if err == nil {
				err = c.pods.DeletePod(ctx, job.Namespace, p.Name, owner)
				c.metrics.podOp("delete", err)
			}
			if err != nil {
				// The informer will not show this deletion.
				c.expectations.DeletionObserved(key, podKeys[i])
				if !apierrors.IsNotFound(err) {
					errs[i] = err
					return
				}
			}
			mu.Lock()
			gone++
			if podcontrol.IsPodReady(p) {
				readyGone++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return readyGone, gone, errors.Join(errs...)
}

// deleteActivePods deletes pods, keeping their finalizers: the tracking
// removes them once it counted the pods (upstream deleteActivePods).
func (c *Controller) deleteActivePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	owner := podcontrol.ObjectReference(job, controllerKind)
	var readyGone, gone int32
	var mu sync.Mutex
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			err := c.pods.DeletePod(ctx, job.Namespace, p.Name, owner)
			c.metrics.podOp("delete", err)
			if err != nil && !apierrors.IsNotFound(err) {
				errs[i] = err
				return
			}
			mu.Lock()
			gone++
			if podcontrol.IsPodReady(p) {
				readyGone++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return readyGone, gone, errors.Join(errs...)
}

// removeFinalizer patches the tracking finalizer off p, if it has it.
func (c *Controller) removeFinalizer(ctx context.Context, p *corev1.Pod) error {
	patch, err := removeTrackingFinalizerPatch(p)
	if err != nil || patch == nil {
		return err
	}
	err = c.pods.PatchPod(ctx, p.Namespace, p.Name, patch)
	c.metrics.podOp("remove_finalizer", err)
	return err
}

// labelsOf returns obj's labels as a labels.Set.
func labelsOf(obj metav1.Object) labels.Set { return labels.Set(obj.GetLabels()) }

// uidsOf returns the uids of pods.
func uidsOf(pods []*corev1.Pod) []types.UID {
	out := make([]types.UID, len(pods))
	for i, p := range pods {
		out[i] = p.UID
	}
	return out
}
