package deployment

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rollback serves the deprecated rollbackTo (extensions/v1beta1 and
// apps/v1beta1 DeploymentRollback, kept as the
// deprecated.deployment.rollback.to annotation): the template of the
// ReplicaSet with that revision (0: the previous one) becomes the
// Deployment's, and the annotation goes (upstream rollback.go). Modern
// kubectl rollout undo patches the template itself instead.
func (c *Controller) rollback(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	allRSs := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	to := *rollbackTo(d)
	if to == 0 {
		if to = lastRevision(allRSs); to == 0 {
			c.recorder.Eventf(d, corev1.EventTypeWarning, RollbackRevisionNotFound, "%s", "Unable to find last revision.")
			return c.clearRollbackTo(ctx, d)
		}
	}
	for _, rs := range allRSs {
		if rs == nil {
			continue
		}
		if v, err := revision(rs); err != nil || v != to {
			continue
		}
		if equalIgnoreHash(&d.Spec.Template, &rs.Spec.Template) {
			c.recorder.Eventf(d, corev1.EventTypeWarning, RollbackTemplateUnchanged, "The rollback revision contains the same template as current deployment %q", d.Name)
			return c.clearRollbackTo(ctx, d)
		}
		d.Spec.Template.ObjectMeta = *rs.Spec.Template.ObjectMeta.DeepCopy()
		d.Spec.Template.Spec = *rs.Spec.Template.Spec.DeepCopy()
		delete(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		// The ReplicaSet's annotations (change-cause) come back with its
		// template; otherwise the Deployment's current ones would be
		// copied onto it.
		kept := map[string]string{}
		for k, v := range d.Annotations {
			if annotationsToSkip[k] {
				kept[k] = v
			}
		}
		for k, v := range rs.Annotations {
			if !annotationsToSkip[k] {
				kept[k] = v
			}
		}
		d.Annotations = kept
		if err := c.clearRollbackTo(ctx, d); err != nil {
			return err
		}
		c.recorder.Eventf(d, corev1.EventTypeNormal, RollbackDone, "Rolled back deployment %q to revision %d", d.Name, to)
		return nil
	}
	c.recorder.Eventf(d, corev1.EventTypeWarning, RollbackRevisionNotFound, "%s", "Unable to find the revision to rollback to.")
	return c.clearRollbackTo(ctx, d)
}

// clearRollbackTo removes the rollbackTo annotation with a main-resource
// update (it also carries a rolled-back template).
func (c *Controller) clearRollbackTo(ctx context.Context, d *appsv1.Deployment) error {
	delete(d.Annotations, appsv1.DeprecatedRollbackTo)
	if _, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating deployment %s: %w", keyOf(d), err)
	}
	return nil
}

// rollbackTo is the revision the deprecated annotation asks for; nil
// when absent or invalid.
func rollbackTo(d *appsv1.Deployment) *int64 {
	v := d.Annotations[appsv1.DeprecatedRollbackTo]
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}
