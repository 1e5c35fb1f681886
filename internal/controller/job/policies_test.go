package job

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Fixtures of the policy tests.

func exitCode(container string, code int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: container, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(t0.Add(-time.Hour))}}})
	}
}

func initExitCode(container string, code int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, corev1.ContainerStatus{Name: container, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}})
	}
}

func podCondition(t corev1.PodConditionType) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue})
	}
}

func terminating(p *corev1.Pod) {
	p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(-time.Hour)))
}

// failureCount sets the per-index failure count annotation; apply it
// after index.
func failureCount(n string) podOpt {
	return func(p *corev1.Pod) { p.Annotations[batchv1.JobIndexFailureCountAnnotation] = n }
}

func podFailurePolicy(rules ...batchv1.PodFailurePolicyRule) jobOpt {
	return func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules}
		// The API defaults the replacement policy so with a policy.
		j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
	}
}

func onExit(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, container *string, codes ...int32) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
		ContainerName: container, Operator: op, Values: codes}}
}

func onCondition(action batchv1.PodFailurePolicyAction, t corev1.PodConditionType) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
		{Type: t, Status: corev1.ConditionTrue}}}
}

func perIndex(limit int32, maxFailed *int32) jobOpt {
	return func(j *batchv1.Job) {
		j.Spec.BackoffLimitPerIndex = ptr.To(limit)
		j.Spec.MaxFailedIndexes = maxFailed
		j.Spec.BackoffLimit = ptr.To[int32](1 << 30)
	}
}

func successPolicy(rules ...batchv1.SuccessPolicyRule) jobOpt {
	return func(j *batchv1.Job) { j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: rules} }
}

func replacement(p batchv1.PodReplacementPolicy) jobOpt {
	return func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(p) }
}

func lastStatus(t *testing.T, f *fixture) batchv1.JobStatus {
	t.Helper()
	st := f.statuses()
	if len(st) == 0 {
		t.Fatal("no status written")
	}
	return st[len(st)-1]
}

// createdIndexes returns the completion index and failure-count
// annotations of the pods the sync created ("<index>:<count>").
func createdIndexes(t *testing.T, f *fixture, existing ...*corev1.Pod) []string {
	t.Helper()
	var out []string
	for _, p := range f.created(t) {
		if slices.ContainsFunc(existing, func(e *corev1.Pod) bool { return e.Name == p.Name }) {
			continue
		}
		s := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		if c, ok := p.Annotations[batchv1.JobIndexFailureCountAnnotation]; ok {
			s += ":" + c
		}
		out = append(out, s)
	}
	return sorted(out)
}

