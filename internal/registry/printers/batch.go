package printers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Printers for batch/v1. CronJob column descriptions come from the
// batch/v1beta1 SwaggerDocs because that is what upstream uses.

func batch(resource string) schema.GroupResource {
	return schema.GroupResource{Group: "batch", Resource: resource}
}

func addBatch(s *Set) {
	jobSpecDoc := batchv1.JobSpec{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Status", "string", "Status of the job."),
			col("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
			col("Duration", "string", "Time required to complete the job."),
			ageColumn(),
			containersColumn(1),
			imagesColumn(1),
			wideCol("Selector", "string", jobSpecDoc["selector"]),
		},
		Cells: cellsOf("jobs", jobCells),
	}, batch("jobs"))

	cjSpecDoc := batchv1beta1.CronJobSpec{}.SwaggerDoc()
	cjStatusDoc := batchv1beta1.CronJobStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Schedule", "string", cjSpecDoc["schedule"]),
			col("Timezone", "string", cjSpecDoc["timeZone"]),
			col("Suspend", "boolean", cjSpecDoc["suspend"]),
			col("Active", "integer", cjStatusDoc["active"]),
			col("Last Schedule", "string", cjStatusDoc["lastScheduleTime"]),
			ageColumn(),
			containersColumn(1),
			imagesColumn(1),
			wideCol("Selector", "string", jobSpecDoc["selector"]),
		},
		Cells: cellsOf("cronjobs", cronJobCells),
	}, batch("cronjobs"))
}

// jobCondition reports the status of the first condition of type t.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobCells reproduces upstream's printJob. STATUS prefers the terminal
// conditions, then Terminating when deletionTimestamp is set (spec A12),
// then the transitional conditions, else Running. DURATION runs until now
// while the job has not completed.
func jobCells(job *batchv1.Job, now time.Time) []interface{} {
	var completions string
	if job.Spec.Completions != nil {
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	} else if p := derefInt32(job.Spec.Parallelism); p > 1 {
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, p)
	} else {
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}

	var jobDuration string
	switch {
	case job.Status.StartTime == nil:
	case job.Status.CompletionTime == nil:
		jobDuration = duration.HumanDuration(now.Sub(job.Status.StartTime.Time))
	default:
		jobDuration = duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}

	var status string
	switch {
	case jobCondition(job, batchv1.JobComplete):
		status = "Complete"
	case jobCondition(job, batchv1.JobFailed):
		status = "Failed"
	case job.DeletionTimestamp != nil:
		status = "Terminating"
	case jobCondition(job, batchv1.JobSuspended):
		status = "Suspended"
	case jobCondition(job, batchv1.JobFailureTarget):
		status = "FailureTarget"
	case jobCondition(job, batchv1.JobSuccessCriteriaMet):
		status = "SuccessCriteriaMet"
	default:
		status = "Running"
	}

	names, images := layoutContainerCells(job.Spec.Template.Spec.Containers)
	return []interface{}{
		job.Name, status, completions, jobDuration, translateTimestampSince(job.CreationTimestamp, now),
		names, images, formatLabelSelector(job.Spec.Selector),
	}
}

func cronJobCells(cj *batchv1.CronJob, now time.Time) []interface{} {
	lastSchedule := "<none>"
	if cj.Status.LastScheduleTime != nil {
		lastSchedule = translateTimestampSince(*cj.Status.LastScheduleTime, now)
	}
	timeZone := "<none>"
	if cj.Spec.TimeZone != nil {
		timeZone = *cj.Spec.TimeZone
	}
	names, images := layoutContainerCells(cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
	return []interface{}{
		cj.Name, cj.Spec.Schedule, timeZone, printBoolPtr(cj.Spec.Suspend), int64(len(cj.Status.Active)), lastSchedule,
		translateTimestampSince(cj.CreationTimestamp, now),
		names, images, formatLabelSelector(cj.Spec.JobTemplate.Spec.Selector),
	}
}
