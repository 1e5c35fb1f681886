package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
}

func selector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func TestDeploymentCells(t *testing.T) {
	runRowCases(t, apps("deployments"), []rowCase{
		{"rolling out", &appsv1.Deployment{
			ObjectMeta: objMeta("web"),
			Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: selector(), Template: template()},
			Status:     appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
		}, []interface{}{"web", "2/3", int64(3), int64(2), "10m", "web", "nginx:1.27", "app=web"}},
		{"nil selector prints empty", &appsv1.Deployment{ObjectMeta: objMeta("web")},
			[]interface{}{"web", "0/0", int64(0), int64(0), "10m", "", "", ""}},
		{"invalid selector", &appsv1.Deployment{ObjectMeta: objMeta("web"), Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}},
		}}, []interface{}{"web", "0/0", int64(0), int64(0), "10m", "", "", "<invalid>"}},
	})
}

func TestReplicaSetStatefulSetDaemonSetCells(t *testing.T) {
	runRowCases(t, apps("replicasets"), []rowCase{
		{"scaled", &appsv1.ReplicaSet{
			ObjectMeta: objMeta("web-6d4cf56db6"),
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: selector(), Template: template()},
			Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
		}, []interface{}{"web-6d4cf56db6", int64(3), int64(3), int64(1), "10m", "web", "nginx:1.27", "app=web"}},
		{"nil selector", &appsv1.ReplicaSet{ObjectMeta: objMeta("rs")},
			[]interface{}{"rs", int64(0), int64(0), int64(0), "10m", "", "", "<none>"}},
	})
	runRowCases(t, apps("statefulsets"), []rowCase{
		{"partially ready", &appsv1.StatefulSet{
			ObjectMeta: objMeta("db"),
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Selector: selector(), Template: template()},
			Status:     appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1},
		}, []interface{}{"db", "1/3", "10m", "web", "nginx:1.27"}},
	})
	tmpl := template()
	tmpl.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	runRowCases(t, apps("daemonsets"), []rowCase{
		{"node selector", &appsv1.DaemonSet{
			ObjectMeta: objMeta("agent"),
			Spec:       appsv1.DaemonSetSpec{Selector: selector(), Template: tmpl},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2,
				UpdatedNumberScheduled: 1, NumberAvailable: 2},
		}, []interface{}{"agent", int64(3), int64(3), int64(2), int64(1), int64(2), "kubernetes.io/os=linux", "10m", "web", "nginx:1.27", "app=web"}},
		{"no node selector", &appsv1.DaemonSet{ObjectMeta: objMeta("agent"), Spec: appsv1.DaemonSetSpec{Selector: selector(), Template: template()}},
			[]interface{}{"agent", int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "10m", "web", "nginx:1.27", "app=web"}},
	})
}

func TestJobCells(t *testing.T) {
	job := func(f func(*batchv1.Job)) *batchv1.Job {
		j := &batchv1.Job{
			ObjectMeta: objMeta("pi"),
			Spec:       batchv1.JobSpec{Completions: ptr(int32(1)), Parallelism: ptr(int32(1)), Selector: selector(), Template: template()},
			Status:     batchv1.JobStatus{StartTime: agoPtr(3 * time.Minute)},
		}
		if f != nil {
			f(j)
		}
		return j
	}
	cond := func(t batchv1.JobConditionType, s corev1.ConditionStatus) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: s}
	}
	wide := []interface{}{"web", "nginx:1.27", "app=web"}
	r := func(status, completions, dur string) []interface{} {
		return append([]interface{}{"pi", status, completions, dur, "10m"}, wide...)
	}
	runRowCases(t, batch("jobs"), []rowCase{
		{"running: duration until now", job(nil), r("Running", "0/1", "3m")},
		{"complete", job(func(j *batchv1.Job) {
			j.Status.StartTime = agoPtr(10 * time.Minute)
			j.Status.CompletionTime = agoPtr(10*time.Minute - 45*time.Second)
			j.Status.Succeeded = 1
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), cond(batchv1.JobComplete, corev1.ConditionTrue)}
		}), r("Complete", "1/1", "45s")},
		{"not started", job(func(j *batchv1.Job) { j.Status.StartTime = nil }), r("Running", "0/1", "")},
		{"parallel without completions", job(func(j *batchv1.Job) {
			j.Spec.Completions = nil
			j.Spec.Parallelism = ptr(int32(3))
			j.Status.Succeeded = 1
		}), r("Running", "1/1 of 3", "3m")},
		{"no completions, parallelism 1", job(func(j *batchv1.Job) { j.Spec.Completions = nil }), r("Running", "0/1", "3m")},
		{"failed", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue), cond(batchv1.JobFailed, corev1.ConditionTrue)}
		}), r("Failed", "0/1", "3m")},
		// Spec A12: Jobs show Terminating once deletionTimestamp is set
		// (terminal conditions still win, as upstream orders them).
		{"terminating", job(func(j *batchv1.Job) { j.DeletionTimestamp = agoPtr(time.Second) }), r("Terminating", "0/1", "3m")},
		{"terminating but complete", job(func(j *batchv1.Job) {
			j.DeletionTimestamp = agoPtr(time.Second)
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobComplete, corev1.ConditionTrue)}
		}), r("Complete", "0/1", "3m")},
		{"suspended", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended, corev1.ConditionTrue)}
		}), r("Suspended", "0/1", "3m")},
		{"suspended false", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended, corev1.ConditionFalse)}
		}), r("Running", "0/1", "3m")},
		{"failure target", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue)}
		}), r("FailureTarget", "0/1", "3m")},
		{"success criteria met", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue)}
		}), r("SuccessCriteriaMet", "0/1", "3m")},
	})
}

func TestCronJobCells(t *testing.T) {
	cj := &batchv1.CronJob{
		ObjectMeta: objMeta("nightly"),
		Spec: batchv1.CronJobSpec{
			Schedule:    "0 2 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template()}},
		},
	}
	scheduled := cj.DeepCopy()
	scheduled.Spec.TimeZone = ptr("Europe/Berlin")
	scheduled.Spec.Suspend = ptr(false)
	scheduled.Status.Active = []corev1.ObjectReference{{Name: "nightly-1"}}
	scheduled.Status.LastScheduleTime = agoPtr(5 * time.Minute)
	suspended := cj.DeepCopy()
	suspended.Spec.Suspend = ptr(true)
	runRowCases(t, batch("cronjobs"), []rowCase{
		{"never scheduled", cj, []interface{}{"nightly", "0 2 * * *", "<none>", "<unset>", int64(0), "<none>", "10m", "web", "nginx:1.27", "<none>"}},
		{"scheduled", scheduled, []interface{}{"nightly", "0 2 * * *", "Europe/Berlin", "False", int64(1), "5m", "10m", "web", "nginx:1.27", "<none>"}},
		{"suspended", suspended, []interface{}{"nightly", "0 2 * * *", "<none>", "True", int64(0), "<none>", "10m", "web", "nginx:1.27", "<none>"}},
	})
}
