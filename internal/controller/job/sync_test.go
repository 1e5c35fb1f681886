package job

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func conditionTypes(s batchv1.JobStatus) []string {
	var out []string
	for _, c := range s.Conditions {
		out = append(out, string(c.Type)+"="+string(c.Status)+"/"+c.Reason)
	}
	return out
}

func TestSyncCreatesPodsWithTrackingFinalizer(t *testing.T) {
	j := mkJob(3, 2)
	f := newFixture(t, objs(j), objs(j))
	writes, events, err := f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"create pods", "create pods", "update jobs/status"}, writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Normal SuccessfulCreate Created pod: pi-1", "Normal SuccessfulCreate Created pod: pi-2"}, sorted(events)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, p := range f.created(t) {
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
			t.Errorf("F5: pod %s lacks the tracking finalizer: %v", p.Name, p.Finalizers)
		}
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != "uid-job" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
			t.Errorf("pod %s controller ref %+v", p.Name, ref)
		}
	}
	st := f.statuses()[0]
	if st.Active != 2 || st.StartTime == nil || !st.StartTime.Time.Equal(t0) || ptr.Deref(st.Terminating, -1) != 0 || ptr.Deref(st.Ready, -1) != 0 {
		t.Errorf("status = %+v", st)
	}
	// Expectations hold the next sync back until the informer shows them.
	if f.c.expectations.Satisfied("ns/pi") {
		t.Error("expectations satisfied before the creates were observed")
	}
}

func TestSyncCountsSucceededPodThroughUncounted(t *testing.T) {
	j := mkJob(1, 1, started(t0))
	p := mkPod("p1", corev1.PodSucceeded)
	f := newFixture(t, append(objs(j), objs(p)...), append(objs(j), objs(p)...))
	writes, events, err := f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"update jobs/status", "patch pods p1", "update jobs/status"}, writes); diff != "" {
		t.Errorf("F5 writes (-want +got):\n%s", diff)
	}
	st := f.statuses()
	if got := st[0].UncountedTerminatedPods.Succeeded; !slices.Equal(got, []types.UID{"uid-p1"}) || st[0].Succeeded != 0 {
		t.Errorf("first write: uncounted %v, succeeded %d", got, st[0].Succeeded)
	}
	if diff := cmp.Diff([]string{"SuccessCriteriaMet=True/CompletionsReached"}, conditionTypes(st[0])); diff != "" {
		t.Errorf("first write conditions (-want +got):\n%s", diff)
	}
	last := st[1]
	if last.Succeeded != 1 || len(last.UncountedTerminatedPods.Succeeded) != 0 || last.CompletionTime == nil {
		t.Errorf("last write: %+v", last)
	}
	if diff := cmp.Diff([]string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"}, conditionTypes(last)); diff != "" {
		t.Errorf("last write conditions (-want +got):\n%s", diff)
	}
	if c := findCondition(last.Conditions, batchv1.JobComplete); c.Message != "Reached expected number of succeeded pods" {
		t.Errorf("Complete message %q", c.Message)
	}
	if diff := cmp.Diff([]string{"Normal Completed Job completed"}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	pod, _ := f.client.CoreV1().Pods("ns").Get(context.Background(), "p1", metav1.GetOptions{})
	if len(pod.Finalizers) != 0 {
		t.Errorf("F5: finalizers left: %v", pod.Finalizers)
	}
}

func TestSyncBackoffLimitExceeded(t *testing.T) {
	j := mkJob(2, 1, started(t0), backoffLimit(0))
	p := mkPod("p1", corev1.PodFailed)
	f := newFixture(t, append(objs(j), objs(p)...), append(objs(j), objs(p)...))
	writes, events, err := f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"update jobs/status", "patch pods p1", "update jobs/status"}, writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	last := f.statuses()[1]
	if diff := cmp.Diff([]string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"}, conditionTypes(last)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if last.Failed != 1 || last.CompletionTime != nil {
		t.Errorf("status %+v", last)
	}
	if diff := cmp.Diff([]string{"Warning BackoffLimitExceeded Job has reached the specified backoff limit"}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestSyncPodFailureBackoffOnTheClock(t *testing.T) {
	j := mkJob(2, 1, started(t0))
	p := mkPod("p1", corev1.PodFailed, finishedAt(t0.Add(-4*time.Second)))
	f := newFixture(t, append(objs(j), objs(p)...), append(objs(j), objs(p)...))
	writes, _, err := f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	// Counted, but no replacement: 6 s of the 10 s back-off remain.
	if diff := cmp.Diff([]string{"update jobs/status", "patch pods p1", "update jobs/status"}, writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	last := f.statuses()[1]
	if last.Failed != 1 {
		t.Errorf("failed = %d", last.Failed)
	}
	// The informer shows the writes.
	jj := j.DeepCopy()
	jj.Status = last
	f.cache(t, jj)
	pp := p.DeepCopy()
	pp.Finalizers = nil
	f.cache(t, pp)
	f.c.finalizers.observed("ns/pi", p.UID)

	f.clk.Step(5 * time.Second)
	writes, _, err = f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(writes, "create pods") {
		t.Errorf("created a pod 9 s after a failure: %v", writes)
	}
	f.clk.Step(time.Second)
	writes, _, err = f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(writes, "create pods") {
		t.Errorf("no replacement 10 s after the failure: %v", writes)
	}
}

func TestSyncActiveDeadline(t *testing.T) {
	j := mkJob(1, 1, started(t0.Add(-2*time.Minute)), deadline(60))
	p := mkPod("p1", corev1.PodRunning)
	f := newFixture(t, append(objs(j), objs(p)...), append(objs(j), objs(p)...))
	writes, events, err := f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"delete pods p1", "update jobs/status", "patch pods p1", "update jobs/status"}, writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	// The terminating pod holds Failed back until it is gone.
	st := f.statuses()[1]
	if diff := cmp.Diff([]string{"FailureTarget=True/DeadlineExceeded"}, conditionTypes(st)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if ptr.Deref(st.Terminating, 0) != 1 || st.Active != 0 || st.Failed != 1 {
		t.Errorf("status %+v", st)
	}
	if !slices.Contains(events, "Normal SuccessfulDelete Deleted pod: p1") {
		t.Errorf("events %v", events)
	}
}

func TestSyncSuspend(t *testing.T) {
	j := mkJob(1, 1, started(t0), suspend)
	p := mkPod("p1", corev1.PodRunning)
	f := newFixture(t, append(objs(j), objs(p)...), append(objs(j), objs(p)...))
	writes, events, err := f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"patch pods p1", "delete pods p1", "update jobs/status"}, writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"JobSuspended"}, reasons(f.statuses()[0])); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if !slices.Contains(events, "Normal Suspended Job suspended") {
		t.Errorf("events %v", events)
	}
}

