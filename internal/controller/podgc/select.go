package podgc

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The selection rules of spec F7, pure functions over informer snapshots
// (upstream gc_controller.go).

// Reasons, the "reason" label of the metrics (upstream's values).
const (
	reasonTerminated             = "terminated"
	reasonOutOfService           = "out-of-service"
	reasonOrphaned               = "orphaned"
	reasonTerminatingUnscheduled = "unscheduled"
)

// evictedReason is the status reason the kubelet's eviction manager sets.
const evictedReason = "Evicted"

// isTerminated is upstream's isPodTerminated: any phase but Pending,
// Running and Unknown (so Succeeded, Failed, and an unset phase).
func isTerminated(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodPending, corev1.PodRunning, corev1.PodUnknown:
		return false
	}
	return true
}

// terminatedOverThreshold returns the terminated pods beyond threshold,
// the ones to delete first first: evicted pods, then the oldest, then by
// name (spec F7 "too many terminated pods"). threshold <= 0 selects none.
func terminatedOverThreshold(pods []*corev1.Pod, threshold int) []*corev1.Pod {
	if threshold <= 0 {
		return nil
	}
	var terminated []*corev1.Pod
	for _, p := range pods {
		if isTerminated(p) {
			terminated = append(terminated, p)
		}
	}
	n := len(terminated) - threshold
	if n <= 0 {
		return nil
	}
	slices.SortFunc(terminated, byEvictionAndAge)
	return terminated[:n]
}

// byEvictionAndAge orders evicted pods first, then by creation time, then
// by name (upstream byEvictionAndCreationTimestamp).
func byEvictionAndAge(a, b *corev1.Pod) int {
	ae, be := isEvicted(a), isEvicted(b)
	if ae != be {
		if ae {
			return -1
		}
		return 1
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		if a.CreationTimestamp.Before(&b.CreationTimestamp) {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Name, b.Name)
}

func isEvicted(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == evictedReason
}

// terminatingOutOfService returns the terminating pods whose node is
// NotReady and tainted node.kubernetes.io/out-of-service (spec F7, G12),
// in deletion order. nodes maps the informer's nodes by name.
func terminatingOutOfService(pods []*corev1.Pod, nodes map[string]*corev1.Node) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil || p.Spec.NodeName == "" {
			continue
		}
		node, ok := nodes[p.Spec.NodeName]
		if !ok {
			continue
		}
		if !isNodeReady(node) && hasTaint(node, corev1.TaintNodeOutOfService) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, byEvictionAndAge)
	return out
}

// isNodeReady reports whether the node's Ready condition is True.
func isNodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasTaint(node *corev1.Node, key string) bool {
	return slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == key })
}

// missingNodes returns the names of the nodes pods are bound to that are
// not in nodes.
func missingNodes(pods []*corev1.Pod, nodes map[string]*corev1.Node) map[string]bool {
	missing := map[string]bool{}
	for _, p := range pods {
		if n := p.Spec.NodeName; n != "" {
			if _, ok := nodes[n]; !ok {
				missing[n] = true
			}
		}
	}
	return missing
}

// onNodes returns the pods bound to one of the named nodes.
func onNodes(pods []*corev1.Pod, names map[string]bool) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Spec.NodeName != "" && names[p.Spec.NodeName] {
			out = append(out, p)
		}
	}
	return out
}

// unscheduledTerminating returns the terminating pods with no node (spec
// F7): no kubelet will ever finish them.
func unscheduledTerminating(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			out = append(out, p)
		}
	}
	return out
}
