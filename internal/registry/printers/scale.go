package printers

import (
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ScaleResource is the group/resource under which the Scale printer is
// found: a /scale subresource answers with autoscaling/v1 Scale objects
// whatever its parent is (`kubectl get deploy web --subresource=scale`).
var ScaleResource = schema.GroupResource{Group: "autoscaling", Resource: "scales"}

func addScale(s *Set) {
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Desired", "integer", "Number of desired replicas"),
			col("Available", "integer", "Number of actual replicas"),
			ageColumn(),
		},
		Cells: cellsOf("scales", func(sc *autoscalingv1.Scale, now time.Time) []interface{} {
			return []interface{}{sc.Name, int64(sc.Spec.Replicas), int64(sc.Status.Replicas), translateTimestampSince(sc.CreationTimestamp, now)}
		}),
	}, ScaleResource)
}
