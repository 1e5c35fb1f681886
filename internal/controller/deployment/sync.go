package deployment

import (
	"context"
	"fmt"
	"reflect"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// sync brings one Deployment's ReplicaSets and status in line (upstream
// syncDeployment).
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", key, err)
	}
	cached, err := c.dLister.Deployments(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading deployment %s: %w", key, err)
	}
	// The cache is shared: work on a copy.
	d := cached.DeepCopy()

	if reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			if _, err := c.updateStatus(ctx, d); err != nil {
				return err
			}
		}
		return nil
	}

	rsList, err := c.replicaSetsFor(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		// B7: the garbage collector takes the ReplicaSets down; only the
		// status is kept current meanwhile.
		return c.syncStatusOnly(ctx, d, rsList)
	}
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.syncScale(ctx, d, rsList)
	}
	if rollbackTo(d) != nil {
		// Not re-entrant: the next sync proceeds once the annotation is
		// gone.
		return c.rollback(ctx, d, rsList)
	}
	scaling, err := c.isScalingEvent(ctx, d, rsList)
	if err != nil {
		return err
	}
	if scaling {
		return c.syncScale(ctx, d, rsList)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		podMap, err := c.podMap(rsList)
		if err != nil {
			return err
		}
		return c.rolloutRecreate(ctx, d, rsList, podMap)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, rsList)
	}
	return fmt.Errorf("unexpected deployment strategy type: %s", d.Spec.Strategy.Type)
}

// replicaSetsFor claims the ReplicaSets of d's namespace (upstream
// getReplicaSetsForDeployment with ClaimReplicaSets): owned ones that
// match are d's, owned ones that no longer match are released, matching
// orphans are adopted after a live read of d (a cached d may be deleted
// or replaced, #42639).
func (c *Controller) replicaSetsFor(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing replica sets: %w", err)
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	canAdopt := podcontrol.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
		fresh, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if fresh.UID != d.UID {
			return nil, fmt.Errorf("original Deployment %s/%s is gone: got uid %s, wanted %s", d.Namespace, d.Name, fresh.UID, d.UID)
		}
		return fresh, nil
	})
	m := podcontrol.NewRefManager(d, deploymentKind, selector, canAdopt)
	match := func(obj metav1.Object) bool { return selector.Matches(labels.Set(obj.GetLabels())) }
	adopt := func(ctx context.Context, obj metav1.Object) error {
		if err := m.CanAdopt(ctx); err != nil {
			return fmt.Errorf("%w ReplicaSet %s/%s (%s): %w", podcontrol.ErrCannotAdopt, obj.GetNamespace(), obj.GetName(), obj.GetUID(), err)
		}
		patch, err := podcontrol.AdoptPatch(d, deploymentKind, obj.GetUID())
		if err != nil {
			return err
		}
		return c.patchRS(ctx, obj, patch)
	}
	release := func(ctx context.Context, obj metav1.Object) error {
		patch, err := podcontrol.ReleasePatch(obj.GetUID(), []types.UID{d.UID})
		if err != nil {
			return err
		}
		err = c.patchRS(ctx, obj, patch)
		if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
			// Gone, or recreated under the same name.
			return nil
		}
		return err
	}
	var claimed []*appsv1.ReplicaSet
	var errs []error
	for _, rs := range all {
		ok, err := m.ClaimObject(ctx, rs, match, adopt, release)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, rs)
		}
	}
	if len(errs) > 0 {
		return claimed, fmt.Errorf("claiming replica sets: %w", errs[0])
	}
	return claimed, nil
}