func TestMatchPodFailurePolicy(t *testing.T) {
	failed := func(opts ...podOpt) *corev1.Pod { return mkPod("p1", corev1.PodFailed, opts...) }
	tests := []struct {
		name       string
		rules      []batchv1.PodFailurePolicyRule
		pod        *corev1.Pod
		wantAction batchv1.PodFailurePolicyAction
		wantMsg    string
	}{
		{name: "FailJob on an exit code In the list, upstream's message",
			rules: []batchv1.PodFailurePolicyRule{onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, nil, 1, 42)},
			pod:   failed(exitCode("c", 42)), wantAction: batchv1.PodFailurePolicyActionFailJob,
			wantMsg: "Container c for pod ns/p1 failed with exit code 42 matching FailJob rule at index 0"},
		{name: "NotIn matches another code",
			rules: []batchv1.PodFailurePolicyRule{onExit(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpNotIn, nil, 42)},
			pod:   failed(exitCode("c", 1)), wantAction: batchv1.PodFailurePolicyActionCount},
		{name: "NotIn does not match a listed code",
			rules: []batchv1.PodFailurePolicyRule{onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpNotIn, nil, 42)},
			pod:   failed(exitCode("c", 42))},
		{name: "exit code 0 never matches, not even NotIn",
			rules: []batchv1.PodFailurePolicyRule{onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpNotIn, nil, 42)},
			pod:   failed(exitCode("c", 0))},
		{name: "containerName restricts the match",
			rules: []batchv1.PodFailurePolicyRule{onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, ptr.To("other"), 42)},
			pod:   failed(exitCode("c", 42))},
		{name: "init containers are matched too",
			rules: []batchv1.PodFailurePolicyRule{onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, ptr.To("init"), 3)},
			pod:   failed(initExitCode("init", 3)), wantAction: batchv1.PodFailurePolicyActionFailJob,
			wantMsg: "Container init for pod ns/p1 failed with exit code 3 matching FailJob rule at index 0"},
		{name: "onPodConditions DisruptionTarget",
			rules: []batchv1.PodFailurePolicyRule{onCondition(batchv1.PodFailurePolicyActionIgnore, corev1.DisruptionTarget)},
			pod:   failed(podCondition(corev1.DisruptionTarget)), wantAction: batchv1.PodFailurePolicyActionIgnore},
		{name: "FailJob on a condition has upstream's condition message",
			rules: []batchv1.PodFailurePolicyRule{onCondition(batchv1.PodFailurePolicyActionFailJob, corev1.DisruptionTarget)},
			pod:   failed(podCondition(corev1.DisruptionTarget)), wantAction: batchv1.PodFailurePolicyActionFailJob,
			wantMsg: "Pod ns/p1 has condition DisruptionTarget matching FailJob rule at index 0"},
		{name: "rules apply in order: the first match decides",
			rules: []batchv1.PodFailurePolicyRule{
				onCondition(batchv1.PodFailurePolicyActionIgnore, corev1.DisruptionTarget),
				onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, nil, 42)},
			pod: failed(exitCode("c", 42), podCondition(corev1.DisruptionTarget)), wantAction: batchv1.PodFailurePolicyActionIgnore},
		{name: "an unknown action is skipped",
			rules: []batchv1.PodFailurePolicyRule{
				onExit("Retry", batchv1.PodFailurePolicyOnExitCodesOpIn, nil, 42),
				onExit(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpIn, nil, 42)},
			pod: failed(exitCode("c", 42)), wantAction: batchv1.PodFailurePolicyActionFailIndex},
		{name: "a running container has no exit code",
			rules: []batchv1.PodFailurePolicyRule{onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpNotIn, nil, 0)},
			pod:   failed()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := matchPodFailurePolicy(&batchv1.PodFailurePolicy{Rules: tt.rules}, tt.pod)
			if m.action != tt.wantAction || m.failJobMessage != tt.wantMsg {
				t.Errorf("match = %+v, want action %q message %q", m, tt.wantAction, tt.wantMsg)
			}
		})
	}
}

