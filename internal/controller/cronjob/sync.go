package cronjob

import (
	"context"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// nextScheduleDelta is added to a requeue so that the sync runs just
// after the scheduled time, not just before it (upstream
// nextScheduleDelta).
const nextScheduleDelta = 100 * time.Millisecond

// tooManyMissed is upstream's threshold of missed start times above which
// it warns.
const tooManyMissed = 100

// maxScheduleWalk bounds the walk over missed times of one sync.
const maxScheduleWalk = 1_000_000

// sync brings one CronJob in line and requeues it for its next scheduled
// time.
func (c *Controller) sync(ctx context.Context, key string) error {
	requeue, err := c.reconcile(ctx, key)
	if requeue != nil {
		c.queue.AddAfter(key, *requeue)
	}
	return err
}

// reconcile does the history cleanup, the active list, and the Job of the
// latest due scheduled time, and returns when to come back (upstream
// ControllerV2.sync).
func (c *Controller) reconcile(ctx context.Context, key string) (*time.Duration, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, fmt.Errorf("bad key %q: %w", key, err)
	}
	shared, err := c.cjLister.CronJobs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	jobs, err := c.jobsOf(shared)
	if err != nil {
		return nil, err
	}
	cj := shared.DeepCopy()
	cleaned := c.cleanupFinishedJobs(ctx, cj, jobs)
	cj, requeue, synced, syncErr := c.syncCronJob(ctx, cj, jobs)
	if cleaned || synced {
		if _, err := c.client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("updating the status of cronjob %s: %w", key, err)
		}
	}
	if requeue != nil {
		return requeue, nil
	}
	return nil, syncErr
}

// jobsOf returns the cached Jobs cj controls.
func (c *Controller) jobsOf(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobLister.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	var out []*batchv1.Job
	for _, j := range all {
		if metav1.IsControlledBy(j, cj) {
			out = append(out, j)
		}
	}
	return out, nil
}

