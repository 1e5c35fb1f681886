package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The integration test starts a server; the binary fails if a test leaves
// a goroutine behind.
func TestMain(m *testing.M) { storagetest.Main(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func finishedJob(ttl *int32, cond batchv1.JobConditionType, at time.Time) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "uid-pi", ResourceVersion: "1"},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ttl},
	}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}
	}
	return j
}

func TestSync(t *testing.T) {
	tests := []struct {
		name       string
		job        *batchv1.Job
		now        time.Time
		wantDelete bool
	}{
		{name: "not finished: kept", job: finishedJob(ptr.To[int32](0), "", t0), now: t0.Add(time.Hour)},
		{name: "no TTL: kept", job: finishedJob(nil, batchv1.JobComplete, t0), now: t0.Add(time.Hour)},
		{name: "TTL not expired: kept", job: finishedJob(ptr.To[int32](60), batchv1.JobComplete, t0), now: t0.Add(59 * time.Second)},
		{name: "TTL expired after Complete: deleted", job: finishedJob(ptr.To[int32](60), batchv1.JobComplete, t0), now: t0.Add(60 * time.Second), wantDelete: true},
		{name: "TTL 0 after Failed: deleted", job: finishedJob(ptr.To[int32](0), batchv1.JobFailed, t0), now: t0, wantDelete: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.job)
			clk := clocktesting.NewFakeClock(tt.now)
			c, err := New(Config{Client: client, Informers: informers.NewSharedInformerFactory(fake.NewClientset(), 0), Clock: clk, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.queue.Close)
			var deletes []clienttesting.DeleteAction
			client.PrependReactor("delete", "jobs", func(a clienttesting.Action) (bool, runtime.Object, error) {
				deletes = append(deletes, a.(clienttesting.DeleteAction))
				return false, nil, nil
			})
			inf := informers.NewSharedInformerFactory(client, 0)
			c.lister = inf.Batch().V1().Jobs().Lister()
			if err := inf.Batch().V1().Jobs().Informer().GetIndexer().Add(tt.job); err != nil {
				t.Fatal(err)
			}
			if err := c.sync(context.Background(), "ns/pi"); err != nil {
				t.Fatal(err)
			}
			if got := len(deletes) == 1; got != tt.wantDelete {
				t.Fatalf("deleted = %v, want %v", got, tt.wantDelete)
			}
			if tt.wantDelete {
				opts := deletes[0].GetDeleteOptions()
				want := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground), Preconditions: &metav1.Preconditions{UID: ptr.To(tt.job.UID)}}
				if diff := cmp.Diff(want, opts); diff != "" {
					t.Errorf("delete options (-want +got):\n%s", diff)
				}
			}
		})
	}
}