func (c *Controller) patchRS(ctx context.Context, obj metav1.Object, patch []byte) error {
	_, err := c.client.AppsV1().ReplicaSets(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}

// podMap returns the pods controlled by each ReplicaSet, by uid.
func (c *Controller) podMap(rsList []*appsv1.ReplicaSet) (map[types.UID][]*corev1.Pod, error) {
	out := make(map[types.UID][]*corev1.Pod, len(rsList))
	for _, rs := range rsList {
		pods, err := podcontrol.PodsForOwner(c.podIndexer, rs, replicaSetKind.Kind, false)
		if err != nil {
			return nil, err
		}
		out[rs.UID] = pods
	}
	return out, nil
}

// syncStatusOnly writes status and nothing else.
func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// syncScale handles a scaling event or a paused Deployment: sizes
// change proportionally, no rollout happens (upstream sync).
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused && rollbackTo(d) == nil {
		if err := c.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// checkPausedConditions records pausing and resuming in the Progressing
// condition (reason Unknown), so that a resumed Deployment does not time
// out for the time it was paused.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == TimedOutReason {
		// A reported lack of progress stays.
		return nil
	}
	pausedCond := cond != nil && cond.Reason == PausedDeployReason
	now := c.clock.Now()
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, PausedDeployReason, "Deployment is paused", now))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ResumedDeployReason, "Deployment is resumed", now))
	default:
		return nil
	}
	_, err := c.updateStatus(ctx, d)
	return err
}

// updateStatus writes d's status and keeps d's resourceVersion current,
// so that the sync's next write does not conflict with this one.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	if updated != nil && updated.ResourceVersion != "" {
		d.ResourceVersion = updated.ResourceVersion
	}
	return updated, nil
}

// replicaSetsAndSyncRevision returns the new ReplicaSet (created if
// asked and missing) and the old ones, with the new one's revision
// raised above the old ones and copied to the Deployment (upstream
// getAllReplicaSetsAndSyncRevision).
func (c *Controller) replicaSetsAndSyncRevision(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	oldRSs := findOldReplicaSets(d, rsList)
	newRS, err := c.newReplicaSet(ctx, d, rsList, oldRSs, create)
	if err != nil {
		return nil, nil, err
	}
	return newRS, oldRSs, nil
}

// newReplicaSet is upstream getNewReplicaSet: the existing new
// ReplicaSet with its annotations and minReadySeconds brought in line,
// or, if create, a new one named after the template's hash.
func (c *Controller) newReplicaSet(ctx context.Context, d *appsv1.Deployment, rsList, oldRSs []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	existing := findNewReplicaSet(d, rsList)
	newRevision := maxRevision(oldRSs) + 1
	now := c.clock.Now()

	if existing != nil {
		rsCopy := existing.DeepCopy()
		annotationsUpdated := setNewReplicaSetAnnotations(d, rsCopy, newRevision, true)
		if annotationsUpdated || rsCopy.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rsCopy.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.client.AppsV1().ReplicaSets(rsCopy.Namespace).Update(ctx, rsCopy, metav1.UpdateOptions{})
			if err != nil {
				return nil, fmt.Errorf("updating replica set %s: %w", rsCopy.Name, err)
			}
			return updated, nil
		}
		needsUpdate := setDeploymentRevision(d, rsCopy.Annotations[RevisionAnnotation])
		// A Deployment that never had a Progressing condition starts
		// measuring progress from the first time its new ReplicaSet is
		// seen.
		if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, FoundNewRSReason, fmt.Sprintf("Found new replica set %q", rsCopy.Name), now))
			needsUpdate = true
		}
		if needsUpdate {
			if _, err := c.updateStatus(ctx, d); err != nil {
				return nil, err
			}
		}
		return rsCopy, nil
	}
	if !create {
		return nil, nil
	}

	template := *d.Spec.Template.DeepCopy()
	hash := ComputeHash(&template, d.Status.CollisionCount)
	template.Labels = withLabel(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	selector := d.Spec.Selector.DeepCopy()
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			// Deterministic, so that a create is idempotent.
			Name:            replicaSetName(d.Name, hash),
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, deploymentKind)},
			Labels:          template.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	n, err := newRSNewReplicas(d, append(append([]*appsv1.ReplicaSet(nil), oldRSs...), rs), rs)
	if err != nil {
		return nil, err
	}
	*rs.Spec.Replicas = n
	setNewReplicaSetAnnotations(d, rs, newRevision, false)

	alreadyExists := false
	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	c.metrics.rsOp("create", err)
	switch {
	case apierrors.IsAlreadyExists(err):
		// A slow cache, or a hash collision.
		alreadyExists = true
		found, getErr := c.rsLister.ReplicaSets(rs.Namespace).Get(rs.Name)
		if getErr != nil {
			return nil, fmt.Errorf("reading replica set %s: %w", rs.Name, getErr)
		}
		if ref := metav1.GetControllerOfNoCopy(found); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &found.Spec.Template) {
			created, err = found, nil
			break
		}
		// A collision: another template (or owner) has this name. A new
		// collisionCount changes the hash of the next attempt.
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if _, dErr := c.updateStatus(ctx, d); dErr == nil {
			c.log.Info("hash collision, bumped collisionCount", "deployment", keyOf(d), "collisionCount", *d.Status.CollisionCount)
		}
		return nil, fmt.Errorf("creating replica set %s: %w", rs.Name, err)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, fmt.Errorf("creating replica set %s: %w", rs.Name, err)
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, FailedRSCreateReason, msg, now))
			// The bigger problem is reported below.
			_, _ = c.updateStatus(ctx, d)
		}
		c.recorder.Eventf(d, corev1.EventTypeWarning, FailedRSCreateReason, "%s", msg)
		return nil, fmt.Errorf("creating replica set %s: %w", rs.Name, err)
	}
	if !alreadyExists && n > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, n)
	}
	needsUpdate := setDeploymentRevision(d, strconv.FormatInt(newRevision, 10))
	if !alreadyExists && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewReplicaSetReason, fmt.Sprintf("Created new replica set %q", created.Name), now))
		needsUpdate = true
	}
	if needsUpdate {
		if _, err := c.updateStatus(ctx, d); err != nil {
			return created, err
		}
	}
	return created, nil
}

