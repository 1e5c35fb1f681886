package cronjob

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The integration test starts a server; the binary fails if a test leaves
// a goroutine behind.
func TestMain(m *testing.M) { storagetest.Main(m) }

// t0 is 10:00 UTC; the CronJobs are created at 09:30.
var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

type fixture struct {
	c      *Controller
	client *fake.Clientset
	rec    *record.FakeRecorder
	clk    *clocktesting.FakeClock
}

func newFixture(t *testing.T, now time.Time, objects ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{client: fake.NewClientset(objects...), rec: record.NewFakeRecorder(100), clk: clocktesting.NewFakeClock(now)}
	c, err := New(Config{Client: f.client, Informers: informers.NewSharedInformerFactory(fake.NewClientset(), 0), Clock: f.clk, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.Close)
	inf := informers.NewSharedInformerFactory(f.client, 0)
	c.cjLister, c.jobLister = inf.Batch().V1().CronJobs().Lister(), inf.Batch().V1().Jobs().Lister()
	for _, o := range objects {
		var err error
		switch o.(type) {
		case *batchv1.CronJob:
			err = inf.Batch().V1().CronJobs().Informer().GetIndexer().Add(o)
		case *batchv1.Job:
			err = inf.Batch().V1().Jobs().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	c.recorder = f.rec
	f.c = c
	return f
}

// run syncs and returns the writes, the events, the CronJob status
// written, if any, and the requeue delay.
func (f *fixture) run(t *testing.T) ([]string, []string, *batchv1.CronJobStatus, time.Duration) {
	t.Helper()
	requeue, err := f.c.reconcile(context.Background(), "ns/cj")
	if err != nil {
		t.Fatal(err)
	}
	var writes []string
	var status *batchv1.CronJobStatus
	for _, a := range f.client.Actions() {
		switch a.GetVerb() {
		case "create":
			writes = append(writes, "create "+a.(clienttesting.CreateAction).GetObject().(*batchv1.Job).Name)
		case "delete":
			writes = append(writes, "delete "+a.(clienttesting.DeleteAction).GetName())
		case "update":
			writes = append(writes, "update status")
			status = &a.(clienttesting.UpdateAction).GetObject().(*batchv1.CronJob).Status
		}
	}
	var events []string
	for {
		select {
		case e := <-f.rec.Events:
			events = append(events, e)
		default:
			return writes, events, status, ptr.Deref(requeue, 0)
		}
	}
}

type cjOpt func(*batchv1.CronJob)

func mkCronJob(schedule string, opts ...cjOpt) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: "ns", UID: "uid-cj", CreationTimestamp: metav1.NewTime(t0.Add(-30 * time.Minute))},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			Suspend:                    ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "img"}}}}},
			},
		},
	}
	for _, o := range opts {
		o(cj)
	}
	return cj
}

func lastScheduled(at time.Time) cjOpt {
	return func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(at)) }
}

func activeJob(name string) cjOpt {
	return func(cj *batchv1.CronJob) {
		cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)})
	}
}

func ownedJob(name string, finished batchv1.JobConditionType, start time.Time) *batchv1.Job {
	cj := mkCronJob("")
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, controllerKind)}}}
	j.Status.StartTime = ptr.To(metav1.NewTime(start))
	if finished != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: finished, Status: corev1.ConditionTrue}}
		j.Status.CompletionTime = ptr.To(metav1.NewTime(start.Add(time.Minute)))
	}
	return j
}

