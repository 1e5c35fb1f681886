package scheduler

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/tools/cache"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// podChanged routes a pod event (old is nil for an add). Pending pods of
// this scheduler are queued; a parked pod is moved back only when its
// spec or labels changed (upstream's isPodUpdated ignores status-only
// updates, such as the PodScheduled condition this scheduler writes). An
// assigned pod that turns terminal frees its node's resources, which may
// help every parked pod.
func (c *Controller) podChanged(old, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		return
	}
	oldPod, _ := old.(*corev1.Pod)
	if pod.Spec.NodeName != "" {
		if oldPod != nil && oldPod.Spec.NodeName == "" {
			c.pool.forget(key) // bound: by us or by someone else
		}
		if oldPod != nil && oldPod.Spec.NodeName != "" && !terminal(oldPod) && terminal(pod) {
			c.moveAll("AssignedPodTerminal")
		}
		return
	}
	if !c.responsible(pod) {
		if oldPod != nil && c.responsible(oldPod) {
			c.pool.forget(key) // terminating now, or handed to another scheduler
		}
		return
	}
	if oldPod == nil {
		c.queue.Add(key)
		return
	}
	if !specChanged(oldPod, pod) {
		return
	}
	if d, parked := c.pool.move(key, c.clock.Now()); parked {
		c.queue.AddAfter(key, d)
		return
	}
	c.queue.Add(key)
}

// podDeleted forgets a pending pod; an assigned pod that goes frees its
// node's resources.
func (c *Controller) podDeleted(obj any) {
	pod, ok := runner.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	if pod.Spec.NodeName == "" {
		if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
			c.pool.forget(key)
		}
		return
	}
	if !terminal(pod) {
		c.moveAll("AssignedPodDelete")
	}
}

// nodeChanged moves the parked pods when a node changed in a way a filter
// looks at (upstream's NodeUpdate events: labels, taints,
// unschedulable, allocatable, conditions), not on mere heartbeats.
func (c *Controller) nodeChanged(old, obj any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := obj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	if !apiequality.Semantic.DeepEqual(o.Labels, n.Labels) ||
		!apiequality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) ||
		o.Spec.Unschedulable != n.Spec.Unschedulable ||
		!apiequality.Semantic.DeepEqual(o.Status.Allocatable, n.Status.Allocatable) ||
		!sameConditionStatuses(o.Status.Conditions, n.Status.Conditions) {
		c.moveAll("NodeUpdate")
	}
}

// moveAll sends every parked pod back to the queue, each after what is
// left of its back-off (upstream MoveAllToActiveOrBackoffQueue).
func (c *Controller) moveAll(event string) {
	moved := c.pool.moveAll(c.clock.Now())
	if len(moved) > 0 {
		c.log.Debug("moving unschedulable pods", "event", event, "pods", len(moved))
	}
	for key, d := range moved {
		c.queue.AddAfter(key, d)
	}
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// specChanged reports a change other than to status and bookkeeping
// metadata (upstream queue isPodUpdated).
func specChanged(o, n *corev1.Pod) bool {
	strip := func(p *corev1.Pod) *corev1.Pod {
		p = p.DeepCopy()
		p.ResourceVersion = ""
		p.Generation = 0
		p.ManagedFields = nil
		p.Status = corev1.PodStatus{}
		return p
	}
	return !apiequality.Semantic.DeepEqual(strip(o), strip(n))
}

func sameConditionStatuses(a, b []corev1.NodeCondition) bool {
	m := make(map[corev1.NodeConditionType]corev1.ConditionStatus, len(a))
	for _, c := range a {
		m[c.Type] = c.Status
	}
	if len(a) != len(b) {
		return false
	}
	for _, c := range b {
		if s, ok := m[c.Type]; !ok || s != c.Status {
			return false
		}
	}
	return true
}

// setCondition sets PodScheduled=False with reason and message on pod,
// as upstream's updatePod: nothing is written when the condition is
// already so; otherwise a strategic merge patch of the status subresource
// carrying the pod's uid as a precondition (util PatchPodStatus). The
// transition time moves only when the status changes (UpdatePodCondition).
func (c *Controller) setCondition(ctx context.Context, pod *corev1.Pod, reason, message string) error {
	cond := corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		ObservedGeneration: pod.Generation,
		Reason:             reason,
		Message:            message,
		LastTransitionTime: metav1.NewTime(c.clock.Now()),
	}
	status := *pod.Status.DeepCopy()
	found := false
	for i := range status.Conditions {
		cur := &status.Conditions[i]
		if cur.Type != cond.Type {
			continue
		}
		found = true
		if cur.Status == cond.Status {
			cond.LastTransitionTime = cur.LastTransitionTime
		}
		if apiequality.Semantic.DeepEqual(*cur, cond) {
			return nil
		}
		*cur = cond
	}
	if !found {
		status.Conditions = append(status.Conditions, cond)
	}
	oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return err
	}
	newData, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: pod.UID}, Status: status})
	if err != nil {
		return err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
	if err != nil {
		return fmt.Errorf("building the status patch: %w", err)
	}
	_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("patching the PodScheduled condition: %w", err)
	}
	return nil
}