func TestSyncIndexed(t *testing.T) {
	j := mkJob(3, 3, started(t0), indexed)
	p := mkPod("pi-1-x", corev1.PodSucceeded, index("1"))
	f := newFixture(t, append(objs(j), objs(p)...), append(objs(j), objs(p)...))
	if _, _, err := f.sync(t, "ns/pi"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range f.created(t) {
		if q.Name == p.Name {
			continue
		}
		ix := q.Annotations[batchv1.JobCompletionIndexAnnotation]
		if q.Labels[batchv1.JobCompletionIndexAnnotation] != ix || q.Spec.Hostname != "pi-"+ix || !strings.HasPrefix(q.Name, "pi-"+ix+"-") {
			t.Errorf("pod %s: labels %v hostname %q", q.Name, q.Labels, q.Spec.Hostname)
		}
		if env := q.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" {
			t.Errorf("pod %s env %v", q.Name, env)
		}
		got = append(got, ix)
	}
	if diff := cmp.Diff([]string{"0", "2"}, sorted(got)); diff != "" {
		t.Errorf("indexes created (-want +got):\n%s", diff)
	}
	st := f.statuses()
	if last := st[len(st)-1]; last.CompletedIndexes != "1" || last.Succeeded != 1 {
		t.Errorf("completedIndexes %q succeeded %d", last.CompletedIndexes, last.Succeeded)
	}
}

func TestSyncDeletingJobReleasesFinalizers(t *testing.T) {
	j := mkJob(2, 2, started(t0), func(j *batchv1.Job) { j.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) })
	p1, p2 := mkPod("p1", corev1.PodRunning), mkPod("p2", corev1.PodSucceeded)
	f := newFixture(t, append(objs(j), objs(p1, p2)...), append(objs(j), objs(p1, p2)...))
	writes, _, err := f.sync(t, "ns/pi")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"patch pods p1", "patch pods p2", "update jobs/status", "update jobs/status"}, sortedPatches(writes)); diff != "" {
		t.Errorf("F5 writes (-want +got):\n%s", diff)
	}
}

func TestSyncOrphanPod(t *testing.T) {
	running := mkJob(1, 1)
	tests := []struct {
		name  string
		pod   *corev1.Pod
		want  []string
		cache bool
	}{
		{name: "F5 B7 an orphan loses the finalizer", pod: mkPod("p", corev1.PodRunning, orphan), want: []string{"patch pods p"}},
		{name: "F5 a pod of a gone Job loses the finalizer", pod: mkPod("p", corev1.PodRunning), want: []string{"patch pods p"}},
		{name: "a pod of a running Job keeps it", pod: mkPod("p", corev1.PodRunning), cache: true},
		{name: "a pod without the finalizer needs nothing", pod: mkPod("p", corev1.PodRunning, orphan, noFinalizer)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cached := objs(tt.pod)
			if tt.cache {
				cached = append(cached, running)
			}
			f := newFixture(t, objs(tt.pod), cached)
			if err := f.c.syncOrphanPod(context.Background(), "ns/p"); err != nil {
				t.Fatal(err)
			}
			var writes []string
			for _, a := range f.client.Actions() {
				if a.GetVerb() == "patch" {
					writes = append(writes, "patch pods p")
				}
			}
			if diff := cmp.Diff(tt.want, writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}

func reasons(s batchv1.JobStatus) []string {
	var out []string
	for _, c := range s.Conditions {
		out = append(out, c.Reason)
	}
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// sortedPatches sorts the leading parallel patches.
func sortedPatches(writes []string) []string {
	var patches, rest []string
	for _, w := range writes {
		if strings.HasPrefix(w, "patch ") {
			patches = append(patches, w)
		} else {
			rest = append(rest, w)
		}
	}
	return append(sorted(patches), rest...)
}
