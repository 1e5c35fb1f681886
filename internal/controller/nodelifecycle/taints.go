package nodelifecycle

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The NoExecute taints of unhealthy nodes (upstream UnreachableTaintTemplate
// and NotReadyTaintTemplate). They mirror the Ready condition, so a node
// has at most one of them.
var (
	unreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	notReadyNoExecute    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
)

// conditionTaints maps a condition and its status to the key of the
// NoSchedule taint it calls for (upstream nodeConditionToTaintKeyStatusMap,
// the TaintNodesByCondition behaviour).
var conditionTaints = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
	corev1.NodeReady: {
		corev1.ConditionFalse:   corev1.TaintNodeNotReady,
		corev1.ConditionUnknown: corev1.TaintNodeUnreachable,
	},
	corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
	corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
	corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
	corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
}

// conditionTaintKeys are the keys this controller owns as NoSchedule
// taints (upstream taintKeyToNodeConditionMap plus unschedulable).
var conditionTaintKeys = map[string]bool{
	corev1.TaintNodeNotReady:           true,
	corev1.TaintNodeUnreachable:        true,
	corev1.TaintNodeNetworkUnavailable: true,
	corev1.TaintNodeMemoryPressure:     true,
	corev1.TaintNodeDiskPressure:       true,
	corev1.TaintNodePIDPressure:        true,
	corev1.TaintNodeUnschedulable:      true,
}

// noScheduleDiff is upstream's doNoScheduleTaintingPass without the I/O:
// the NoSchedule taints node's conditions and spec.unschedulable call for,
// against those of its NoSchedule taints this controller owns. It returns
// what to add and what to remove (matched by key and effect).
func noScheduleDiff(node *corev1.Node) (add, remove []corev1.Taint) {
	var want []corev1.Taint
	for _, c := range node.Status.Conditions {
		if key, ok := conditionTaints[c.Type][c.Status]; ok {
			want = append(want, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	var have []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && conditionTaintKeys[t.Key] {
			have = append(have, t)
		}
	}
	for _, w := range want {
		if !hasTaint(have, &w) {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !hasTaint(want, &h) {
			remove = append(remove, h)
		}
	}
	return add, remove
}

// hasTaint reports whether taints has one with t's key and effect
// (upstream taintutils.TaintExists).
func hasTaint(taints []corev1.Taint, t *corev1.Taint) bool {
	for i := range taints {
		if taints[i].MatchTaint(t) {
			return true
		}
	}
	return false
}

// applyTaints returns taints with add added (stamped timeAdded now, as
// upstream's SwapNodeControllerTaint stamps them) and remove removed,
// matched by key and effect; a taint to add that is there already keeps
// its value and time. changed is false when nothing moved.
func applyTaints(taints, add, remove []corev1.Taint, now time.Time) (out []corev1.Taint, changed bool) {
	for _, t := range taints {
		if hasTaint(remove, &t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	for _, t := range add {
		if hasTaint(out, &t) {
			continue
		}
		t.TimeAdded = &metav1.Time{Time: now}
		out = append(out, t)
		changed = true
	}
	return out, changed
}

// Zone states (upstream ZoneState).
type zoneState string

const (
	stateInitial           zoneState = "Initial"
	stateNormal            zoneState = "Normal"
	stateFullDisruption    zoneState = "FullDisruption"
	statePartialDisruption zoneState = "PartialDisruption"
)

// zoneKey is upstream nodetopology.GetZoneKey: region and zone from the
// (beta, else GA) topology labels, "" when neither is set.
func zoneKey(node *corev1.Node) string {
	l := node.Labels
	zone, ok := l[corev1.LabelFailureDomainBetaZone]
	if !ok {
		zone = l[corev1.LabelTopologyZone]
	}
	region, ok := l[corev1.LabelFailureDomainBetaRegion]
	if !ok {
		region = l[corev1.LabelTopologyRegion]
	}
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// zoneLabel renders a zone key for metrics.
func zoneLabel(zone string) string { return strings.ReplaceAll(zone, ":\x00:", ":") }

// computeZoneState is upstream ComputeZoneState: a zone with no Ready node
// is fully disrupted; one with more than 2 not-Ready nodes making at least
// unhealthyThreshold of it is partially disrupted.
func computeZoneState(ready []*corev1.NodeCondition, unhealthyThreshold float64) (notReady int, s zoneState) {
	readyNodes := 0
	for _, c := range ready {
		if c != nil && c.Status == corev1.ConditionTrue {
			readyNodes++
		} else {
			notReady++
		}
	}
	switch {
	case readyNodes == 0 && notReady > 0:
		return notReady, stateFullDisruption
	case notReady > 2 && float64(notReady)/float64(notReady+readyNodes) >= unhealthyThreshold:
		return notReady, statePartialDisruption
	default:
		return notReady, stateNormal
	}
}
