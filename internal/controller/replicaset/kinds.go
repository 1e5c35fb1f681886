package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// kind adapts one API kind to the controller, which works on apps/v1
// ReplicaSets: upstream treats a ReplicationController as an older
// version of ReplicaSet and converts it on the way in and out
// (pkg/controller/replication/conversion.go); here a kind is a small set
// of functions over its informer and client.
type kind struct {
	gvk schema.GroupVersionKind
	// name prefixes the metrics and names the queue ("replicaset",
	// "replicationcontroller").
	name string
	// component is the event source (kube-controller-manager's).
	component string
	// terminatingReplicas: the kind's status has terminatingReplicas
	// (upstream EnableStatusTerminatingReplicas: ReplicaSets yes,
	// ReplicationControllers no).
	terminatingReplicas bool

	informer cache.SharedIndexInformer
	// convert returns the ReplicaSet view of an informer object (not a
	// tombstone); the view shares the cached object's maps and slices.
	convert func(obj any) (*appsv1.ReplicaSet, bool)
	// get reads the object live.
	get func(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error)
	// updateStatus writes rs's status through the status subresource.
	updateStatus func(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
}

// replicaSets is the ReplicaSet kind.
func replicaSets(client kubernetes.Interface, f informers.SharedInformerFactory) *kind {
	return &kind{
		gvk:                 appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
		name:                "replicaset",
		component:           "replicaset-controller",
		terminatingReplicas: true,
		informer:            f.Apps().V1().ReplicaSets().Informer(),
		convert: func(obj any) (*appsv1.ReplicaSet, bool) {
			rs, ok := obj.(*appsv1.ReplicaSet)
			return rs, ok
		},
		get: func(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
			return client.AppsV1().ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
		},
		updateStatus: func(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
			return client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
		},
	}
}

// replicationControllers is the ReplicationController kind.
func replicationControllers(client kubernetes.Interface, f informers.SharedInformerFactory) *kind {
	return &kind{
		gvk:       corev1.SchemeGroupVersion.WithKind("ReplicationController"),
		name:      "replicationcontroller",
		component: "replication-controller",
		informer:  f.Core().V1().ReplicationControllers().Informer(),
		convert: func(obj any) (*appsv1.ReplicaSet, bool) {
			rc, ok := obj.(*corev1.ReplicationController)
			if !ok {
				return nil, false
			}
			return rcToRS(rc), true
		},
		get: func(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
			rc, err := client.CoreV1().ReplicationControllers(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return rcToRS(rc), nil
		},
		updateStatus: func(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
			rc, err := client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, rsToRC(rs), metav1.UpdateOptions{})
			if err != nil {
				return nil, err
			}
			return rcToRS(rc), nil
		},
	}
}

// rcToRS is upstream's v1 ReplicationController to apps ReplicaSet
// conversion: the selector map becomes matchLabels (a nil map stays a nil
// selector, which selects nothing).
func rcToRS(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: rc.ObjectMeta,
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Selector != nil {
		rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: rc.Spec.Selector}
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return rs
}

// rsToRC converts back what rcToRS made (terminatingReplicas has no place
// in a ReplicationController's status).
func rsToRC(rs *appsv1.ReplicaSet) *corev1.ReplicationController {
	rc := &corev1.ReplicationController{
		ObjectMeta: rs.ObjectMeta,
		Spec: corev1.ReplicationControllerSpec{
			Replicas:        rs.Spec.Replicas,
			MinReadySeconds: rs.Spec.MinReadySeconds,
		},
		Status: corev1.ReplicationControllerStatus{
			Replicas:             rs.Status.Replicas,
			FullyLabeledReplicas: rs.Status.FullyLabeledReplicas,
			ReadyReplicas:        rs.Status.ReadyReplicas,
			AvailableReplicas:    rs.Status.AvailableReplicas,
			ObservedGeneration:   rs.Status.ObservedGeneration,
		},
	}
	if rs.Spec.Selector != nil {
		rc.Spec.Selector = rs.Spec.Selector.MatchLabels
	}
	t := rs.Spec.Template
	rc.Spec.Template = &t
	for _, c := range rs.Status.Conditions {
		rc.Status.Conditions = append(rc.Status.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return rc
}

// controllerUIDIndex indexes the owner informer by the uid of each
// object's controller (upstream replica_set.go), to find the ReplicaSets
// of one Deployment.
const controllerUIDIndex = "controllerUID"

// addControllerUIDIndex adds controllerUIDIndex to inf once.
func addControllerUIDIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[controllerUIDIndex]; ok {
		return nil
	}
	err := inf.AddIndexers(cache.Indexers{controllerUIDIndex: func(obj any) ([]string, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil
		}
		if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return nil, nil
	}})
	if err != nil {
		return fmt.Errorf("adding the controller uid index: %w", err)
	}
	return nil
}

// cached returns the cached object namespace/name.
func (k *kind) cached(namespace, name string) (*appsv1.ReplicaSet, error) {
	obj, ok, err := k.informer.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierrors.NewNotFound(k.resource(), name)
	}
	rs, ok := k.convert(obj)
	if !ok {
		return nil, fmt.Errorf("unexpected %T in the %s cache", obj, k.name)
	}
	return rs, nil
}

// byIndex returns the cached objects under index key value.
func (k *kind) byIndex(index, value string) ([]*appsv1.ReplicaSet, error) {
	objs, err := k.informer.GetIndexer().ByIndex(index, value)
	if err != nil {
		return nil, fmt.Errorf("listing %s by %s: %w", k.name, index, err)
	}
	out := make([]*appsv1.ReplicaSet, 0, len(objs))
	for _, obj := range objs {
		if rs, ok := k.convert(obj); ok {
			out = append(out, rs)
		}
	}
	return out, nil
}

func (k *kind) resource() schema.GroupResource {
	if k.gvk.Group == "" {
		return schema.GroupResource{Resource: "replicationcontrollers"}
	}
	return schema.GroupResource{Group: k.gvk.Group, Resource: "replicasets"}
}

// fromEvent returns the ReplicaSet view of an informer event object,
// unwrapping a tombstone; nil if it is neither.
func (k *kind) fromEvent(obj any) *appsv1.ReplicaSet {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rs, ok := k.convert(obj)
	if !ok {
		return nil
	}
	return rs
}
