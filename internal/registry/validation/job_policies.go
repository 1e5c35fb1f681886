package validation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validation of the Job failure and success policies, after
// k8s.io/kubernetes pkg/apis/batch/validation (validateJobSpec,
// validatePodFailurePolicy, validateSuccessPolicy): spec.podFailurePolicy,
// spec.backoffLimitPerIndex, spec.maxFailedIndexes and
// spec.successPolicy. The Job controller relies on these rules (a
// FailIndex rule has a backoffLimitPerIndex, a success policy an Indexed
// Job with completions).

// Upstream's limits.
const (
	maxPodFailurePolicyRules              = 20
	maxPodFailurePolicyOnExitCodesValues  = 255
	maxPodFailurePolicyOnPodConditions    = 20
	maxSuccessPolicyRules                 = 20
	maxSucceededIndexesLength             = 64 * 1024
	maxFailedIndexesForIndexedJob         = 100_000
	completionsSoftLimit                  = 100_000
	parallelismLimitForHighCompletions    = 10_000
	maxFailedIndexesLimitHighCompletions  = 10_000
	podFailurePolicyRestartPolicyRequired = corev1.RestartPolicyNever
)

var (
	podFailurePolicyActions = []batchv1.PodFailurePolicyAction{batchv1.PodFailurePolicyActionCount,
		batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore}
	onExitCodesOperators = []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn,
		batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	onPodConditionsStatuses = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
)

