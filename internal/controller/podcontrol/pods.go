package podcontrol

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// PodControllerIndex names the pod informer index of
// PodControllerIndexKey: pods by their controller, and orphans by
// namespace (upstream controller.PodControllerIndex).
const PodControllerIndex = "podController"

// IsPodActive reports whether p counts as a replica: neither terminal
// (Succeeded, Failed) nor terminating (spec G11, upstream IsPodActive).
func IsPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded &&
		p.Status.Phase != corev1.PodFailed &&
		p.DeletionTimestamp == nil
}

// IsPodTerminal reports whether p's phase is Succeeded or Failed.
func IsPodTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// IsPodTerminating reports whether p is being deleted and not yet
// terminal: what status.terminatingReplicas counts (spec G11).
func IsPodTerminating(p *corev1.Pod) bool {
	return !IsPodTerminal(p) && p.DeletionTimestamp != nil
}

// FilterActivePods returns the active pods of pods.
func FilterActivePods(pods []*corev1.Pod) []*corev1.Pod {
	return filter(pods, IsPodActive)
}

// FilterTerminatingPods returns the terminating pods of pods.
func FilterTerminatingPods(pods []*corev1.Pod) []*corev1.Pod {
	return filter(pods, IsPodTerminating)
}

// FilterClaimedPods returns the pods controlled by owner that match
// selector (upstream FilterClaimedPods): what an owner may count without
// claiming, e.g. its terminating pods.
func FilterClaimedPods(owner metav1.Object, selector labels.Selector, pods []*corev1.Pod) []*corev1.Pod {
	return filter(pods, func(p *corev1.Pod) bool {
		return metav1.IsControlledBy(p, owner) && selector.Matches(labels.Set(p.Labels))
	})
}

func filter(pods []*corev1.Pod, keep func(*corev1.Pod) bool) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// PodReadyCondition returns p's Ready condition, or nil.
func PodReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether p's Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	c := PodReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable reports whether p has been ready for minReadySeconds at
// now (upstream podutil.IsPodAvailable): with minReadySeconds 0, ready is
// available.
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !IsPodReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := PodReadyCondition(p)
	return !c.LastTransitionTime.IsZero() &&
		c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Compare(now) <= 0
}

// nextAvailabilityCheck is how long until p becomes available, or nil if
// it is not ready, already available, or minReadySeconds is 0.
func nextAvailabilityCheck(p *corev1.Pod, minReadySeconds int32, now time.Time) *time.Duration {
	if !IsPodReady(p) || minReadySeconds <= 0 {
		return nil
	}
	c := PodReadyCondition(p)
	if c.LastTransitionTime.IsZero() {
		return nil
	}
	d := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
	if d > 0 {
		return &d
	}
	return nil
}

// NextAvailabilityCheck returns how long until the next of pods becomes
// available given minReadySeconds, or nil if none will (upstream
// FindMinNextPodAvailabilityCheck). evaluatedAt is when the owner's status
// was computed, so that no pod turning available since is skipped; the
// wait is then measured on clk, and is 0 if that moment has passed.
func NextAvailabilityCheck(pods []*corev1.Pod, minReadySeconds int32, evaluatedAt time.Time, clk clock.PassiveClock) *time.Duration {
	first, pod := nextAvailable(pods, minReadySeconds, evaluatedAt)
	if first == nil {
		return nil
	}
	if d := nextAvailabilityCheck(pod, minReadySeconds, clk.Now()); d != nil {
		return d
	}
	var now time.Duration
	return &now
}

// nextAvailable returns the shortest wait for one of pods to become
// available at now, and that pod.
func nextAvailable(pods []*corev1.Pod, minReadySeconds int32, now time.Time) (*time.Duration, *corev1.Pod) {
	var next *time.Duration
	var pod *corev1.Pod
	for _, p := range pods {
		if d := nextAvailabilityCheck(p, minReadySeconds, now); d != nil && (next == nil || *d < *next) {
			next, pod = d, p
		}
	}
	return next, pod
}

// PodKey is the key expectations track deletions by: namespace/name.
func PodKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// PodControllerIndexKey is the index key of the pods controlled by ref in
// namespace, or of the orphans there when ref is nil.
func PodControllerIndexKey(namespace string, ref *metav1.OwnerReference) string {
	if ref == nil {
		return namespace
	}
	return namespace + "/" + ref.Kind + "/" + ref.Name + "/" + string(ref.UID)
}

// IndexedInformer is what AddPodControllerIndexer needs of the pod
// informer.
type IndexedInformer interface {
	GetIndexer() cache.Indexer
	AddIndexers(cache.Indexers) error
}

// AddPodControllerIndexer adds PodControllerIndex to the pod informer,
// once however many controllers ask; call it before the informer starts.
func AddPodControllerIndexer(inf IndexedInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[PodControllerIndex]; ok {
		return nil
	}
	err := inf.AddIndexers(cache.Indexers{PodControllerIndex: func(obj any) ([]string, error) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, nil
		}
		return []string{PodControllerIndexKey(p.Namespace, metav1.GetControllerOfNoCopy(p))}, nil
	}})
	if err != nil {
		return fmt.Errorf("adding the pod controller index: %w", err)
	}
	return nil
}

// PodsForOwner returns, from an indexer built with
// AddPodControllerIndexer, the pods controlled by owner (of kind) and,
// with orphans, the pods in its namespace that have no controller
// (upstream FilterPodsByOwner): the candidates of a claim.
func PodsForOwner(indexer cache.Indexer, owner metav1.Object, kind string, orphans bool) ([]*corev1.Pod, error) {
	keys := []string{PodControllerIndexKey(owner.GetNamespace(), &metav1.OwnerReference{Kind: kind, Name: owner.GetName(), UID: owner.GetUID()})}
	if orphans {
		keys = append(keys, PodControllerIndexKey(owner.GetNamespace(), nil))
	}
	var out []*corev1.Pod
	for _, key := range keys {
		objs, err := indexer.ByIndex(PodControllerIndex, key)
		if err != nil {
			return nil, fmt.Errorf("listing pods by controller: %w", err)
		}
		for _, obj := range objs {
			if p, ok := obj.(*corev1.Pod); ok {
				out = append(out, p)
			}
		}
	}
	return out, nil
}
