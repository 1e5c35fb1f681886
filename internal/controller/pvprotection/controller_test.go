package pvprotection

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func volume(phase corev1.PersistentVolumePhase, terminating bool, finalizers ...string) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv", Finalizers: finalizers},
		Status:     corev1.PersistentVolumeStatus{Phase: phase},
	}
	if terminating {
		pv.DeletionTimestamp = &metav1.Time{Time: time.Unix(1000, 0)}
	}
	return pv
}

func TestSync(t *testing.T) {
	tests := []struct {
		name       string
		pv         *corev1.PersistentVolume
		want       []string
		wantUpdate bool
	}{
		{"F2 a live volume without the finalizer gets it", volume(corev1.VolumeAvailable, false, "example.com/keep"), []string{"example.com/keep", Finalizer}, true},
		{"F2 a live bound volume without the finalizer gets it", volume(corev1.VolumeBound, false), []string{Finalizer}, true},
		{"F2 a live volume with the finalizer is left alone", volume(corev1.VolumeBound, false, Finalizer), []string{Finalizer}, false},
		{"F2 a terminating bound volume keeps the finalizer", volume(corev1.VolumeBound, true, Finalizer), []string{Finalizer}, false},
		{"F2 a terminating available volume loses it", volume(corev1.VolumeAvailable, true, "example.com/keep", Finalizer), []string{"example.com/keep"}, true},
		{"F2 a terminating released volume loses it", volume(corev1.VolumeReleased, true, Finalizer), nil, true},
		{"F2 a terminating pending volume loses it", volume(corev1.VolumePending, true, Finalizer), nil, true},
		{"F2 a terminating failed volume loses it", volume(corev1.VolumeFailed, true, Finalizer), nil, true},
		{"F2 a terminating volume with no phase loses it", volume("", true, Finalizer), nil, true},
		{"F2 a terminating volume without the finalizer is left alone", volume(corev1.VolumeAvailable, true, "example.com/keep"), []string{"example.com/keep"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.pv.DeepCopy())
			f := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: f, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer func() {
				cancel()
				f.Shutdown()
			}()
			f.Start(ctx.Done())
			f.WaitForCacheSync(ctx.Done())
			if err := c.sync(ctx, "pv"); err != nil {
				t.Fatal(err)
			}
			got, err := client.CoreV1().PersistentVolumes().Get(ctx, "pv", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Finalizers, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("finalizers (-want +got):\n%s", diff)
			}
			var updates int
			for _, a := range client.Actions() {
				if a.GetVerb() == "update" {
					updates++
				}
			}
			if (updates > 0) != tt.wantUpdate {
				t.Errorf("updates = %d, want update %v", updates, tt.wantUpdate)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	client := fake.NewClientset()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: f})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- c.Run(ctx) }()
	go func() { done <- c.Run(ctx) }()
	f.Start(ctx.Done())
	defer f.Shutdown()
	if err := <-done; err == nil {
		t.Error("the call that returned first did not fail")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
