package validation

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func policyJobSpec(mutate func(*batchv1.JobSpec)) *batchv1.JobSpec {
	s := &batchv1.JobSpec{
		Completions:          ptr.To[int32](4),
		Parallelism:          ptr.To[int32](2),
		BackoffLimit:         ptr.To[int32](6),
		CompletionMode:       ptr.To(batchv1.IndexedCompletion),
		PodReplacementPolicy: ptr.To(batchv1.Failed),
		Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, DNSPolicy: corev1.DNSClusterFirst,
				TerminationGracePeriodSeconds: ptr.To[int64](30),
				InitContainers:                []corev1.Container{{Name: "init", Image: "x", TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent}},
				Containers:                    []corev1.Container{{Name: "main", Image: "x", TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent}}},
		},
	}
	mutate(s)
	return s
}

func exitRule(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, codes ...int32) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: codes}}
}

func TestValidateJobPolicies(t *testing.T) {
	disruption := []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	pfp := func(rules ...batchv1.PodFailurePolicyRule) func(*batchv1.JobSpec) {
		return func(s *batchv1.JobSpec) { s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules} }
	}
	tests := []struct {
		name   string
		mutate func(*batchv1.JobSpec)
		want   []string // substrings of the errors; none for a valid spec
	}{
		{name: "valid: every policy at once", mutate: func(s *batchv1.JobSpec) {
			s.BackoffLimitPerIndex = ptr.To[int32](1)
			s.MaxFailedIndexes = ptr.To[int32](2)
			s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 1, 42),
				exitRule(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpNotIn, 0, 3),
				{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: disruption},
				{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: ptr.To("init"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{2}}},
			}}
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{SucceededIndexes: ptr.To("0,2-3"), SucceededCount: ptr.To[int32](2)}, {SucceededCount: ptr.To[int32](4)}}}
		}},
		{name: "backoffLimitPerIndex needs Indexed", mutate: func(s *batchv1.JobSpec) {
			s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
			s.BackoffLimitPerIndex = ptr.To[int32](1)
		}, want: []string{"spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"}},
		{name: "negative backoffLimitPerIndex", mutate: func(s *batchv1.JobSpec) { s.BackoffLimitPerIndex = ptr.To[int32](-1) },
			want: []string{"spec.backoffLimitPerIndex: Invalid value: -1"}},
		{name: "maxFailedIndexes needs backoffLimitPerIndex and at most completions", mutate: func(s *batchv1.JobSpec) {
			s.MaxFailedIndexes = ptr.To[int32](5)
		}, want: []string{"spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
			"spec.maxFailedIndexes: Invalid value: 5: must be less than or equal to completions"}},
		{name: "FailIndex needs backoffLimitPerIndex", mutate: pfp(exitRule(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpIn, 1)),
			want: []string{`spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`}},
		{name: "unknown and missing actions", mutate: pfp(exitRule("Retry", batchv1.PodFailurePolicyOnExitCodesOpIn, 1), exitRule("", batchv1.PodFailurePolicyOnExitCodesOpIn, 1)),
			want: []string{`spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry"`, "spec.podFailurePolicy.rules[1].action: Required value"}},
		{name: "a rule needs exactly one requirement", mutate: pfp(
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore},
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: disruption,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}),
			want: []string{"spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
				"spec.podFailurePolicy.rules[1]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"}},
		{name: "exit codes: In 0, duplicates, order, empty, operator", mutate: pfp(
			exitRule(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpIn, 0, 5, 5, 3),
			exitRule(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpNotIn),
			exitRule(batchv1.PodFailurePolicyActionCount, "Between", 1)),
			want: []string{"spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
				"spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 5",
				"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,5,5,3]: must be ordered",
				"spec.podFailurePolicy.rules[1].onExitCodes.values: Invalid value: null: at least one value is required",
				`spec.podFailurePolicy.rules[2].onExitCodes.operator: Unsupported value: "Between"`}},
		{name: "containerName must name a template container", mutate: pfp(batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: ptr.To("side"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}),
			want: []string{`spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "side": must be one of the container or initContainer names in the pod template`}},
		{name: "pod condition patterns", mutate: pfp(batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "bad type!", Status: "Maybe"}, {Type: corev1.DisruptionTarget}}}),
			want: []string{`spec.podFailurePolicy.rules[0].onPodConditions[0].type: Invalid value: "bad type!"`,
				`spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: "Maybe"`,
				"spec.podFailurePolicy.rules[0].onPodConditions[1].status: Required value"}},
		{name: "podFailurePolicy needs restartPolicy Never and replacement of Failed pods", mutate: func(s *batchv1.JobSpec) {
			pfp(exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 1))(s)
			s.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}, want: []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`,
			`spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`}},
		{name: "too many rules", mutate: func(s *batchv1.JobSpec) {
			r := exitRule(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpIn, 1)
			s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: make([]batchv1.PodFailurePolicyRule, 21)}
			for i := range s.PodFailurePolicy.Rules {
				s.PodFailurePolicy.Rules[i] = r
			}
		}, want: []string{"spec.podFailurePolicy.rules: Too many: 21: must have at most 20 items"}},
		{name: "successPolicy needs Indexed", mutate: func(s *batchv1.JobSpec) {
			s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		}, want: []string{"spec.successPolicy: Invalid value:", "requires indexed completion mode"}},
		{name: "successPolicy rules", mutate: func(s *batchv1.JobSpec) {
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{},
				{SucceededIndexes: ptr.To("0-1,1")},
				{SucceededIndexes: ptr.To("4")},
				{SucceededIndexes: ptr.To("0-1"), SucceededCount: ptr.To[int32](3)},
				{SucceededCount: ptr.To[int32](5)},
			}}
		}, want: []string{"spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified",
			`spec.successPolicy.rules[1].succeededIndexes: Invalid value: "0-1,1": error parsing succeededIndexes: non-increasing order, previous: 1, current: 1`,
			`spec.successPolicy.rules[2].succeededIndexes: Invalid value: "4": error parsing succeededIndexes: too large index: "4"`,
			"spec.successPolicy.rules[3].succeededCount: Invalid value: 3: must be less than or equal to 2 (the number of indexes in the specified succeededIndexes field)",
			"spec.successPolicy.rules[4].succeededCount: Invalid value: 5: must be less than or equal to 4 (the number of specified completions)"}},
		{name: "successPolicy without rules", mutate: func(s *batchv1.JobSpec) { s.SuccessPolicy = &batchv1.SuccessPolicy{} },
			want: []string{"spec.successPolicy.rules: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateJobSpec(policyJobSpec(tt.mutate), field.NewPath("spec"), true)
			got := ""
			if agg := errs.ToAggregate(); agg != nil {
				got = agg.Error()
			}
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("unexpected errors: %s", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("errors lack %q:\n%s", w, got)
				}
			}
		})
	}
}