// validateJobPolicies holds the rules of the policy fields of a JobSpec.
func validateJobPolicies(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if s.BackoffLimitPerIndex != nil {
		errs = append(errs, nonNegative(int64(*s.BackoffLimitPerIndex), p.Child("backoffLimitPerIndex"))...)
		if !indexed {
			errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
	}
	if s.MaxFailedIndexes != nil {
		mfi := p.Child("maxFailedIndexes")
		errs = append(errs, nonNegative(int64(*s.MaxFailedIndexes), mfi)...)
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
		switch {
		case !indexed:
			errs = append(errs, field.Invalid(mfi, *s.MaxFailedIndexes, "requires indexed completion mode"))
		case s.Completions != nil && *s.MaxFailedIndexes > *s.Completions:
			errs = append(errs, field.Invalid(mfi, *s.MaxFailedIndexes, "must be less than or equal to completions"))
		case *s.MaxFailedIndexes > maxFailedIndexesForIndexedJob:
			errs = append(errs, field.Invalid(mfi, *s.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
		}
	}
	if indexed && s.BackoffLimitPerIndex != nil && s.Completions != nil && *s.Completions > completionsSoftLimit {
		if s.MaxFailedIndexes == nil {
			errs = append(errs, field.Required(p.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
		} else if *s.MaxFailedIndexes > maxFailedIndexesLimitHighCompletions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes,
				fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", maxFailedIndexesLimitHighCompletions, completionsSoftLimit)))
		}
		if s.Parallelism != nil && *s.Parallelism > parallelismLimitForHighCompletions {
			errs = append(errs, field.Invalid(p.Child("parallelism"), *s.Parallelism,
				fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", parallelismLimitForHighCompletions, completionsSoftLimit)))
		}
	}
	if s.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(s, p.Child("podFailurePolicy"))...)
		if rp := s.Template.Spec.RestartPolicy; rp == corev1.RestartPolicyOnFailure {
			// Other values are rejected by validateJobSpec already.
			errs = append(errs, field.Invalid(p.Child("template", "spec", "restartPolicy"), rp,
				fmt.Sprintf("only %q is supported when podFailurePolicy is specified", podFailurePolicyRestartPolicyRequired)))
		}
		// Only Failed pods can be matched against the rules.
		if rp := s.PodReplacementPolicy; rp != nil && *rp == batchv1.TerminatingOrFailed {
			errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *rp, []batchv1.PodReplacementPolicy{batchv1.Failed}))
		}
	}
	if s.SuccessPolicy != nil {
		if !indexed {
			errs = append(errs, field.Invalid(p.Child("successPolicy"), *s.SuccessPolicy, "requires indexed completion mode"))
		} else if s.Completions != nil {
			errs = append(errs, validateSuccessPolicy(s, p.Child("successPolicy"))...)
		}
	}
	return errs
}

func validatePodFailurePolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := p.Child("rules")
	if n := len(s.PodFailurePolicy.Rules); n > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rules, n, maxPodFailurePolicyRules))
	}
	var containers []string
	for _, c := range s.Template.Spec.Containers {
		containers = append(containers, c.Name)
	}
	for _, c := range s.Template.Spec.InitContainers {
		containers = append(containers, c.Name)
	}
	for i := range s.PodFailurePolicy.Rules {
		rule := &s.PodFailurePolicy.Rules[i]
		rp := rules.Index(i)
		action := rp.Child("action")
		switch {
		case rule.Action == "":
			errs = append(errs, field.Required(action, fmt.Sprintf("valid values: %q", podFailurePolicyActions)))
		case rule.Action == batchv1.PodFailurePolicyActionFailIndex:
			if s.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(action, rule.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case !slices.Contains(podFailurePolicyActions, rule.Action):
			errs = append(errs, field.NotSupported(action, rule.Action, podFailurePolicyActions))
		}
		if rule.OnExitCodes != nil {
			errs = append(errs, validateOnExitCodes(rule.OnExitCodes, rp.Child("onExitCodes"), containers)...)
		}
		if len(rule.OnPodConditions) > 0 {
			errs = append(errs, validateOnPodConditions(rule.OnPodConditions, rp.Child("onPodConditions"))...)
		}
		if rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		}
		if rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func validateOnExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, p *field.Path, containers []string) field.ErrorList {
	var errs field.ErrorList
	op := p.Child("operator")
	switch {
	case r.Operator == "":
		errs = append(errs, field.Required(op, fmt.Sprintf("valid values: %q", onExitCodesOperators)))
	case !slices.Contains(onExitCodesOperators, r.Operator):
		errs = append(errs, field.NotSupported(op, r.Operator, onExitCodesOperators))
	}
	if r.ContainerName != nil && !slices.Contains(containers, *r.ContainerName) {
		errs = append(errs, field.Invalid(p.Child("containerName"), *r.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	values := p.Child("values")
	switch n := len(r.Values); {
	case n == 0:
		errs = append(errs, field.Invalid(values, r.Values, "at least one value is required"))
	case n > maxPodFailurePolicyOnExitCodesValues:
		errs = append(errs, field.TooMany(values, n, maxPodFailurePolicyOnExitCodesValues))
	}
	seen := map[int32]bool{}
	for j, v := range r.Values {
		if r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(values.Index(j), v, "must not be 0 for the In operator"))
		}
		if seen[v] {
			errs = append(errs, field.Duplicate(values.Index(j), v))
		}
		seen[v] = true
	}
	if !slices.IsSorted(r.Values) {
		errs = append(errs, field.Invalid(values, r.Values, "must be ordered"))
	}
	return errs
}

func validateOnPodConditions(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(patterns) > maxPodFailurePolicyOnPodConditions {
		errs = append(errs, field.TooMany(p, len(patterns), maxPodFailurePolicyOnPodConditions))
	}
	for j, pat := range patterns {
		pp := p.Index(j)
		errs = append(errs, qualifiedName(string(pat.Type), pp.Child("type"))...)
		status := pp.Child("status")
		switch {
		case pat.Status == "":
			errs = append(errs, field.Required(status, fmt.Sprintf("valid values: %q", onPodConditionsStatuses)))
		case !slices.Contains(onPodConditionsStatuses, pat.Status):
			errs = append(errs, field.NotSupported(status, pat.Status, onPodConditionsStatuses))
		}
	}
	return errs
}

func validateSuccessPolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := p.Child("rules")
	if len(s.SuccessPolicy.Rules) == 0 {
		errs = append(errs, field.Required(rules, "at least one rules must be specified when the successPolicy is specified"))
	}
	if n := len(s.SuccessPolicy.Rules); n > maxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rules, n, maxSuccessPolicyRules))
	}
	completions := *s.Completions
	for i, rule := range s.SuccessPolicy.Rules {
		rp := rules.Index(i)
		if rule.SucceededCount == nil && rule.SucceededIndexes == nil {
			errs = append(errs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var total int32
		if rule.SucceededIndexes != nil {
			ip := rp.Child("succeededIndexes")
			if len(*rule.SucceededIndexes) > maxSucceededIndexesLength {
				errs = append(errs, field.TooLong(ip, "", maxSucceededIndexesLength))
			}
			var err error
			if total, err = countIndexes(*rule.SucceededIndexes, completions); err != nil {
				errs = append(errs, field.Invalid(ip, *rule.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err.Error())))
			}
		}
		if rule.SucceededCount != nil {
			cp := rp.Child("succeededCount")
			errs = append(errs, nonNegative(int64(*rule.SucceededCount), cp)...)
			if *rule.SucceededCount > completions {
				errs = append(errs, field.Invalid(cp, *rule.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
			if rule.SucceededIndexes != nil && *rule.SucceededCount > total {
				errs = append(errs, field.Invalid(cp, *rule.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
			}
		}
	}
	return errs
}

// countIndexes checks an index list ("1,3-5": increasing, below
// completions) and counts its indexes (upstream validateIndexesFormat).
func countIndexes(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var total int32
	last := int32(-1)
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, err := indexInterval(part, completions)
		if err != nil {
			return 0, err
		}
		if last >= lo {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", last, lo)
		}
		total += hi - lo + 1
		last = hi
	}
	return total, nil
}

func indexInterval(s string, completions int32) (int32, int32, error) {
	limits := strings.Split(s, "-")
	if len(limits) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	parse := func(v string) (int32, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("cannot convert string to integer for index: %q", v)
		}
		if n >= int(completions) {
			return 0, fmt.Errorf("too large index: %q", v)
		}
		return int32(n), nil
	}
	lo, err := parse(limits[0])
	if err != nil {
		return 0, 0, err
	}
	if len(limits) == 1 {
		return lo, lo, nil
	}
	hi, err := parse(limits[1])
	if err != nil {
		return 0, 0, err
	}
	if lo >= hi {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", lo, hi)
	}
	return lo, hi, nil
}