func TestSyncCronJob(t *testing.T) {
	// 10:00 is minute 29454360 since the epoch.
	name := func(at time.Time) string { return jobName(mkCronJob(""), at) }
	tests := []struct {
		name       string
		cj         *batchv1.CronJob
		jobs       []runtime.Object
		now        time.Time
		wantWrites []string
		wantEvents []string
		wantActive int
		// wantRequeue is the wait for the next schedule.
		wantRequeue time.Duration
	}{
		{name: "nothing due yet waits for the next time", cj: mkCronJob("0 * * * *"), now: t0.Add(-time.Minute),
			wantRequeue: time.Minute + nextScheduleDelta},
		{name: "a due time creates the Job", cj: mkCronJob("0 * * * *"), now: t0.Add(5 * time.Second),
			wantWrites:  []string{"create " + name(t0), "update status"},
			wantEvents:  []string{"Normal SuccessfulCreate Created job " + name(t0)},
			wantActive:  1,
			wantRequeue: time.Hour - 5*time.Second + nextScheduleDelta},
		{name: "a time already scheduled is not repeated", cj: mkCronJob("0 * * * *", lastScheduled(t0)), now: t0.Add(time.Minute),
			wantRequeue: 59*time.Minute + nextScheduleDelta},
		{name: "suspended: nothing", cj: mkCronJob("0 * * * *", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }), now: t0.Add(time.Minute)},
		{name: "startingDeadlineSeconds passed: missed", cj: mkCronJob("0 * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](30) }),
			now: t0.Add(time.Minute), wantEvents: nil, wantRequeue: 59*time.Minute + nextScheduleDelta},
		{name: "startingDeadlineSeconds not passed: created", cj: mkCronJob("0 * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](120) }),
			now: t0.Add(time.Minute), wantWrites: []string{"create " + name(t0), "update status"},
			wantEvents: []string{"Normal SuccessfulCreate Created job " + name(t0)}, wantActive: 1, wantRequeue: 59*time.Minute + nextScheduleDelta},
		{name: "Forbid with an active Job: not started",
			cj:   mkCronJob("0 * * * *", activeJob("old"), func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
			jobs: []runtime.Object{ownedJob("old", "", t0.Add(-time.Hour))}, now: t0.Add(time.Second),
			wantEvents: []string{"Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid"},
			wantActive: 1, wantRequeue: time.Hour - time.Second + nextScheduleDelta},
		{name: "Replace with an active Job: replaced",
			cj:   mkCronJob("0 * * * *", activeJob("old"), func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }),
			jobs: []runtime.Object{ownedJob("old", "", t0.Add(-time.Hour))}, now: t0.Add(time.Second),
			wantWrites: []string{"delete old", "create " + name(t0), "update status"},
			wantEvents: []string{"Normal SuccessfulDelete Deleted job old", "Normal SuccessfulCreate Created job " + name(t0)},
			wantActive: 1, wantRequeue: time.Hour - time.Second + nextScheduleDelta},
		{name: "Allow with an active Job: both run",
			cj:   mkCronJob("0 * * * *", activeJob("old")),
			jobs: []runtime.Object{ownedJob("old", "", t0.Add(-time.Hour))}, now: t0.Add(time.Second),
			wantWrites: []string{"create " + name(t0), "update status"},
			wantEvents: []string{"Normal SuccessfulCreate Created job " + name(t0)}, wantActive: 2, wantRequeue: time.Hour - time.Second + nextScheduleDelta},
		{name: "a finished active Job leaves the active list", cj: mkCronJob("0 * * * *", activeJob("old"), lastScheduled(t0)),
			jobs: []runtime.Object{ownedJob("old", batchv1.JobComplete, t0.Add(-time.Hour))}, now: t0.Add(time.Minute),
			wantWrites: []string{"update status"}, wantEvents: []string{"Normal SawCompletedJob Saw completed job: old, condition: Complete"},
			wantRequeue: 59*time.Minute + nextScheduleDelta},
		{name: "history limits delete the oldest finished Jobs", cj: mkCronJob("0 * * * *", lastScheduled(t0)),
			jobs: []runtime.Object{
				ownedJob("s1", batchv1.JobComplete, t0.Add(-4*time.Hour)), ownedJob("s2", batchv1.JobComplete, t0.Add(-3*time.Hour)),
				ownedJob("s3", batchv1.JobComplete, t0.Add(-2*time.Hour)), ownedJob("s4", batchv1.JobComplete, t0.Add(-time.Hour)),
				ownedJob("f1", batchv1.JobFailed, t0.Add(-4*time.Hour)), ownedJob("f2", batchv1.JobFailed, t0.Add(-3*time.Hour)),
			}, now: t0.Add(time.Minute),
			wantWrites:  []string{"delete s1", "delete f1", "update status"},
			wantEvents:  []string{"Normal SuccessfulDelete Deleted job s1", "Normal SuccessfulDelete Deleted job f1"},
			wantRequeue: 59*time.Minute + nextScheduleDelta},
		{name: "too many missed start times: warned, the latest started", cj: mkCronJob("* * * * *", lastScheduled(t0.Add(-3*time.Hour))),
			now: t0, wantWrites: []string{"create " + name(t0), "update status"},
			wantEvents: []string{"Warning TooManyMissedTimes too many missed start times: 180. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
				"Normal SuccessfulCreate Created job " + name(t0)}, wantActive: 1, wantRequeue: time.Minute + nextScheduleDelta},
		{name: "unparseable schedule: warned, not requeued", cj: mkCronJob("61 * * * *"), now: t0,
			wantEvents: []string{`Warning UnparseableSchedule unparseable schedule: "61 * * * *" : end of range (61) above maximum (59): 61`}},
		{name: "unknown time zone: warned", cj: mkCronJob("0 * * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus") }), now: t0,
			wantEvents: []string{`Warning UnknownTimeZone invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.now, append([]runtime.Object{tt.cj}, tt.jobs...)...)
			writes, events, status, requeue := f.run(t)
			if requeue != tt.wantRequeue {
				t.Errorf("requeue after %v, want %v", requeue, tt.wantRequeue)
			}
			if diff := cmp.Diff(tt.wantWrites, writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEvents, events); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if status != nil && len(status.Active) != tt.wantActive {
				t.Errorf("active = %v, want %d", status.Active, tt.wantActive)
			}
		})
	}
}

func TestJobFromTemplate(t *testing.T) {
	cj := mkCronJob("0 * * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Europe/Paris") })
	if _, err := time.LoadLocation("Europe/Paris"); err != nil {
		t.Skip("no tzdata")
	}
	j := jobFromTemplate(cj, t0, jobName(cj, t0))
	if j.Name != "cj-29454360" {
		t.Errorf("name %q", j.Name)
	}
	if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-01-01T11:00:00+01:00" {
		t.Errorf("scheduled-timestamp %q", got)
	}
	if ref := metav1.GetControllerOf(j); ref == nil || ref.UID != "uid-cj" || ref.Kind != "CronJob" {
		t.Errorf("controller %+v", ref)
	}
	if j.Labels["app"] != "x" {
		t.Errorf("labels %v", j.Labels)
	}
}
