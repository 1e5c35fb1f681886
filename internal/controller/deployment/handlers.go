package deployment

import (
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// The event handlers follow upstream deployment_controller.go:
// Deployments are queued on every change; a ReplicaSet queues its
// controlling Deployment or, if an orphan, every Deployment that selects
// it, so that one may adopt it; a deleted pod queues the Deployment of
// its ReplicaSet when that Deployment recreates, since Recreate waits
// for the old pods to be gone.

func (c *Controller) addDeployment(obj any) {
	if d := deploymentFrom(obj); d != nil {
		c.queue.Add(keyOf(d))
	}
}

func (c *Controller) updateDeployment(_, newObj any) { c.addDeployment(newObj) }

func (c *Controller) deleteDeployment(obj any) { c.addDeployment(obj) }

func deploymentFrom(obj any) *appsv1.Deployment {
	d, _ := runner.Unwrap[*appsv1.Deployment](obj)
	return d
}

func replicaSetFrom(obj any) *appsv1.ReplicaSet {
	rs, _ := runner.Unwrap[*appsv1.ReplicaSet](obj)
	return rs
}

func (c *Controller) addReplicaSet(obj any) {
	rs := replicaSetFrom(obj)
	if rs == nil {
		return
	}
	if rs.DeletionTimestamp != nil {
		// Seen first while being deleted (a restart): a deletion.
		c.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.queue.Add(keyOf(d))
		}
		return
	}
	for _, d := range c.deploymentsSelecting(rs) {
		c.queue.Add(keyOf(d))
	}
}

func (c *Controller) updateReplicaSet(oldObj, newObj any) {
	old, cur := replicaSetFrom(oldObj), replicaSetFrom(newObj)
	if old == nil || cur == nil || old.ResourceVersion == cur.ResourceVersion {
		// A resync: nothing changed.
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(cur), metav1.GetControllerOfNoCopy(old)
	refChanged := !apiequality.Semantic.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if d := c.resolveControllerRef(old.Namespace, oldRef); d != nil {
			c.queue.Add(keyOf(d))
		}
	}
	if curRef != nil {
		if d := c.resolveControllerRef(cur.Namespace, curRef); d != nil {
			c.queue.Add(keyOf(d))
		}
		return
	}
	if refChanged || !maps.Equal(old.Labels, cur.Labels) {
		for _, d := range c.deploymentsSelecting(cur) {
			c.queue.Add(keyOf(d))
		}
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	rs := replicaSetFrom(obj)
	if rs == nil {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.queue.Add(keyOf(d))
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := runner.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != replicaSetKind.Kind {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	dref := metav1.GetControllerOfNoCopy(rs)
	if dref == nil {
		return
	}
	if d := c.resolveControllerRef(rs.Namespace, dref); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.queue.Add(keyOf(d))
	}
}

// resolveControllerRef returns the cached Deployment ref points to, or
// nil if it is of another kind, absent, or another object of that name.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref.Kind != deploymentKind.Kind {
		return nil
	}
	d, err := c.dLister.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// deploymentsSelecting returns the cached Deployments in rs's namespace
// whose (non-empty) selector matches rs's labels (upstream
// GetDeploymentsForReplicaSet). Several is a user error that the
// controller references settle: the first to adopt wins.
func (c *Controller) deploymentsSelecting(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	if len(rs.Labels) == 0 {
		return nil
	}
	all, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.Deployment
	for _, d := range all {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		out = append(out, d)
	}
	if len(out) > 1 {
		c.log.Warn("user error: more than one Deployment selects a ReplicaSet", "namespace", rs.Namespace, "replicaSet", rs.Name, "labels", rs.Labels)
	}
	return out
}
