package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// spec.podFailurePolicy and spec.successPolicy (upstream
// pod_failure_policy.go and success_policy.go).

// Condition reasons and messages of the policies, as v1.37 writes them.
const (
	reasonPodFailurePolicy         = batchv1.JobReasonPodFailurePolicy
	reasonMaxFailedIndexesExceeded = batchv1.JobReasonMaxFailedIndexesExceeded
	msgMaxFailedIndexesExceeded    = "Job has exceeded the specified maximal number of failed indexes"
	reasonFailedIndexes            = batchv1.JobReasonFailedIndexes
	msgFailedIndexes               = "Job has failed indexes"
	reasonSuccessPolicy            = batchv1.JobReasonSuccessPolicy
)

// failureMatch is what the pod failure policy says about one failed pod
// (upstream matchPodFailurePolicy's three results).
type failureMatch struct {
	// action is the action of the first matching rule, "" if none
	// matched (the pod is then handled as without a policy: counted).
	action batchv1.PodFailurePolicyAction
	// failJobMessage is the Job's failure message for a FailJob match.
	failJobMessage string
}

// counts reports whether the failure counts against backoffLimit (and
// backoffLimitPerIndex): every failure but an ignored one does.
func (m failureMatch) counts() bool { return m.action != batchv1.PodFailurePolicyActionIgnore }

// matchPodFailurePolicy evaluates the rules of policy in order against a
// failed pod; the first rule that matches decides. A rule whose action this
// controller does not know is skipped, as the API documents for clients.
// The caller passes only pods it considers failed: with a policy, those
// are the pods in phase Failed (a policy implies podReplacementPolicy
// Failed), so a pod that is still terminating is never matched, as
// upstream.
func matchPodFailurePolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) failureMatch {
	if policy == nil {
		return failureMatch{}
	}
	for i, rule := range policy.Rules {
		switch rule.Action {
		case batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionFailIndex,
			batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyActionCount:
		default:
			continue
		}
		var msg string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchOnExitCodes(&pod.Status, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			msg = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
				cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode, rule.Action, i)
		case rule.OnPodConditions != nil:
			cond := matchOnPodConditions(&pod.Status, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			msg = fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
				pod.Namespace, pod.Name, cond.Type, rule.Action, i)
		default:
			// Validation requires one of the two; a rule with neither
			// matches nothing.
			continue
		}
		m := failureMatch{action: rule.Action}
		if rule.Action == batchv1.PodFailurePolicyActionFailJob {
			m.failJobMessage = msg
		}
		return m
	}
	return failureMatch{}
}

// matchOnExitCodes returns the first terminated container (regular
// containers before init containers, as upstream) whose non-zero exit
// code satisfies req, or nil.
func matchOnExitCodes(status *corev1.PodStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{status.ContainerStatuses, status.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			t := cs.State.Terminated
			// A container still running has no exit code; exit code 0
			// is never a failure (upstream).
			if t == nil || t.ExitCode == 0 {
				continue
			}
			if req.ContainerName != nil && *req.ContainerName != cs.Name {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			switch req.Operator {
			case batchv1.PodFailurePolicyOnExitCodesOpIn:
				if in {
					return cs
				}
			case batchv1.PodFailurePolicyOnExitCodesOpNotIn:
				if !in {
					return cs
				}
			}
		}
	}
	return nil
}

// matchOnPodConditions returns the first pod condition that one of the
// patterns matches by type and status, or nil.
func matchOnPodConditions(status *corev1.PodStatus, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range status.Conditions {
		c := &status.Conditions[i]
		for _, p := range patterns {
			if c.Type == p.Type && c.Status == p.Status {
				return c
			}
		}
	}
	return nil
}

// failJobMessage is the message of the first failed pod that matches a
// FailJob rule, "" if none (upstream getFailJobMessage).
func failJobMessage(job *batchv1.Job, pods []*corev1.Pod) string {
	if job.Spec.PodFailurePolicy == nil {
		return ""
	}
	for _, p := range pods {
		if isPodFailed(p, job) {
			if m := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); m.failJobMessage != "" {
				return m.failJobMessage
			}
		}
	}
	return ""
}

// countedFailures is how many of failed count against backoffLimit
// (upstream nonIgnoredFailedPodsCount).
func countedFailures(job *batchv1.Job, failed []*corev1.Pod) int32 {
	n := int32(0)
	for _, p := range failed {
		if matchPodFailurePolicy(job.Spec.PodFailurePolicy, p).counts() {
			n++
		}
	}
	return n
}

// matchSuccessPolicy reports whether a rule of the Indexed Job's
// successPolicy is met by the succeeded indexes, with upstream's message
// naming the first such rule (upstream matchSuccessPolicy): a rule with
// succeededIndexes needs all of them, or succeededCount of them; a rule
// with only succeededCount needs that many succeeded indexes.
func matchSuccessPolicy(policy *batchv1.SuccessPolicy, completions int, succeeded indexSet) (string, bool) {
	if policy == nil || len(succeeded) == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		if rule.SucceededIndexes != nil {
			required := parseIndexes(*rule.SucceededIndexes, completions)
			// A rule whose indexes do not parse (or lie beyond
			// completions) matches nothing, as upstream.
			if len(required) == 0 {
				continue
			}
			done := 0
			for ix := range required {
				if _, ok := succeeded[ix]; ok {
					done++
				}
			}
			if done == len(required) || (rule.SucceededCount != nil && done >= int(*rule.SucceededCount)) {
				return fmt.Sprintf("Matched rules at index %d", i), true
			}
			continue
		}
		if rule.SucceededCount != nil && len(succeeded) >= int(*rule.SucceededCount) {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
