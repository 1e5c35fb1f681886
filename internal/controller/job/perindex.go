package job

import (
	"math"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// spec.backoffLimitPerIndex and spec.maxFailedIndexes of Indexed Jobs
// (upstream indexed_job_utils.go and backoff_utils.go). Each index counts
// its own failures: a replacement pod carries the count of the pod it
// replaces plus one in the batch.kubernetes.io/job-index-failure-count
// annotation (ignored failures go to job-index-ignored-failure-count), and
// an index whose failed pod already has backoffLimitPerIndex counted
// failures, or that matched a FailIndex rule, is failed for good: it is
// listed in status.failedIndexes and never run again.

func hasBackoffLimitPerIndex(job *batchv1.Job) bool {
	return isIndexed(job) && job.Spec.BackoffLimitPerIndex != nil
}

// annotationInt32 reads a non-negative int32 annotation of p; absent or
// malformed values (a user may edit them) count as 0, as upstream.
func annotationInt32(p *corev1.Pod, key string) int32 {
	v, ok := p.Annotations[key]
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0
	}
	return int32(n)
}

func indexFailureCount(p *corev1.Pod) int32 {
	return annotationInt32(p, batchv1.JobIndexFailureCountAnnotation)
}

func indexIgnoredFailureCount(p *corev1.Pod) int32 {
	return annotationInt32(p, batchv1.JobIndexIgnoredFailureCountAnnotation)
}

// isIndexFailed: the failed pod p ends its index, because it matched a
// FailIndex rule or because its counted failure exhausts
// backoffLimitPerIndex (upstream isIndexFailed).
func isIndexFailed(job *batchv1.Job, p *corev1.Pod) bool {
	if !isPodFailed(p, job) {
		return false
	}
	m := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p)
	if m.action == batchv1.PodFailurePolicyActionFailIndex {
		return true
	}
	return m.counts() && indexFailureCount(p) >= *job.Spec.BackoffLimitPerIndex
}

// failedIndexes returns the indexes in status.failedIndexes plus those
// whose not yet counted pods failed them (upstream calculateFailedIndexes).
func failedIndexes(job *batchv1.Job, pods []*corev1.Pod) indexSet {
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	out := parseIndexes(ptr.Deref(job.Status.FailedIndexes, ""), completions)
	for _, p := range pods {
		ix := completionIndex(p)
		if ix != unknownIndex && ix < completions && hasTrackingFinalizer(p) && isIndexFailed(job, p) {
			out[ix] = struct{}{}
		}
	}
	return out
}

// podsWithDelayedRemoval returns, per index that will be run again, its
// latest failed pod: that pod keeps its tracking finalizer (and so
// exists) until the replacement is created, which copies its failure
// count (upstream getPodsWithDelayedDeletionPerIndex). An index that is
// running, succeeded or failed needs no such pod.
func podsWithDelayedRemoval(jc *syncCtx) map[int]*corev1.Pod {
	job := jc.job
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	activeIdx := map[int]bool{}
	for _, p := range jc.active {
		activeIdx[completionIndex(p)] = true
	}
	out := map[int]*corev1.Pod{}
	for _, p := range jc.pods {
		if !hasTrackingFinalizer(p) || jc.expectedRm.has(p.UID) || !isPodFailed(p, job) {
			continue
		}
		ix := completionIndex(p)
		if ix == unknownIndex || ix >= completions || activeIdx[ix] {
			continue
		}
		if _, ok := jc.succeededIdx[ix]; ok {
			continue
		}
		if _, ok := jc.failedIdx[ix]; ok {
			continue
		}
		// The latest failure of the index wins: the highest count,
		// then the latest finish.
		if last, ok := out[ix]; ok {
			if absoluteFailureCount(last) > absoluteFailureCount(p) || finishedTime(p).Before(finishedTime(last)) {
				continue
			}
		}
		out[ix] = p
	}
	return out
}

func absoluteFailureCount(p *corev1.Pod) int32 {
	return indexFailureCount(p) + indexIgnoredFailureCount(p)
}

// replacementFailureCounts are the annotations' values for the pod that
// replaces replaced (nil: the index's first pod).
func replacementFailureCounts(job *batchv1.Job, replaced *corev1.Pod) (failures, ignored int32) {
	if replaced == nil {
		return 0, 0
	}
	failures, ignored = indexFailureCount(replaced), indexIgnoredFailureCount(replaced)
	if matchPodFailurePolicy(job.Spec.PodFailurePolicy, replaced).counts() {
		failures++
	} else {
		ignored++
	}
	return failures, ignored
}

// addFailureCountAnnotations sets the per-index counters on the template
// of a pod that replaces replaced (upstream addIndexFailureCountAnnotation).
func addFailureCountAnnotations(t *corev1.PodTemplateSpec, job *batchv1.Job, replaced *corev1.Pod) {
	failures, ignored := replacementFailureCounts(job, replaced)
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(failures))
	if ignored > 0 {
		t.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
	}
}

// indexBackoff is how long index's replacement must still wait: the
// back-off of the index's failures so far, from its last failure
// (upstream getRemainingTimePerIndex).
func indexBackoff(clk clock.PassiveClock, last *corev1.Pod) time.Duration {
	if last == nil {
		return 0
	}
	at := finishedTime(last)
	r := backoffRecord{failuresAfterLastSuccess: absoluteFailureCount(last) + 1, lastFailureTime: &at}
	return r.remaining(clk, DefaultPodFailureBackOff, MaxPodFailureBackOff)
}

// readyIndexes keeps the indexes whose per-index back-off is over; if
// none is, it returns the shortest wait instead (upstream
// getPodCreationInfoForIndependentIndexes).
func readyIndexes(clk clock.PassiveClock, indexes []int, delayed map[int]*corev1.Pod) ([]int, time.Duration) {
	var ready []int
	var wait time.Duration
	for _, ix := range indexes {
		d := indexBackoff(clk, delayed[ix])
		switch {
		case d == 0:
			ready = append(ready, ix)
		case wait == 0 || d < wait:
			wait = d
		}
	}
	if len(ready) > 0 {
		return ready, 0
	}
	return nil, wait
}