func TestSyncPodFailurePolicy(t *testing.T) {
	failJob42 := onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, ptr.To("c"), 42)
	ignoreDisruption := onCondition(batchv1.PodFailurePolicyActionIgnore, corev1.DisruptionTarget)
	tests := []struct {
		name           string
		job            *batchv1.Job
		pods           []*corev1.Pod
		wantConditions []string
		wantMessage    string
		wantWrites     []string // each must occur
		wantNoWrites   []string // none may occur
		wantFailed     int32
		wantEvent      string
	}{
		{name: "FailJob fails the Job at once, with upstream's reason and message",
			job:            mkJob(3, 1, started(t0), podFailurePolicy(failJob42)),
			pods:           []*corev1.Pod{mkPod("p1", corev1.PodFailed, exitCode("c", 42))},
			wantConditions: []string{"FailureTarget=True/PodFailurePolicy", "Failed=True/PodFailurePolicy"},
			wantMessage:    "Container c for pod ns/p1 failed with exit code 42 matching FailJob rule at index 0",
			wantWrites:     []string{"patch pods p1"}, wantNoWrites: []string{"create pods"}, wantFailed: 1,
			wantEvent: "Warning PodFailurePolicy Container c for pod ns/p1 failed with exit code 42 matching FailJob rule at index 0"},
		{name: "FailJob terminates the running pods; Failed waits for them",
			job:            mkJob(3, 2, started(t0), podFailurePolicy(failJob42)),
			pods:           []*corev1.Pod{mkPod("p1", corev1.PodFailed, exitCode("c", 42)), mkPod("p2", corev1.PodRunning)},
			wantConditions: []string{"FailureTarget=True/PodFailurePolicy"},
			wantMessage:    "Container c for pod ns/p1 failed with exit code 42 matching FailJob rule at index 0",
			wantWrites:     []string{"delete pods p2", "patch pods p1", "patch pods p2"}, wantNoWrites: []string{"create pods"}, wantFailed: 2},
		{name: "Ignore keeps the failure from backoffLimit and status.failed and replaces the pod",
			job:          mkJob(2, 1, started(t0), backoffLimit(0), podFailurePolicy(ignoreDisruption)),
			pods:         []*corev1.Pod{mkPod("p1", corev1.PodFailed, exitCode("c", 137), podCondition(corev1.DisruptionTarget))},
			wantWrites:   []string{"patch pods p1", "create pods"},
			wantFailed:   0,
			wantNoWrites: []string{"delete pods p1"}},
		{name: "Count counts against backoffLimit (rule order: Count before Ignore)",
			job: mkJob(2, 1, started(t0), backoffLimit(0), podFailurePolicy(
				onExit(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpIn, nil, 137), ignoreDisruption)),
			pods:           []*corev1.Pod{mkPod("p1", corev1.PodFailed, exitCode("c", 137), podCondition(corev1.DisruptionTarget))},
			wantConditions: []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"},
			wantWrites:     []string{"patch pods p1"}, wantFailed: 1},
		{name: "a pod that is not terminal yet is not matched, nor replaced",
			job:          mkJob(2, 1, started(t0), podFailurePolicy(failJob42)),
			pods:         []*corev1.Pod{mkPod("p1", corev1.PodRunning, exitCode("c", 42), terminating)},
			wantNoWrites: []string{"create pods", "patch pods p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := append(objs(tt.job), objs(tt.pods...)...)
			f := newFixture(t, all, all)
			writes, events, err := f.sync(t, "ns/pi")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.wantWrites {
				if !slices.Contains(writes, w) {
					t.Errorf("writes %v lack %q", writes, w)
				}
			}
			for _, w := range tt.wantNoWrites {
				if slices.Contains(writes, w) {
					t.Errorf("writes %v have %q", writes, w)
				}
			}
			st := lastStatus(t, f)
			if diff := cmp.Diff(tt.wantConditions, conditionTypes(st)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if tt.wantMessage != "" {
				if c := findCondition(st.Conditions, batchv1.JobFailureTarget); c == nil || c.Message != tt.wantMessage {
					t.Errorf("FailureTarget %+v, want message %q", c, tt.wantMessage)
				}
			}
			if st.Failed != tt.wantFailed || len(st.UncountedTerminatedPods.Failed) != 0 {
				t.Errorf("failed %d uncounted %v, want %d", st.Failed, st.UncountedTerminatedPods.Failed, tt.wantFailed)
			}
			if tt.wantEvent != "" && !slices.Contains(events, tt.wantEvent) {
				t.Errorf("events %v lack %q", events, tt.wantEvent)
			}
		})
	}
}

