package cronjob_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/cronjob"
)

func TestCronJobCreatesJobWhenTheClockPassesTheSchedule(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{Controllers: []string{"garbagecollector"}})
	client := srv.Clientset(t)
	clk := clocktesting.NewFakeClock(time.Now())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := cronjob.New(cronjob.Config{Client: client, Informers: f, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	ctx := context.Background()

	cj, err := client.BatchV1().CronJobs("default").Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The server stamps the creation on the wall clock; the controller's
	// fake clock starts before it, so nothing is due yet.
	apptest.Eventually(t, "the informer saw the CronJob", func() (bool, error) {
		_, err := f.Batch().V1().CronJobs().Lister().CronJobs("default").Get("tick")
		return err == nil, nil
	})
	if jobs, err := client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{}); err != nil || len(jobs.Items) != 0 {
		t.Fatalf("jobs before the schedule: %v %v", jobs, err)
	}
	var job batchv1.Job
	apptest.Eventually(t, "a Job once the clock passes the next */5 minute", func() (bool, error) {
		clk.Step(30 * time.Second)
		jobs, err := client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil || len(jobs.Items) == 0 {
			return false, err
		}
		job = jobs.Items[0]
		return true, nil
	})
	ts, err := time.Parse(time.RFC3339, job.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
	if err != nil {
		t.Fatalf("scheduled-timestamp annotation: %v", err)
	}
	if ts.Minute()%5 != 0 || ts.Second() != 0 || job.Name != fmt.Sprintf("tick-%d", ts.Unix()/60) {
		t.Errorf("job %s scheduled at %v", job.Name, ts)
	}
	if ref := metav1.GetControllerOf(&job); ref == nil || ref.UID != cj.UID {
		t.Errorf("job controller %+v", ref)
	}
	apptest.Eventually(t, "status.active and lastScheduleTime", func() (bool, error) {
		cj, err := client.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
		return err == nil && len(cj.Status.Active) == 1 && cj.Status.Active[0].Name == job.Name &&
			cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(ts), err
	})
}
