package pvprotection_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/pvprotection"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

func syncs(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "terminus_pvprotection_syncs_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func TestBoundVolumeHeldUntilUnbound(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := kubernetes.NewForConfigOrDie(srv.Config)
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := pvprotection.New(pvprotection.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	f.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Shutdown()
	})
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
	eventually(t, "F2 the controller adds the finalizer to a live volume", func() (bool, error) {
		pv, err = pvs.Get(ctx, "vol", metav1.GetOptions{})
		return err == nil && slices.Contains(pv.Finalizers, pvprotection.Finalizer), err
	})
	pv.Status.Phase = corev1.VolumeBound
	if pv, err = pvs.UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	before := syncs(t, reg)
	if err := pvs.Delete(ctx, "vol", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the controller processes the terminating volume", func() (bool, error) {
		return syncs(t, reg) > before, nil
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
	eventually(t, "F2 the volume goes once unbound", func() (bool, error) {
		_, err := pvs.Get(ctx, "vol", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
