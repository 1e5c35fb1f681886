package printers

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Printers for apps/v1. Column descriptions come from the
// extensions/v1beta1 SwaggerDocs because that is what upstream uses.

func apps(resource string) schema.GroupResource {
	return schema.GroupResource{Group: "apps", Resource: resource}
}

func addApps(s *Set) {
	depStatusDoc := extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Ready", "string", "Number of the pod with ready state"),
			col("Up-to-date", "string", depStatusDoc["updatedReplicas"]),
			col("Available", "string", depStatusDoc["availableReplicas"]),
			ageColumn(),
			containersColumn(1),
			imagesColumn(1),
			wideCol("Selector", "string", extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]),
		},
		Cells: cellsOf("deployments", deploymentCells),
	}, apps("deployments"))

	rsSpecDoc := extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()
	rsStatusDoc := extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Desired", "integer", rsSpecDoc["replicas"]),
			col("Current", "integer", rsStatusDoc["replicas"]),
			col("Ready", "integer", rsStatusDoc["readyReplicas"]),
			ageColumn(),
			containersColumn(1),
			imagesColumn(1),
			wideCol("Selector", "string", rsSpecDoc["selector"]),
		},
		Cells: cellsOf("replicasets", replicaSetCells),
	}, apps("replicasets"))

	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Ready", "string", "Number of the pod with ready state"),
			ageColumn(),
			containersColumn(1),
			imagesColumn(1),
		},
		Cells: cellsOf("statefulsets", statefulSetCells),
	}, apps("statefulsets"))

	dsStatusDoc := extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Desired", "integer", dsStatusDoc["desiredNumberScheduled"]),
			col("Current", "integer", dsStatusDoc["currentNumberScheduled"]),
			col("Ready", "integer", dsStatusDoc["numberReady"]),
			col("Up-to-date", "integer", dsStatusDoc["updatedNumberScheduled"]),
			col("Available", "integer", dsStatusDoc["numberAvailable"]),
			col("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
			ageColumn(),
			containersColumn(1),
			imagesColumn(1),
			wideCol("Selector", "string", extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
		},
		Cells: cellsOf("daemonsets", daemonSetCells),
	}, apps("daemonsets"))
}

// deploymentCells prints READY as ready/desired. The wide Selector is the
// parsed selector's String() (empty for a nil or empty selector), not
// FormatLabelSelector, matching upstream.
func deploymentCells(d *appsv1.Deployment, now time.Time) []interface{} {
	selector := "<invalid>"
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = sel.String()
	}
	names, images := layoutContainerCells(d.Spec.Template.Spec.Containers)
	return []interface{}{
		d.Name,
		fmt.Sprintf("%d/%d", int64(d.Status.ReadyReplicas), int64(derefInt32(d.Spec.Replicas))),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas),
		translateTimestampSince(d.CreationTimestamp, now),
		names, images, selector,
	}
}

func replicaSetCells(rs *appsv1.ReplicaSet, now time.Time) []interface{} {
	names, images := layoutContainerCells(rs.Spec.Template.Spec.Containers)
	return []interface{}{
		rs.Name, int64(derefInt32(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
		translateTimestampSince(rs.CreationTimestamp, now),
		names, images, formatLabelSelector(rs.Spec.Selector),
	}
}

func statefulSetCells(ss *appsv1.StatefulSet, now time.Time) []interface{} {
	names, images := layoutContainerCells(ss.Spec.Template.Spec.Containers)
	return []interface{}{
		ss.Name, fmt.Sprintf("%d/%d", int64(ss.Status.ReadyReplicas), int64(derefInt32(ss.Spec.Replicas))),
		translateTimestampSince(ss.CreationTimestamp, now),
		names, images,
	}
}

func daemonSetCells(ds *appsv1.DaemonSet, now time.Time) []interface{} {
	names, images := layoutContainerCells(ds.Spec.Template.Spec.Containers)
	st := ds.Status
	return []interface{}{
		ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
		int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
		labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
		translateTimestampSince(ds.CreationTimestamp, now),
		names, images, formatLabelSelector(ds.Spec.Selector),
	}
}