// withLabel returns a copy of l with key=value.
func withLabel(l map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(l)+1)
	for k, v := range l {
		out[k] = v
	}
	out[key] = value
	return out
}

// setDeploymentRevision sets the Deployment's revision annotation (kept
// by a status update, as upstream's status strategy keeps annotations);
// it reports a change.
func setDeploymentRevision(d *appsv1.Deployment, rev string) bool {
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	if d.Annotations[RevisionAnnotation] == rev {
		return false
	}
	d.Annotations[RevisionAnnotation] = rev
	return true
}

// isScalingEvent: an active ReplicaSet was sized for another
// spec.replicas than the Deployment's now.
func (c *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range activeRS(append(oldRSs, newRS)) {
		if desired, ok := int32Annotation(rs, DesiredReplicasAnnotation); ok && desired != replicasOf(d) {
			return true, nil
		}
	}
	return false, nil
}

// scale resizes the ReplicaSets for a new spec.replicas (upstream
// scale): the one active (or newest) ReplicaSet takes all; a saturated
// new ReplicaSet empties the old ones; otherwise, under RollingUpdate,
// the difference is spread over the active ReplicaSets in proportion to
// their size, so that a scale during a rollout neither hastens nor slows
// it.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if target := findActiveOrLatest(newRS, oldRSs); target != nil {
		if rsReplicas(target) == replicasOf(d) {
			return nil
		}
		_, _, err := c.scaleReplicaSet(ctx, target, replicasOf(d), d, false)
		return err
	}
	if isSaturated(d, newRS) {
		for _, old := range activeRS(oldRSs) {
			if _, _, err := c.scaleReplicaSet(ctx, old, 0, d, false); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := activeRS(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	var allowed int32
	if replicasOf(d) > 0 {
		allowed = replicasOf(d) + maxSurge(d)
	}
	toAdd := allowed - replicaCount(all)
	// Larger first; on a tie newer first when growing, older first when
	// shrinking.
	switch {
	case toAdd > 0:
		bySizeNewer(all)
	case toAdd < 0:
		bySizeOlder(all)
	}
	var added int32
	sizes := make(map[string]int32, len(all))
	for _, rs := range all {
		if toAdd == 0 {
			sizes[rs.Name] = rsReplicas(rs)
			continue
		}
		p := replicaSetProportion(rs, d, toAdd, added)
		sizes[rs.Name] = rsReplicas(rs) + p
		added += p
	}
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			// Leftovers go to the largest.
			sizes[rs.Name] = max(0, sizes[rs.Name]+toAdd-added)
		}
		if _, _, err := c.scaleReplicaSet(ctx, rs, sizes[rs.Name], d, true); err != nil {
			return err
		}
	}
	return nil
}

