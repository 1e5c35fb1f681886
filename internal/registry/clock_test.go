package registry

import (
	"context"
	"testing"
	"time"

	"github.com/terminus-project/terminus/internal/storage/memory"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// TestServerTimesComeFromTheClock: creationTimestamp, deletionTimestamp and
// the grace arithmetic of G2 and G4 read the injected clock (DESIGN
// decision 4), so they can be checked exactly.
func TestServerTimesComeFromTheClock(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(memory.Options{})
	reg, err := New(Config{Storage: st, Scheme: scheme, Resources: BuiltinResources(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Run(ctx) }()
	defer func() { cancel(); <-done; st.Close() }()
	if err := reg.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	nsStore, _ := reg.Store(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if _, err := nsStore.Create(ctx, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods, _ := reg.Store(corev1.SchemeGroupVersion.WithResource("pods"))
	created, err := pods.Create(ctx, "default", &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "x"}}},
	}, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := created.(*corev1.Pod).CreationTimestamp.Time; !got.Equal(start) {
		t.Fatalf("A6 creationTimestamp %v, want %v", got, start)
	}
	clk.Step(10 * time.Second)
	res, err := pods.Delete(ctx, "default", "p", &metav1.DeleteOptions{}, false)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Object.(*corev1.Pod)
	if want := start.Add(40 * time.Second); !p.DeletionTimestamp.Time.Equal(want) || *p.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("G2 deletionTimestamp %v grace %d, want %v and 30", p.DeletionTimestamp, *p.DeletionGracePeriodSeconds, want)
	}
	clk.Step(25 * time.Second) // 5 s of grace left
	res, err = pods.Delete(ctx, "default", "p", &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](10)}, false)
	if err != nil {
		t.Fatal(err)
	}
	p = res.Object.(*corev1.Pod)
	// 40 s - 30 + 10 = 20 s after start lies before now (35 s): G4 sets
	// the timestamp to now and a positive grace to 1.
	if now := start.Add(35 * time.Second); !p.DeletionTimestamp.Time.Equal(now) || *p.DeletionGracePeriodSeconds != 1 {
		t.Fatalf("G4 deletionTimestamp %v grace %d, want %v and 1", p.DeletionTimestamp, *p.DeletionGracePeriodSeconds, now)
	}
}
