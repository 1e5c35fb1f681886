package ttlafterfinished_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/ttlafterfinished"
)

func TestDeletesFinishedJobAfterTTL(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{Controllers: []string{"garbagecollector"}})
	client := srv.Clientset(t)
	clk := clocktesting.NewFakeClock(time.Now())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := ttlafterfinished.New(ttlafterfinished.Config{Client: client, Informers: f, Clock: clk,
		Propagation: metav1.DeletePropagationBackground})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	ctx := context.Background()

	// No Job controller runs: the test finishes the Job itself.
	j, err := client.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "done"},
		Spec: batchv1.JobSpec{
			TTLSecondsAfterFinished: ptr.To[int32](100),
			Suspend:                 ptr.To(true),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(clk.Now())
	j.Status.StartTime = &now
	j.Status.CompletionTime = &now
	j.Status.Succeeded = 1
	j.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now, Reason: "CompletionsReached"},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now, Reason: "CompletionsReached"},
	}
	if _, err := client.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Before the TTL, the Job stays.
	clk.Step(99 * time.Second)
	apptest.Eventually(t, "the informer saw the finished Job", func() (bool, error) {
		list, err := f.Batch().V1().Jobs().Lister().List(labelsEverything())
		return err == nil && len(list) == 1 && len(list[0].Status.Conditions) == 2, err
	})
	if _, err := client.BatchV1().Jobs("default").Get(ctx, "done", metav1.GetOptions{}); err != nil {
		t.Fatalf("the Job went before its TTL: %v", err)
	}
	apptest.Eventually(t, "the Job is deleted once the clock passes its TTL", func() (bool, error) {
		clk.Step(time.Second)
		_, err := client.BatchV1().Jobs("default").Get(ctx, "done", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func labelsEverything() labels.Selector { return labels.Everything() }
