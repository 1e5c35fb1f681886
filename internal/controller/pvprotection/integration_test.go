package pvprotection_test

import (
	"context"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/pvprotection"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestBoundVolumeHeldUntilUnbound(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := pvprotection.New(pvprotection.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	syncs := func() float64 { return apptest.Counter(t, reg, "terminus_pvprotection_syncs_total") }
	pvs := client.CoreV1().PersistentVolumes()

	if _, err := pvs.Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "vol"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/vol"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pv *corev1.PersistentVolume
	apptest.Eventually(t, "F2 the controller adds the finalizer to a live volume", func() (bool, error) {
		pv, err = pvs.Get(ctx, "vol", metav1.GetOptions{})
		return err == nil && slices.Contains(pv.Finalizers, pvprotection.Finalizer), err
	})
	pv.Status.Phase = corev1.VolumeBound
	if pv, err = pvs.UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	before := syncs()
	if err := pvs.Delete(ctx, "vol", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "the controller processes the terminating volume", func() (bool, error) {
		return syncs() > before, nil
	})
	pv, err = pvs.Get(ctx, "vol", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("F2 the bound volume is gone: %v", err)
	}
	if pv.DeletionTimestamp == nil || !slices.Contains(pv.Finalizers, pvprotection.Finalizer) {
		t.Fatalf("F2 the bound volume should be terminating with its finalizer, got deletionTimestamp=%v finalizers=%v", pv.DeletionTimestamp, pv.Finalizers)
	}

	pv.Status.Phase = corev1.VolumeReleased
	if _, err := pvs.UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "F2 the volume goes once unbound", func() (bool, error) {
		_, err := pvs.Get(ctx, "vol", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