// finishedType is the type of j's true Complete or Failed condition, "" if
// it has none.
func finishedType(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

func inActiveList(cj *batchv1.CronJob, uid types.UID) bool {
	for _, r := range cj.Status.Active {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func inActiveListByName(cj *batchv1.CronJob, name string) bool {
	for _, r := range cj.Status.Active {
		if r.Name == name && r.Namespace == cj.Namespace {
			return true
		}
	}
	return false
}

func deleteFromActiveList(cj *batchv1.CronJob, uid types.UID) {
	var kept []corev1.ObjectReference
	for _, r := range cj.Status.Active {
		if r.UID != uid {
			kept = append(kept, r)
		}
	}
	cj.Status.Active = kept
}

// syncCronJob reconciles the active list and creates the due Job; it
// returns when to come back and whether the status changed (upstream
// syncCronJob).
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (*batchv1.CronJob, *time.Duration, bool, error) {
	now := c.clock.Now()
	updateStatus := false
	children := map[types.UID]bool{}
	for _, j := range jobs {
		children[j.UID] = true
		found := inActiveList(cj, j.UID)
		typ := finishedType(j)
		switch {
		case !found && typ == "":
			if fresh, err := c.cjLister.CronJobs(cj.Namespace).Get(cj.Name); err == nil && inActiveList(fresh, j.UID) {
				// The status write of the create is newer than cj.
				cj = fresh.DeepCopy()
				continue
			}
			// A Job we did not create, or forgot after a crash between
			// create and status write.
			c.event(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case found && typ != "":
			deleteFromActiveList(cj, j.UID)
			c.event(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, typ)
			updateStatus = true
		case typ == batchv1.JobComplete && j.Status.CompletionTime != nil:
			// Succeeded Jobs need not be in the active list to count.
			if last := cj.Status.LastSuccessfulTime; last == nil || j.Status.CompletionTime.After(last.Time) {
				cj.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
				updateStatus = true
			}
		}
	}
	// Active Jobs missing from the cache: a live GET decides.
	for _, r := range cj.Status.Active {
		if children[r.UID] {
			continue
		}
		_, err := c.client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.event(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", r.Name)
			deleteFromActiveList(cj, r.UID)
			updateStatus = true
		case err != nil:
			return cj, nil, updateStatus, fmt.Errorf("getting job %s/%s: %w", r.Namespace, r.Name, err)
		}
	}
	if cj.DeletionTimestamp != nil {
		// The garbage collector is deleting it; start nothing.
		return cj, nil, updateStatus, nil
	}
	loc := time.UTC
	if tz := cj.Spec.TimeZone; tz != nil {
		l, err := time.LoadLocation(*tz)
		if err != nil {
			c.event(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *tz, err)
			return cj, nil, updateStatus, nil
		}
		loc = l
	}
	sched, err := ParseStandard(cj.Spec.Schedule, loc)
	if err != nil {
		// A retry would not help: the next update of the CronJob comes
		// back here.
		c.event(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return cj, nil, updateStatus, nil
	}
	if ptr.Deref(cj.Spec.Suspend, false) {
		return cj, nil, updateStatus, nil
	}
	scheduled, missed := mostRecentScheduleTime(cj, now, sched, true)
	if missed > tooManyMissed {
		c.event(cj, corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	next := nextScheduleDuration(cj, now, sched)
	if scheduled == nil {
		return cj, next, updateStatus, nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		c.event(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return cj, next, updateStatus, nil
	}
	name := jobName(cj, *scheduled)
	if inActiveListByName(cj, name) || (cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(*scheduled)) {
		// Done already.
		return cj, next, updateStatus, nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(cj.Status.Active) > 0 {
			// Upstream does not count this time as missed: it is
			// retried at the next schedule, or within
			// startingDeadlineSeconds.
			c.event(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return cj, next, updateStatus, nil
		}
	case batchv1.ReplaceConcurrent:
		for _, r := range cj.Status.Active {
			j, err := c.client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				deleteFromActiveList(cj, r.UID)
				updateStatus = true
				continue
			}
			if err != nil {
				return cj, nil, updateStatus, fmt.Errorf("getting job %s/%s: %w", r.Namespace, r.Name, err)
			}
			if !c.deleteJob(ctx, cj, j) {
				return cj, nil, updateStatus, fmt.Errorf("could not replace job %s/%s", j.Namespace, j.Name)
			}
			updateStatus = true
		}
	}
	job := jobFromTemplate(cj, *scheduled, name)
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return cj, nil, updateStatus, fmt.Errorf("creating job %s: %w", name, err)
	case apierrors.IsAlreadyExists(err):
		// Another actor created it and is assumed to have written the
		// status (upstream).
		c.log.Info("job already exists", "cronjob", cj.Namespace+"/"+cj.Name, "job", name)
		return cj, nil, updateStatus, fmt.Errorf("creating job %s: %w", name, err)
	case err != nil:
		c.event(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return cj, nil, updateStatus, fmt.Errorf("creating job %s: %w", name, err)
	}
	c.created.Inc()
	c.skew.Observe(now.Sub(*scheduled).Seconds())
	c.log.Info("created job", "cronjob", cj.Namespace+"/"+cj.Name, "job", created.Name)
	c.event(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
	apiVersion, kind := jobKind.ToAPIVersionAndKind()
	cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{Kind: kind, APIVersion: apiVersion,
		Namespace: created.Namespace, Name: created.Name, UID: created.UID, ResourceVersion: created.ResourceVersion})
	cj.Status.LastScheduleTime = &metav1.Time{Time: *scheduled}
	return cj, nextScheduleDuration(cj, now, sched), true, nil
}

// mostRecentScheduleTime returns the latest scheduled time in
// (earliest, now] and how many there are: earliest is the last schedule
// time, else the creation, moved up to now - startingDeadlineSeconds if
// withDeadline (upstream mostRecentScheduleTime).
func mostRecentScheduleTime(cj *batchv1.CronJob, now time.Time, sched Schedule, withDeadline bool) (*time.Time, int) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && withDeadline {
		if deadline := now.Add(-time.Duration(*d) * time.Second); deadline.After(earliest) {
			earliest = deadline
		}
	}
	var last *time.Time
	missed := 0
	for t := sched.Next(earliest); !t.IsZero() && !t.After(now) && missed < maxScheduleWalk; t = sched.Next(t) {
		last = &t
		missed++
	}
	return last, missed
}

// nextScheduleDuration is how long until just after the next scheduled
// time after now (upstream nextScheduleTimeDuration).
func nextScheduleDuration(cj *batchv1.CronJob, now time.Time, sched Schedule) *time.Duration {
	from := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		from = cj.Status.LastScheduleTime.Time
	}
	if recent, _ := mostRecentScheduleTime(cj, now, sched, false); recent != nil {
		from = *recent
	}
	if from.After(now) {
		from = now
	}
	next := sched.Next(from)
	if next.IsZero() {
		return nil
	}
	d := next.Add(nextScheduleDelta).Sub(now)
	return &d
}

// jobName is <cronjob>-<scheduled time in minutes since the epoch>, so a
// scheduled time maps to one Job name (upstream getJobName).
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// jobFromTemplate is the Job of cj for scheduled (upstream
// getJobFromTemplate2): the template's labels and annotations, the
// scheduled-timestamp annotation in the CronJob's time zone, the CronJob
// as controller.
func jobFromTemplate(cj *batchv1.CronJob, scheduled time.Time, name string) *batchv1.Job {
	labels := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	loc := time.UTC
	if tz := cj.Spec.TimeZone; tz != nil {
		if l, err := time.LoadLocation(*tz); err == nil {
			loc = l
		}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: cj.Namespace, Labels: labels, Annotations: annotations,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, controllerKind)},
	}}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&j.Spec)
	return j
}

// cleanupFinishedJobs deletes the oldest finished Jobs beyond the history
// limits (upstream cleanupFinishedJobs); it reports a status change.
func (c *Controller) cleanupFinishedJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) bool {
	if cj.Spec.SuccessfulJobsHistoryLimit == nil && cj.Spec.FailedJobsHistoryLimit == nil {
		return false
	}
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		switch finishedType(j) {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	changed := false
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, succeeded, *l) {
		changed = true
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, failed, *l) {
		changed = true
	}
	return changed
}

// removeOldest deletes all but the newest limit of jobs, by start time
// (a Job that never started counts as newest; names break ties).
func (c *Controller) removeOldest(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, limit int32) bool {
	n := len(jobs) - int(limit)
	if n <= 0 {
		return false
	}
	sort.Slice(jobs, func(i, j int) bool {
		a, b := jobs[i].Status.StartTime, jobs[j].Status.StartTime
		switch {
		case a == nil && b != nil:
			return false
		case a != nil && b == nil:
			return true
		case a == nil || a.Equal(b):
			return jobs[i].Name < jobs[j].Name
		}
		return a.Before(b)
	})
	changed := false
	for _, j := range jobs[:n] {
		if c.deleteJob(ctx, cj, j) {
			changed = true
		}
	}
	return changed
}

// deleteJob deletes j with background propagation and drops it from the
// active list (upstream deleteJob).
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) bool {
	err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil && !apierrors.IsNotFound(err) {
		c.event(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return false
	}
	deleteFromActiveList(cj, j.UID)
	c.event(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	return true
}
