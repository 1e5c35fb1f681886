package podcontrol

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// phaseOrdinal orders the phases of active pods for deletion: Pending
// first, then Unknown, then Running (upstream podPhaseToOrdinal; other
// phases count as Pending).
var phaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// ActivePodsWithRanks sorts pods so that those to delete first come first
// (spec G11, upstream controller.ActivePodsWithRanks). Each rule is
// applied in turn until one tells the two pods apart:
//
//  1. unscheduled before scheduled;
//  2. Pending before Unknown before Running;
//  3. not ready before ready;
//  4. lower controller.kubernetes.io/pod-deletion-cost first (the
//     PodDeletionCost feature is on by default);
//  5. higher rank first (the replica controllers rank a pod by its active
//     siblings on the same node);
//  6. both ready: ready for a shorter time first;
//  7. more container restarts first (regular containers, then sidecars);
//  8. newer first.
//
// Times in 6 and 8 are compared on a log2 scale of their age at Now, with
// the uid breaking ties, so that pods of about the same age go in a
// pseudo-random order. With a zero Now, or a zero time, they are compared
// as they are.
type ActivePodsWithRanks struct {
	Pods []*corev1.Pod
	// Rank holds one rank per pod.
	Rank []int
	// Now is the reference time of the logarithmic comparisons.
	Now metav1.Time
}

func (s ActivePodsWithRanks) Len() int { return len(s.Pods) }

func (s ActivePodsWithRanks) Swap(i, j int) {
	s.Pods[i], s.Pods[j] = s.Pods[j], s.Pods[i]
	s.Rank[i], s.Rank[j] = s.Rank[j], s.Rank[i]
}

// Less reports whether pod i should be deleted before pod j.
func (s ActivePodsWithRanks) Less(i, j int) bool {
	pi, pj := s.Pods[i], s.Pods[j]
	// 1. Unassigned < assigned.
	if pi.Spec.NodeName != pj.Spec.NodeName && (pi.Spec.NodeName == "" || pj.Spec.NodeName == "") {
		return pi.Spec.NodeName == ""
	}
	// 2. Pending < Unknown < Running.
	if oi, oj := phaseOrdinal[pi.Status.Phase], phaseOrdinal[pj.Status.Phase]; oi != oj {
		return oi < oj
	}
	// 3. Not ready < ready.
	ri, rj := IsPodReady(pi), IsPodReady(pj)
	if ri != rj {
		return !ri
	}
	// 4. Lower deletion cost < higher.
	if ci, cj := DeletionCost(pi), DeletionCost(pj); ci != cj {
		return ci < cj
	}
	// 5. Doubled up < not doubled up.
	if s.Rank[i] != s.Rank[j] {
		return s.Rank[i] > s.Rank[j]
	}
	// 6. Ready for a shorter time < longer.
	if ri && rj {
		ti, tj := readyTime(pi), readyTime(pj)
		if !ti.Equal(&tj) {
			if s.Now.IsZero() || ti.IsZero() || tj.IsZero() {
				return afterOrZero(ti, tj)
			}
			if d := logRankDiff(ti, tj, s.Now); d != 0 {
				return d < 0
			}
			return pi.UID < pj.UID
		}
	}
	// 7. More restarts < fewer.
	if more, ok := moreRestarts(pi, pj); ok {
		return more
	}
	// 8. Newer < older.
	if ti, tj := pi.CreationTimestamp, pj.CreationTimestamp; !ti.Equal(&tj) {
		if s.Now.IsZero() || ti.IsZero() || tj.IsZero() {
			return afterOrZero(ti, tj)
		}
		if d := logRankDiff(ti, tj, s.Now); d != 0 {
			return d < 0
		}
		return pi.UID < pj.UID
	}
	return false
}

// ActivePods sorts pods for deletion without ranks and on a linear time
// scale (upstream controller.ActivePods, which the Job controller uses):
// rules 1, 2, 3, 6, 7 and 8 of ActivePodsWithRanks.
type ActivePods []*corev1.Pod

func (s ActivePods) Len() int      { return len(s) }
func (s ActivePods) Swap(i, j int) { s[i], s[j] = s[j], s[i] }

