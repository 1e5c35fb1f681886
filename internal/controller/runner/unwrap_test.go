package runner

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestUnwrap(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	for _, tt := range []struct {
		name string
		obj  any
		want *corev1.Pod
	}{
		{"object", pod, pod},
		{"tombstone", cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: pod}, pod},
		{"other type", &corev1.Node{}, nil},
		{"tombstone of another type", cache.DeletedFinalStateUnknown{Obj: &corev1.Node{}}, nil},
		{"nil", nil, nil},
	} {
		got, ok := Unwrap[*corev1.Pod](tt.obj)
		if got != tt.want || ok != (tt.want != nil) {
			t.Errorf("%s: got %v, %v", tt.name, got, ok)
		}
	}
}
