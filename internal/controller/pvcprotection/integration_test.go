package pvcprotection_test

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
	"k8s.io/client-go/kubernetes"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/pvcprotection"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// startController runs a pvcprotection controller against the server
// until the test ends.
func startController(t *testing.T, client kubernetes.Interface) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := pvcprotection.New(pvcprotection.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	return reg
}

func TestPVCHeldByScheduledPod(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()
	const ns = "pvc-test"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	reg := startController(t, client)
	pvcs := client.CoreV1().PersistentVolumeClaims(ns)
	pods := client.CoreV1().Pods(ns)

	if _, err := pvcs.Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "F1 the controller adds the finalizer to a live claim", func() (bool, error) {
		pvc, err := pvcs.Get(ctx, "data", metav1.GetOptions{})
		return err == nil && slices.Contains(pvc.Finalizers, pvcprotection.Finalizer), err
	})

	p, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "user"},
		Spec: corev1.PodSpec{
			NodeName:   "node-1",
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"},
			}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// F1: even a Succeeded pod holds the claim.
	p.Status.Phase = corev1.PodSucceeded
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	before := apptest.Counter(t, reg, "terminus_pvcprotection_syncs_total")
	if err := pvcs.Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "the controller processes the terminating claim", func() (bool, error) {
		return apptest.Counter(t, reg, "terminus_pvcprotection_syncs_total") > before, nil
	})
	pvc, err := pvcs.Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("F1 the claim used by a Succeeded scheduled pod is gone: %v", err)
	}
	if pvc.DeletionTimestamp == nil || !slices.Contains(pvc.Finalizers, pvcprotection.Finalizer) {
		t.Fatalf("F1 claim should be terminating with its finalizer, got deletionTimestamp=%v finalizers=%v", pvc.DeletionTimestamp, pvc.Finalizers)
	}

	if err := pods.Delete(ctx, "user", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "F1 the claim goes once its pod is deleted", func() (bool, error) {
		_, err := pvcs.Get(ctx, "data", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