// Less reports whether pod i should be deleted before pod j.
func (s ActivePods) Less(i, j int) bool {
	pi, pj := s[i], s[j]
	if pi.Spec.NodeName != pj.Spec.NodeName && (pi.Spec.NodeName == "" || pj.Spec.NodeName == "") {
		return pi.Spec.NodeName == ""
	}
	if oi, oj := phaseOrdinal[pi.Status.Phase], phaseOrdinal[pj.Status.Phase]; oi != oj {
		return oi < oj
	}
	ri, rj := IsPodReady(pi), IsPodReady(pj)
	if ri != rj {
		return !ri
	}
	if ri && rj {
		if ti, tj := readyTime(pi), readyTime(pj); !ti.Equal(&tj) {
			return afterOrZero(ti, tj)
		}
	}
	if more, ok := moreRestarts(pi, pj); ok {
		return more
	}
	if ti, tj := pi.CreationTimestamp, pj.CreationTimestamp; !ti.Equal(&tj) {
		return afterOrZero(ti, tj)
	}
	return false
}

// DeletionCost is the pod's controller.kubernetes.io/pod-deletion-cost,
// 0 when absent or invalid (upstream GetDeletionCostFromPodAnnotations:
// a decimal int32 without a plus sign or leading zeros).
func DeletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[corev1.PodDeletionCost]
	if !ok || v == "" {
		return 0
	}
	if !(v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9')) {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// RankBySiblingsOnNode ranks each of pods by the number of active pods of
// related on its node (upstream getPodsRankedByRelatedPodsOnSameNode):
// related is usually a superset of pods, e.g. every pod of the
// ReplicaSets that share pods' owner's controller.
func RankBySiblingsOnNode(pods, related []*corev1.Pod, now time.Time) ActivePodsWithRanks {
	onNode := map[string]int{}
	for _, p := range related {
		if IsPodActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranks := make([]int, len(pods))
	for i, p := range pods {
		ranks[i] = onNode[p.Spec.NodeName]
	}
	return ActivePodsWithRanks{Pods: pods, Rank: ranks, Now: metav1.NewTime(now)}
}

// PodsToDelete returns the n of pods to delete first by
// RankBySiblingsOnNode; it sorts pods in place unless all go (upstream
// getPodsToDelete). n must not exceed len(pods).
func PodsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n < len(pods) {
		sort.Sort(RankBySiblingsOnNode(pods, related, now))
	}
	return pods[:n]
}

// afterOrZero reports whether t1 is after t2, a zero time counting as the
// latest.
func afterOrZero(t1, t2 metav1.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2.Time)
}

// logRankDiff compares the base-2 logarithms of the ages of t1 and t2 at
// now; an age of zero or less ranks -1.
func logRankDiff(t1, t2, now metav1.Time) int64 {
	rank := func(t metav1.Time) int64 {
		if d := now.Sub(t.Time); d > 0 {
			return int64(math.Log2(float64(d)))
		}
		return -1
	}
	return rank(t1) - rank(t2)
}

// readyTime is when a ready pod became ready; zero if it is not ready.
func readyTime(p *corev1.Pod) metav1.Time {
	if c := PodReadyCondition(p); c != nil && c.Status == corev1.ConditionTrue {
		return c.LastTransitionTime
	}
	return metav1.Time{}
}

// maxRestarts returns the highest restart count of p's regular containers
// and of its sidecars (restartable init containers).
func maxRestarts(p *corev1.Pod) (regular, sidecar int32) {
	for _, c := range p.Status.ContainerStatuses {
		regular = max(regular, c.RestartCount)
	}
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			sidecar = max(sidecar, c.RestartCount)
		}
	}
	return regular, sidecar
}

// moreRestarts reports whether pi restarted more than pj (regular
// containers first, then sidecars); ok is false when they tie.
func moreRestarts(pi, pj *corev1.Pod) (more, ok bool) {
	ri, si := maxRestarts(pi)
	rj, sj := maxRestarts(pj)
	if ri != rj {
		return ri > rj, true
	}
	if si != sj {
		return si > sj, true
	}
	return false, false
}
