package replicaset

import (
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// The event handlers follow upstream replica_set.go: owners are queued on
// every change; pods queue their controller (observing the expectations
// of creates and deletes), or, if orphans, every owner that selects them,
// so that one may adopt them.

func (c *Controller) addOwner(obj any) {
	if rs := c.kind.fromEvent(obj); rs != nil {
		c.queue.Add(keyOf(rs))
	}
}

func (c *Controller) updateOwner(oldObj, newObj any) {
	old, cur := c.kind.fromEvent(oldObj), c.kind.fromEvent(newObj)
	if old == nil || cur == nil {
		return
	}
	if old.UID != cur.UID {
		// Recreated under the same name between two events: the old one
		// was deleted.
		c.deleteOwner(cache.DeletedFinalStateUnknown{Key: keyOf(old), Obj: oldObj})
	}
	// Every update queues, not only replica changes: a resync then
	// retries owners whose creates failed (upstream's comment).
	c.queue.Add(keyOf(cur))
}

func (c *Controller) deleteOwner(obj any) {
	rs := c.kind.fromEvent(obj)
	if rs == nil {
		return
	}
	key := keyOf(rs)
	// A new owner of the same name starts with no expectations.
	c.expectations.Delete(key)
	c.queue.Add(key)
}

func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// Already terminating when first seen (a restart): a deletion,
		// not a creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		rs := c.resolveControllerRef(pod.Namespace, ref)
		if rs == nil {
			return
		}
		key := keyOf(rs)
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	// An orphan: no expectation waits for it.
	for _, rs := range c.ownersSelecting(pod) {
		c.queue.Add(keyOf(rs))
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, okOld := oldObj.(*corev1.Pod)
	cur, okCur := newObj.(*corev1.Pod)
	if !okOld || !okCur || old.ResourceVersion == cur.ResourceVersion {
		// A resync: nothing changed.
		return
	}
	labelsChanged := !maps.Equal(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// G11: a pod that starts terminating counts as deleted now, so
		// the replacement is created without waiting for it to go.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(cur), metav1.GetControllerOfNoCopy(old)
	refChanged := !apiequality.Semantic.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolveControllerRef(old.Namespace, oldRef); rs != nil {
			c.queue.Add(keyOf(rs))
		}
	}
	if curRef != nil {
		rs := c.resolveControllerRef(cur.Namespace, curRef)
		if rs == nil {
			return
		}
		c.queue.Add(keyOf(rs))
		// A pod that became ready becomes available minReadySeconds later;
		// nothing else would queue the owner then.
		if !podcontrol.IsPodReady(old) && podcontrol.IsPodReady(cur) && rs.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(keyOf(rs), time.Duration(rs.Spec.MinReadySeconds)*time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rs := range c.ownersSelecting(cur) {
			c.queue.Add(keyOf(rs))
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		t, isTombstone := obj.(cache.DeletedFinalStateUnknown)
		if !isTombstone {
			return
		}
		if pod, ok = t.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	rs := c.resolveControllerRef(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key := keyOf(rs)
	c.expectations.DeletionObserved(key, podcontrol.PodKey(pod))
	c.queue.Add(key)
}

// resolveControllerRef returns the cached owner ref points to, or nil if
// it is of another kind, absent, or another object of that name.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != c.kind.gvk.Kind {
		return nil
	}
	rs, err := c.kind.cached(namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// ownersSelecting returns the cached owners in pod's namespace whose
// selector matches pod (upstream GetPodReplicaSets); an empty selector
// matches nothing here. Several is a user error, which the controller
// references settle: the first to adopt wins.
func (c *Controller) ownersSelecting(pod *corev1.Pod) []*appsv1.ReplicaSet {
	if len(pod.Labels) == 0 {
		return nil
	}
	all, err := c.kind.byIndex(cache.NamespaceIndex, pod.Namespace)
	if err != nil {
		c.log.Warn("listing owners", "err", err)
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	if len(out) > 1 {
		c.log.Warn("user error: more than one "+c.kind.gvk.Kind+" selects a pod", "namespace", pod.Namespace, "pod", pod.Name, "labels", pod.Labels)
	}
	return out
}
