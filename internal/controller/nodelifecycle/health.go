package nodelifecycle

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons and messages upstream writes on the conditions of a node whose
// kubelet went quiet (tryUpdateNodeHealth).
const (
	reasonStatusUnknown       = "NodeStatusUnknown"
	messageStatusUnknown      = "Kubelet stopped posting node status."
	reasonStatusNeverUpdated  = "NodeStatusNeverUpdated"
	messageStatusNeverUpdated = "Kubelet never posted node status."
)

// unknownConditions are the conditions set to Unknown when a node is
// overdue. NetworkUnavailable is left alone: it is managed by the control
// plane, not the kubelet (upstream's comment).
var unknownConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// health is what the controller remembers of a node between passes
// (upstream nodeHealthData). probe is when, on the controller's clock,
// it last saw a sign of life: a new Ready heartbeat or a renewed Lease.
// Comparing the controller's own clock with its own clock, rather than
// with the times the node writes, makes the grace period immune to clock
// skew between node and control plane, as upstream.
type health struct {
	probe  time.Time
	status *corev1.NodeStatus
	lease  *coordinationv1.Lease
}

// observation is the outcome of observe.
type observation struct {
	health *health
	// grace is the period the node is entitled to: the startup grace
	// before its first Ready condition, the monitor grace after.
	grace time.Duration
	// observedReady is the Ready condition as the node reported it, or a
	// made-up Unknown one stamped with the creation time if it never did.
	observedReady corev1.NodeCondition
	// currentReady is the node's Ready condition (nil if none).
	currentReady *corev1.NodeCondition
}

// observe updates the record of node from its status and lease, as the
// first half of upstream's tryUpdateNodeHealth: a new record gets now as
// its probe time; a changed Ready heartbeat and a Lease renewed since the
// last one seen move the probe time to now. A node without a Ready
// condition is judged from its creation time with the startup grace.
func observe(node *corev1.Node, lease *coordinationv1.Lease, saved *health, now time.Time, grace, startupGrace time.Duration) observation {
	var h *health
	if saved != nil {
		cp := *saved
		h = &cp
	}
	o := observation{grace: grace}
	o.currentReady = readyCondition(&node.Status)
	if o.currentReady == nil {
		// Never posted: judge from the creation time.
		o.observedReady = corev1.NodeCondition{
			Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: node.CreationTimestamp,
		}
		o.grace = startupGrace
		if h != nil {
			h.status = &node.Status
		} else {
			h = &health{status: &node.Status, probe: node.CreationTimestamp.Time}
		}
	} else {
		o.observedReady = *o.currentReady
	}
	var savedReady *corev1.NodeCondition
	var savedLease *coordinationv1.Lease
	if h != nil {
		savedReady = readyCondition(h.status)
		savedLease = h.lease
	}
	switch {
	case h == nil:
		h = &health{status: &node.Status, probe: now}
	case savedReady == nil && o.currentReady != nil:
		// First Ready condition seen (or the controller restarted).
		h = &health{status: &node.Status, probe: now}
	case savedReady != nil && o.currentReady == nil:
		// The Ready condition was removed: upstream does the same as for
		// a new one.
		h = &health{status: &node.Status, probe: now}
	case savedReady != nil && o.currentReady != nil && !savedReady.LastHeartbeatTime.Equal(&o.currentReady.LastHeartbeatTime):
		// As upstream, the new record forgets the lease, so the next pass
		// counts an unchanged lease as renewed once more.
		h = &health{status: &node.Status, probe: now}
	}
	// A renewed Lease is a sign of life even if the status never moves
	// (the kubelet posts its status every 5 min or on change, and renews
	// its Lease every 10 s).
	if lease != nil && (savedLease == nil || savedLease.Spec.RenewTime.Before(lease.Spec.RenewTime)) {
		h.lease = lease
		h.probe = now
	}
	o.health = h
	return o
}

// overdue reports whether the node has given no sign of life for longer
// than its grace period.
func (o observation) overdue(now time.Time) bool {
	return now.After(o.health.probe.Add(o.grace))
}

// markUnknown returns a copy of node whose Ready, MemoryPressure,
// DiskPressure and PIDPressure conditions are Unknown (upstream's second
// half of tryUpdateNodeHealth): an existing condition keeps its heartbeat
// and, if not Unknown already, gets reason NodeStatusUnknown, message
// "Kubelet stopped posting node status." and transition time now; a
// missing one is added with NodeStatusNeverUpdated.
func markUnknown(node *corev1.Node, now time.Time) *corev1.Node {
	out := node.DeepCopy()
	ts := metav1.NewTime(now)
	for _, t := range unknownConditions {
		c := condition(&out.Status, t)
		if c == nil {
			out.Status.Conditions = append(out.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown,
				Reason: reasonStatusNeverUpdated, Message: messageStatusNeverUpdated,
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: ts,
			})
			continue
		}
		if c.Status != corev1.ConditionUnknown {
			c.Status = corev1.ConditionUnknown
			c.Reason = reasonStatusUnknown
			c.Message = messageStatusUnknown
			c.LastTransitionTime = ts
		}
	}
	return out
}

func condition(s *corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	if s == nil {
		return nil
	}
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

func readyCondition(s *corev1.NodeStatus) *corev1.NodeCondition {
	return condition(s, corev1.NodeReady)
}
