package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// taintRetries bounds the conflict retries of a taint change (upstream
// UpdateTaintBackoff: 5 steps).
const taintRetries = 5

// updateTaints adds and removes taints on node (matched by key and
// effect) with a JSON merge patch of spec.taints that carries the node's
// resourceVersion, so that a concurrent change of the list is not lost
// (upstream PatchNodeTaints keeps the resourceVersion in its patch for the
// same reason). The first try uses the node given; a conflict re-reads it
// live and tries again. It returns the node as it now stands and whether
// the taints changed.
func (c *Controller) updateTaints(ctx context.Context, node *corev1.Node, add, remove []corev1.Taint) (*corev1.Node, bool, error) {
	for attempt := 1; ; attempt++ {
		taints, changed := applyTaints(node.Spec.Taints, add, remove, c.clock.Now())
		if !changed {
			return node, false, nil
		}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": node.ResourceVersion},
			"spec":     map[string]any{"taints": taints},
		})
		if err != nil {
			return node, false, err
		}
		patched, err := c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil {
			c.countTaints(node.Spec.Taints, patched.Spec.Taints)
			c.log.Info("node taints changed", "node", node.Name, "taints", taintStrings(patched.Spec.Taints))
			return patched, true, nil
		}
		if apierrors.IsNotFound(err) {
			return node, false, nil
		}
		if !apierrors.IsConflict(err) || attempt >= taintRetries {
			c.metrics.errors.WithLabelValues("taints").Inc()
			return node, false, fmt.Errorf("patching the taints of node %s: %w", node.Name, err)
		}
		live, err := c.client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return node, false, nil
		}
		if err != nil {
			return node, false, fmt.Errorf("reading node %s: %w", node.Name, err)
		}
		node = live
	}
}

// countTaints counts what changed between before and after.
func (c *Controller) countTaints(before, after []corev1.Taint) {
	for _, t := range after {
		if !hasTaint(before, &t) {
			c.metrics.taints.WithLabelValues(t.Key, string(t.Effect), "added").Inc()
		}
	}
	for _, t := range before {
		if !hasTaint(after, &t) {
			c.metrics.taints.WithLabelValues(t.Key, string(t.Effect), "removed").Inc()
		}
	}
}

func taintStrings(ts []corev1.Taint) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.ToString())
	}
	return out
}

// markPodsNotReady is upstream's MarkPodsNotReady: every pod on the node
// that has a Ready condition not False gets Ready=False (transition time
// now) and a NodeNotReady Warning event. The write is a strategic merge
// patch of the status with the pod's uid as a precondition (upstream
// updates the whole status; a patch does not fight the agent's writes).
func (c *Controller) markPodsNotReady(ctx context.Context, nodeName string) error {
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, pod := range pods {
		if pod.Spec.NodeName != nodeName {
			continue
		}
		var ready *corev1.PodCondition
		for i := range pod.Status.Conditions {
			if pod.Status.Conditions[i].Type == corev1.PodReady {
				ready = &pod.Status.Conditions[i]
				break
			}
		}
		if ready == nil || ready.Status == corev1.ConditionFalse {
			continue
		}
		status := *pod.Status.DeepCopy()
		for i := range status.Conditions {
			if status.Conditions[i].Type == corev1.PodReady {
				status.Conditions[i].Status = corev1.ConditionFalse
				status.Conditions[i].LastTransitionTime = metav1.NewTime(c.clock.Now())
			}
		}
		patch, err := statusPatch(pod, status)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("marking pod %s/%s not ready: %w", pod.Namespace, pod.Name, err))
			continue
		}
		c.log.Info("pod marked not ready", "pod", pod.Namespace+"/"+pod.Name, "node", nodeName)
		c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	return utilerrors.NewAggregate(errs)
}

// statusPatch is the strategic merge patch from pod's status to status,
// with the pod's uid as a precondition (upstream util/pod PatchPodStatus).
func statusPatch(pod *corev1.Pod, status corev1.PodStatus) ([]byte, error) {
	oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return nil, err
	}
	newData, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: pod.UID}, Status: status})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("building the status patch: %w", err)
	}
	return patch, nil
}

// nodeEvent records upstream's RecordNodeEvent: "Node <name> event:
// <what>".
func (c *Controller) nodeEvent(node *corev1.Node, reason, what string) {
	c.recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, reason, "Node %s event: %s", node.Name, what)
}

func nodeRef(node *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}
}