func TestSyncBackoffLimitPerIndex(t *testing.T) {
	tests := []struct {
		name           string
		job            *batchv1.Job
		pods           []*corev1.Pod
		wantCreated    []string // "<index>:<failure count>"
		wantFailedIdx  string
		wantConditions []string
		wantWrites     []string
		wantNoWrites   []string
	}{
		{name: "the replacement carries the index's failure count; the failed pod stays until then",
			job: mkJob(2, 2, started(t0), indexed, perIndex(2, nil)),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodFailed, index("0"), failureCount("0")),
				mkPod("pi-1-a", corev1.PodRunning, index("1"), failureCount("0"))},
			wantCreated: []string{"0:1"}, wantNoWrites: []string{"patch pods pi-0-a"}},
		{name: "an index whose failures reach backoffLimitPerIndex fails and is not run again",
			job: mkJob(2, 2, started(t0), indexed, perIndex(1, nil)),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodFailed, index("0"), failureCount("1")),
				mkPod("pi-1-a", corev1.PodRunning, index("1"), failureCount("0"))},
			wantFailedIdx: "0", wantWrites: []string{"patch pods pi-0-a"}, wantNoWrites: []string{"create pods"}},
		{name: "more failed indexes than maxFailedIndexes fail the Job",
			job: mkJob(2, 2, started(t0), indexed, perIndex(1, ptr.To[int32](0))),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodFailed, index("0"), failureCount("1")),
				mkPod("pi-1-a", corev1.PodRunning, index("1"), failureCount("0"))},
			wantFailedIdx:  "0",
			wantConditions: []string{"FailureTarget=True/MaxFailedIndexesExceeded"},
			wantWrites:     []string{"delete pods pi-1-a"}, wantNoWrites: []string{"create pods"}},
		{name: "once every index ended with some failed, the Job fails with FailedIndexes",
			job: mkJob(2, 2, started(t0), indexed, perIndex(1, nil)),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodFailed, index("0"), failureCount("1")),
				mkPod("pi-1-a", corev1.PodSucceeded, index("1"), failureCount("0"))},
			wantFailedIdx:  "0",
			wantConditions: []string{"FailureTarget=True/FailedIndexes", "Failed=True/FailedIndexes"}},
		{name: "a FailIndex rule fails the index at its first failure",
			job: mkJob(2, 2, started(t0), indexed, perIndex(3, nil), podFailurePolicy(
				onExit(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpIn, nil, 3))),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodFailed, index("0"), failureCount("0"), exitCode("c", 3)),
				mkPod("pi-1-a", corev1.PodRunning, index("1"), failureCount("0"))},
			wantFailedIdx: "0", wantNoWrites: []string{"create pods"}},
		{name: "each index backs off on its own",
			job: mkJob(2, 2, started(t0), indexed, perIndex(3, nil)),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodFailed, index("0"), failureCount("0"), finishedAt(t0.Add(-5*time.Second)))},
			wantCreated: []string{"1:0"}, wantNoWrites: []string{"patch pods pi-0-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := append(objs(tt.job), objs(tt.pods...)...)
			f := newFixture(t, all, all)
			writes, _, err := f.sync(t, "ns/pi")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantCreated, createdIndexes(t, f, tt.pods...)); diff != "" {
				t.Errorf("created (-want +got):\n%s", diff)
			}
			for _, w := range tt.wantWrites {
				if !slices.Contains(writes, w) {
					t.Errorf("writes %v lack %q", writes, w)
				}
			}
			for _, w := range tt.wantNoWrites {
				if slices.Contains(writes, w) {
					t.Errorf("writes %v have %q", writes, w)
				}
			}
			st := lastStatus(t, f)
			if got := ptr.Deref(st.FailedIndexes, "<nil>"); got != tt.wantFailedIdx {
				t.Errorf("failedIndexes = %q, want %q", got, tt.wantFailedIdx)
			}
			if diff := cmp.Diff(tt.wantConditions, conditionTypes(st)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncSuccessPolicy(t *testing.T) {
	tests := []struct {
		name           string
		job            *batchv1.Job
		pods           []*corev1.Pod
		wantConditions []string
		wantMessage    string
		wantDeleted    []string
	}{
		{name: "succeededIndexes met: SuccessCriteriaMet, the rest terminated, Complete waits for them",
			job: mkJob(3, 3, started(t0), indexed, successPolicy(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("0")})),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodSucceeded, index("0")),
				mkPod("pi-1-a", corev1.PodRunning, index("1")),
				mkPod("pi-2-a", corev1.PodRunning, index("2"))},
			wantConditions: []string{"SuccessCriteriaMet=True/SuccessPolicy"},
			wantMessage:    "Matched rules at index 0",
			wantDeleted:    []string{"delete pods pi-1-a", "delete pods pi-2-a"}},
		{name: "succeededCount met by the second rule; the first names an index still running",
			job: mkJob(3, 3, started(t0), indexed, successPolicy(
				batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("2")},
				batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](2)})),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodSucceeded, index("0")),
				mkPod("pi-1-a", corev1.PodSucceeded, index("1")),
				mkPod("pi-2-a", corev1.PodRunning, index("2"))},
			wantConditions: []string{"SuccessCriteriaMet=True/SuccessPolicy"},
			wantMessage:    "Matched rules at index 1",
			wantDeleted:    []string{"delete pods pi-2-a"}},
		{name: "succeededIndexes with succeededCount: 1 of 0-1 suffices",
			job: mkJob(3, 3, started(t0), indexed, successPolicy(
				batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("0-1"), SucceededCount: ptr.To[int32](1)})),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodRunning, index("0")),
				mkPod("pi-1-a", corev1.PodSucceeded, index("1")),
				mkPod("pi-2-a", corev1.PodRunning, index("2"))},
			wantConditions: []string{"SuccessCriteriaMet=True/SuccessPolicy"},
			wantMessage:    "Matched rules at index 0",
			wantDeleted:    []string{"delete pods pi-0-a", "delete pods pi-2-a"}},
		{name: "not met: nothing happens",
			job: mkJob(3, 3, started(t0), indexed, successPolicy(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("0-1")})),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodSucceeded, index("0")),
				mkPod("pi-1-a", corev1.PodRunning, index("1")),
				mkPod("pi-2-a", corev1.PodRunning, index("2"))}},
		{name: "met with nothing left running: Complete at once",
			job: mkJob(3, 1, started(t0), indexed, successPolicy(batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](1)})),
			pods: []*corev1.Pod{
				mkPod("pi-0-a", corev1.PodSucceeded, index("0"))},
			wantConditions: []string{"SuccessCriteriaMet=True/SuccessPolicy", "Complete=True/SuccessPolicy"},
			wantMessage:    "Matched rules at index 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := append(objs(tt.job), objs(tt.pods...)...)
			f := newFixture(t, all, all)
			writes, _, err := f.sync(t, "ns/pi")
			if err != nil {
				t.Fatal(err)
			}
			var deleted []string
			for _, w := range writes {
				if len(w) > 12 && w[:12] == "delete pods " {
					deleted = append(deleted, w)
				}
			}
			if diff := cmp.Diff(tt.wantDeleted, sorted(deleted)); diff != "" {
				t.Errorf("deletes (-want +got):\n%s", diff)
			}
			if slices.Contains(writes, "create pods") {
				t.Errorf("created pods: %v", writes)
			}
			st := lastStatus(t, f)
			if diff := cmp.Diff(tt.wantConditions, conditionTypes(st)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if c := findCondition(st.Conditions, batchv1.JobSuccessCriteriaMet); tt.wantMessage != "" && (c == nil || c.Message != tt.wantMessage) {
				t.Errorf("SuccessCriteriaMet %+v, want message %q", c, tt.wantMessage)
			}
			if want := int32(len(tt.wantDeleted)); ptr.Deref(st.Terminating, -1) != want {
				t.Errorf("terminating = %d, want %d", ptr.Deref(st.Terminating, -1), want)
			}
		})
	}
}

func TestSyncPodReplacementPolicyIndexed(t *testing.T) {
	tests := []struct {
		name        string
		policy      batchv1.PodReplacementPolicy
		wantCreated []string
	}{
		{name: "Failed: a terminating pod's index waits for it", policy: batchv1.Failed, wantCreated: []string{"1"}},
		{name: "TerminatingOrFailed: replaced at once", policy: batchv1.TerminatingOrFailed, wantCreated: []string{"0", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := mkJob(2, 2, started(t0), indexed, replacement(tt.policy))
			p := mkPod("pi-0-a", corev1.PodRunning, index("0"), terminating)
			all := append(objs(j), objs(p)...)
			f := newFixture(t, all, all)
			if _, _, err := f.sync(t, "ns/pi"); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantCreated, createdIndexes(t, f, p)); diff != "" {
				t.Errorf("created indexes (-want +got):\n%s", diff)
			}
			if st := lastStatus(t, f); ptr.Deref(st.Terminating, -1) != 1 {
				t.Errorf("status.terminating = %v, want 1", st.Terminating)
			}
		})
	}
}
