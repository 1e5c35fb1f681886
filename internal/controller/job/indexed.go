package job

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// Indexed completion mode (upstream indexed_job_utils.go).

// completionIndexEnvName is the variable each container of an Indexed
// Job's pod gets its index in.
const completionIndexEnvName = "JOB_COMPLETION_INDEX"

// maxGeneratedNameLength is how long a generateName prefix may be so that
// the API's five random characters still fit (upstream
// MaxGeneratedNameLength).
const maxGeneratedNameLength = 58

const unknownIndex = -1

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// completionIndex is p's index from its annotation (or, failing that, its
// label), unknownIndex if neither holds a non-negative integer.
func completionIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		v, ok = p.Labels[batchv1.JobCompletionIndexAnnotation]
	}
	if !ok {
		return unknownIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return unknownIndex
	}
	return i
}

// indexSet is a set of completion indexes.
type indexSet map[int]struct{}

// parseIndexes reads status.completedIndexes ("1,3-5"), keeping indexes
// below completions; malformed parts are skipped.
func parseIndexes(s string, completions int) indexSet {
	out := indexSet{}
	if s == "" {
		return out
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := first; i <= last && i < completions; i++ {
			if i >= 0 {
				out[i] = struct{}{}
			}
		}
	}
	return out
}

// String formats the set as status.completedIndexes does: ascending,
// consecutive runs as ranges.
func (s indexSet) String() string {
	idx := make([]int, 0, len(s))
	for i := range s {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// firstPendingIndexes returns up to n indexes below completions that are
// not in done and have no active pod, lowest first.
func firstPendingIndexes(active []*corev1.Pod, done indexSet, n, completions int) []int {
	busy := map[int]bool{}
	for _, p := range active {
		busy[completionIndex(p)] = true
	}
	var out []int
	for i := 0; i < completions && len(out) < n; i++ {
		if _, skip := done[i]; !skip && !busy[i] {
			out = append(out, i)
		}
	}
	return out
}

// nonPendingIndexes are the indexes no new pod may run besides the active
// ones (upstream firstPendingIndexes): succeeded and failed indexes, and,
// when only Failed pods are replaced, those whose pod still terminates.
func nonPendingIndexes(jc *syncCtx) indexSet {
	out := make(indexSet, len(jc.succeededIdx)+len(jc.failedIdx))
	for ix := range jc.succeededIdx {
		out[ix] = struct{}{}
	}
	for ix := range jc.failedIdx {
		out[ix] = struct{}{}
	}
	if onlyReplaceFailedPods(jc.job) {
		for _, p := range podcontrol.FilterTerminatingPods(jc.pods) {
			if ix := completionIndex(p); ix != unknownIndex {
				out[ix] = struct{}{}
			}
		}
	}
	return out
}

// podsForRemoval picks n active pods to delete (upstream
// activePodsForRemoval): for Indexed Jobs first those with no valid
// index, a succeeded index or an index another pod already runs, then in
// the deletion order of upstream controller.ActivePods.
func podsForRemoval(job *batchv1.Job, active []*corev1.Pod, succeeded indexSet, n int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if isIndexed(job) {
		completions := int(*job.Spec.Completions)
		seen := map[int]bool{}
		sorted := slices.Clone(active)
		sort.SliceStable(sorted, func(i, j int) bool { return completionIndex(sorted[i]) < completionIndex(sorted[j]) })
		for _, p := range sorted {
			ix := completionIndex(p)
			_, done := succeeded[ix]
			if ix == unknownIndex || ix >= completions || done || seen[ix] {
				rm = append(rm, p)
				continue
			}
			seen[ix] = true
			left = append(left, p)
		}
	} else {
		left = slices.Clone(active)
	}
	if len(rm) < n {
		sort.Sort(podcontrol.ActivePods(left))
		rm = append(rm, left[:min(n-len(rm), len(left))]...)
	}
	return rm
}

// indexedTemplate is the template of the pod of index ix: the index
// annotation and label, the hostname <job>-<ix> and JOB_COMPLETION_INDEX
// in every container (from the annotation, by the downward API).
func indexedTemplate(job *batchv1.Job, base *corev1.PodTemplateSpec, ix int) *corev1.PodTemplateSpec {
	t := base.DeepCopy()
	v := strconv.Itoa(ix)
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[batchv1.JobCompletionIndexAnnotation] = v
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	// The PodIndexLabel feature is GA.
	t.Labels[batchv1.JobCompletionIndexAnnotation] = v
	t.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, ix)
	env := corev1.EnvVar{Name: completionIndexEnvName, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation),
	}}}
	add := func(cs []corev1.Container) {
		for i := range cs {
			if !slices.ContainsFunc(cs[i].Env, func(e corev1.EnvVar) bool { return e.Name == completionIndexEnvName }) {
				cs[i].Env = append(cs[i].Env, env)
			}
		}
	}
	add(t.Spec.Containers)
	add(t.Spec.InitContainers)
	return t
}

// indexedGenerateName is "<job>-<ix>-", the job name cut so that the
// prefix fits (upstream podGenerateNameWithIndex).
func indexedGenerateName(jobName string, ix int) string {
	suffix := "-" + strconv.Itoa(ix) + "-"
	prefix := jobName + suffix
	if len(prefix) > maxGeneratedNameLength {
		prefix = jobName[:maxGeneratedNameLength-len(suffix)] + suffix
	}
	return prefix
}
