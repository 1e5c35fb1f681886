package fieldmanager

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestCreateMatchesUpdate checks Create's fast path against the library:
// for each object the managedFields must be those of Update with an empty
// live object.
func TestCreateMatchesUpdate(t *testing.T) {
	meta := metav1.ObjectMeta{
		Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "3", Generation: 1,
		CreationTimestamp: metav1.NewTime(startTime),
		Labels:            map[string]string{"app": "a", "tier": "b"},
		Annotations:       map[string]string{"note": "n"},
		Finalizers:        []string{"example.com/f", "example.com/g"},
		OwnerReferences:   []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "o", UID: "ou", Controller: ptr.To(true)}},
	}
	replicas := int32(2)
	podSpec := corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "a", Image: "busybox", Command: []string{"sleep", "1"}, Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				Env: []corev1.EnvVar{{Name: "X", Value: "1"}}},
			{Name: "b", Image: "busybox"},
		},
		Volumes:                       []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		TerminationGracePeriodSeconds: ptr.To[int64](30),
	}
	objects := []struct {
		name string
		obj  runtime.Object
	}{
		{"empty ConfigMap", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "ns"}}},
		{"ConfigMap", &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"k": "v", "big": strings.Repeat("x", 300)}, BinaryData: map[string][]byte{"b": {1}}}},
		{"ConfigMap with empty data map", &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{}}},
		{"Deployment with status (reset)", &appsv1.Deployment{ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("25%"))}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: podSpec}},
			Status: appsv1.DeploymentStatus{Replicas: 2}}},
		{"Pod", &corev1.Pod{ObjectMeta: meta, Spec: podSpec, Status: corev1.PodStatus{Phase: corev1.PodPending}}},
		{"Service", &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}}}},
		{"Secret", &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, StringData: map[string]string{"a": "b"}}},
	}
	for _, o := range objects {
		t.Run(o.name, func(t *testing.T) {
			s := testScheme(t)
			gvks, _, err := s.ObjectKinds(o.obj)
			if err != nil {
				t.Fatal(err)
			}
			f := builtinFixture(t, gvks[0])
			if gvks[0] == deploymentGVK {
				f.reset = statusResetFields("apps/v1")
			}
			m := f.manager(t, "")
			fast, ok := m.createFast(o.obj.DeepCopyObject(), "creator")
			if !ok {
				t.Fatal("fast path refused a plain create")
			}
			live, err := m.New()
			if err != nil {
				t.Fatal(err)
			}
			general, err := m.Update(live, o.obj.DeepCopyObject(), "creator")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(managed(t, general), managed(t, fast)); diff != "" {
				t.Errorf("managedFields (-library +fast):\n%s", diff)
			}
		})
	}
}

func managed(t *testing.T, obj runtime.Object) []metav1.ManagedFieldsEntry {
	t.Helper()
	return obj.(metav1.ObjectMetaAccessor).GetObjectMeta().GetManagedFields()
}