// scaleReplicaSet sets rs's replicas (and its replicas annotations) and
// records ScalingReplicaSet. Without force it writes only when the size
// changes. It reports whether the size changed.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment, force bool) (bool, *appsv1.ReplicaSet, error) {
	oldSize := rsReplicas(rs)
	if !force && oldSize == size {
		return false, rs, nil
	}
	desired, maxReplicas := replicasOf(d), replicasOf(d)+maxSurge(d)
	sizeChanged := oldSize != size
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false, rs, nil
	}
	rsCopy := rs.DeepCopy()
	rsCopy.Spec.Replicas = &size
	setReplicasAnnotations(rsCopy, desired, maxReplicas)
	updated, err := c.client.AppsV1().ReplicaSets(rsCopy.Namespace).Update(ctx, rsCopy, metav1.UpdateOptions{})
	c.metrics.rsOp("scale", err)
	if err != nil {
		return false, rs, fmt.Errorf("scaling replica set %s: %w", rs.Name, err)
	}
	if !sizeChanged {
		return false, updated, nil
	}
	op := "down"
	if oldSize < size {
		op = "up"
	}
	c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, updated.Name, oldSize, size)
	return true, updated, nil
}

// cleanupDeployment deletes the oldest old ReplicaSets beyond
// revisionHistoryLimit, only those with no replicas, wanted or running,
// whose status is current and that are not being deleted already.
func (c *Controller) cleanupDeployment(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) error {
	if !hasRevisionHistoryLimit(d) {
		return nil
	}
	cleanable := filterRS(oldRSs, func(rs *appsv1.ReplicaSet) bool { return rs.DeletionTimestamp == nil })
	diff := int32(len(cleanable)) - *d.Spec.RevisionHistoryLimit
	if diff <= 0 {
		return nil
	}
	byRevision(cleanable)
	for _, rs := range cleanable[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{
			// The one we looked at, not a newer one of that name.
			Preconditions: &metav1.Preconditions{UID: &rs.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			c.metrics.rsOp("delete", err)
			// One failure is likely the next one's: stop here.
			return fmt.Errorf("deleting old replica set %s: %w", rs.Name, err)
		}
		c.metrics.rsOp("delete", nil)
	}
	return nil
}

// syncDeploymentStatus writes the status computed from the ReplicaSets
// when it changed.
func (c *Controller) syncDeploymentStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	status := c.calculateStatus(allRSs, newRS, d)
	if reflect.DeepEqual(d.Status, status) {
		return nil
	}
	d.Status = status
	_, err := c.updateStatus(ctx, d)
	return err
}

// calculateStatus sums the ReplicaSets' status and sets the Available
// condition (upstream calculateStatus).
func (c *Controller) calculateStatus(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) appsv1.DeploymentStatus {
	available := availableReplicaCount(allRSs)
	// More available than wanted while scaling down is not negative
	// unavailability.
	unavailable := max(0, replicaCount(allRSs)-available)
	status := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            actualReplicaCount(allRSs),
		UpdatedReplicas:     actualReplicaCount([]*appsv1.ReplicaSet{newRS}),
		ReadyReplicas:       readyReplicaCount(allRSs),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
		// G11: DeploymentReplicaSetTerminatingReplicas, on by default
		// since 1.35.
		TerminatingReplicas: terminatingReplicaCount(allRSs),
	}
	status.Conditions = append(status.Conditions, d.Status.Conditions...)
	now := c.clock.Now()
	if available >= replicasOf(d)-maxUnavailable(d) {
		setCondition(&status, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, MinimumReplicasAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&status, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, MinimumReplicasUnavailable, "Deployment does not have minimum availability.", now))
	}
	return status
}
