package admission

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestMutateOnCreate(t *testing.T) {
	meta := func(finalizers ...string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "x", Finalizers: finalizers}
	}
	tests := []struct {
		name string
		in   runtime.Object
		want runtime.Object
	}{
		{
			"F1 a new PVC gets pvc-protection",
			&corev1.PersistentVolumeClaim{ObjectMeta: meta()},
			&corev1.PersistentVolumeClaim{ObjectMeta: meta(PVCProtectionFinalizer)},
		},
		{
			"F1 pvc-protection is appended after the client's finalizers",
			&corev1.PersistentVolumeClaim{ObjectMeta: meta("example.com/a")},
			&corev1.PersistentVolumeClaim{ObjectMeta: meta("example.com/a", PVCProtectionFinalizer)},
		},
		{
			"F1 a PVC that already has it is unchanged",
			&corev1.PersistentVolumeClaim{ObjectMeta: meta(PVCProtectionFinalizer, "example.com/a")},
			&corev1.PersistentVolumeClaim{ObjectMeta: meta(PVCProtectionFinalizer, "example.com/a")},
		},
		{
			"F1 a PVC never gets pv-protection",
			&corev1.PersistentVolumeClaim{ObjectMeta: meta(PVProtectionFinalizer)},
			&corev1.PersistentVolumeClaim{ObjectMeta: meta(PVProtectionFinalizer, PVCProtectionFinalizer)},
		},
		{
			"F2 a new PV gets pv-protection",
			&corev1.PersistentVolume{ObjectMeta: meta()},
			&corev1.PersistentVolume{ObjectMeta: meta(PVProtectionFinalizer)},
		},
		{
			"F2 a PV that already has it is unchanged",
			&corev1.PersistentVolume{ObjectMeta: meta("example.com/a", PVProtectionFinalizer)},
			&corev1.PersistentVolume{ObjectMeta: meta("example.com/a", PVProtectionFinalizer)},
		},
		{
			"other kinds are left alone",
			&corev1.Pod{ObjectMeta: meta()},
			&corev1.Pod{ObjectMeta: meta()},
		},
		{
			"a nil PVC does not panic",
			(*corev1.PersistentVolumeClaim)(nil),
			(*corev1.PersistentVolumeClaim)(nil),
		},
		{
			"a nil PV does not panic",
			(*corev1.PersistentVolume)(nil),
			(*corev1.PersistentVolume)(nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MutateOnCreate(tt.in)
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("MutateOnCreate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMutateOnCreateNil(t *testing.T) {
	MutateOnCreate(nil) // must not panic
}
