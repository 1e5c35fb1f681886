package job_test

import (
	"context"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/job"
)

// env is a server running the garbage collector, with this package's Job
// controller as an API client.
type env struct {
	client kubernetes.Interface
	reg    *prometheus.Registry
}

func start(t *testing.T) *env {
	t.Helper()
	srv := apptest.Start(t, apptest.Options{Controllers: []string{"garbagecollector"}})
	client := srv.Clientset(t)
	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := job.New(job.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	return &env{client: client, reg: reg}
}

func (e *env) namespace(t *testing.T, name string) string {
	t.Helper()
	if _, err := e.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

func newJob(name string, completions int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Completions: ptr.To(completions),
			Parallelism: ptr.To(completions),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
			}},
		},
	}
}

// pods returns the pods of the Job name in ns (by the job-name label the
// API puts on its template).
func (e *env) pods(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	list, err := e.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitPods waits for n tracked pods controlled by the Job.
func (e *env) waitPods(t *testing.T, ns string, j *batchv1.Job, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	apptest.Eventually(t, "F5 pods with the tracking finalizer", func() (bool, error) {
		pods = e.pods(t, ns, j.Name)
		if len(pods) != n {
			return false, nil
		}
		for _, p := range pods {
			ref := metav1.GetControllerOf(&p)
			if ref == nil || ref.UID != j.UID || !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
				return false, nil
			}
		}
		return true, nil
	})
	return pods
}

func (e *env) setPhase(t *testing.T, ns, name string, phase corev1.PodPhase) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Status.Phase = phase
		_, err = e.client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hasCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func TestJobs(t *testing.T) {
	e := start(t)
	ctx := context.Background()

	t.Run("F5 a Job of 2 completions runs to Complete and releases its pods", func(t *testing.T) {
		ns := e.namespace(t, "complete")
		j, err := e.client.BatchV1().Jobs(ns).Create(ctx, newJob("pi", 2), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range e.waitPods(t, ns, j, 2) {
			e.setPhase(t, ns, p.Name, corev1.PodSucceeded)
		}
		apptest.Eventually(t, "the Job completes", func() (bool, error) {
			j, err = e.client.BatchV1().Jobs(ns).Get(ctx, "pi", metav1.GetOptions{})
			return err == nil && hasCondition(j, batchv1.JobComplete), err
		})
		if !hasCondition(j, batchv1.JobSuccessCriteriaMet) || j.Status.Succeeded != 2 || j.Status.CompletionTime == nil ||
			j.Status.StartTime == nil || j.Status.Active != 0 {
			t.Errorf("status %+v", j.Status)
		}
		apptest.Eventually(t, "F5 the finalizers are removed", func() (bool, error) {
			for _, p := range e.pods(t, ns, "pi") {
				if len(p.Finalizers) != 0 {
					return false, nil
				}
			}
			return true, nil
		})
		apptest.Eventually(t, "the Completed event", func() (bool, error) {
			list, err := e.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			return slices.ContainsFunc(list.Items, func(ev corev1.Event) bool {
				return ev.Reason == "Completed" && ev.Source.Component == "job-controller"
			}), nil
		})
		if got := apptest.Counter(t, e.reg, "terminus_job_finished_total"); got < 1 {
			t.Errorf("terminus_job_finished_total = %v", got)
		}
	})

	t.Run("B7 DELETE with propagationPolicy Background removes the pods through the GC", func(t *testing.T) {
		ns := e.namespace(t, "background")
		j, err := e.client.BatchV1().Jobs(ns).Create(ctx, newJob("bg", 1), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.waitPods(t, ns, j, 1)
		if err := e.client.BatchV1().Jobs(ns).Delete(ctx, "bg", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "the pod is gone", func() (bool, error) {
			return len(e.pods(t, ns, "bg")) == 0, nil
		})
	})

	t.Run("B7 DELETE without a policy orphans the pods and F5 removes their finalizer", func(t *testing.T) {
		ns := e.namespace(t, "orphan")
		j, err := e.client.BatchV1().Jobs(ns).Create(ctx, newJob("or", 1), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod := e.waitPods(t, ns, j, 1)[0]
		if err := e.client.BatchV1().Jobs(ns).Delete(ctx, "or", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "the Job is gone", func() (bool, error) {
			_, err := e.client.BatchV1().Jobs(ns).Get(ctx, "or", metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		apptest.Eventually(t, "the pod is an orphan without the finalizer", func() (bool, error) {
			p, err := e.client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return len(p.OwnerReferences) == 0 && len(p.Finalizers) == 0 && p.DeletionTimestamp == nil, nil
		})
	})

	t.Run("backoffLimit 0: a failed pod fails the Job", func(t *testing.T) {
		ns := e.namespace(t, "failed")
		jj := newJob("fl", 1)
		jj.Spec.BackoffLimit = ptr.To[int32](0)
		j, err := e.client.BatchV1().Jobs(ns).Create(ctx, jj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod := e.waitPods(t, ns, j, 1)[0]
		e.setPhase(t, ns, pod.Name, corev1.PodFailed)
		apptest.Eventually(t, "the Job fails", func() (bool, error) {
			j, err = e.client.BatchV1().Jobs(ns).Get(ctx, "fl", metav1.GetOptions{})
			return err == nil && hasCondition(j, batchv1.JobFailed), err
		})
		if !hasCondition(j, batchv1.JobFailureTarget) || j.Status.Failed != 1 {
			t.Errorf("status %+v", j.Status)
		}
	})
}
