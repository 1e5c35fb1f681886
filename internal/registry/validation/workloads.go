package validation

// Workload validation after k8s.io/kubernetes pkg/apis/core/validation
// (ReplicationController), pkg/apis/apps/validation and
// pkg/apis/batch/validation.
//
// Left out: the generated-selector (controller-uid) consistency check, elastic
// Indexed Jobs and the suspended-job template mutability exception, CronJob
// schedule parsing beyond field count and time zones, StatefulSet ordinals
// and volumeClaimTemplates details.

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const selectorMismatch = "`selector` does not match template `labels`"

func replicas(r *int32) int64 {
	if r == nil {
		return 0
	}
	return int64(*r)
}

func validateReplicationController(rc *corev1.ReplicationController, namespaced bool) field.ErrorList {
	p := field.NewPath("spec")
	errs := objectMeta(&rc.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	errs = append(errs, nonNegative(int64(rc.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	sel := labels.Set(rc.Spec.Selector).AsSelector()
	if sel.Empty() {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	}
	errs = append(errs, nonNegative(replicas(rc.Spec.Replicas), p.Child("replicas"))...)
	tp := p.Child("template")
	if rc.Spec.Template == nil {
		return append(errs, field.Required(tp, ""))
	}
	if !sel.Empty() && !sel.Matches(labels.Set(rc.Spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), rc.Spec.Template.Labels, selectorMismatch))
	}
	errs = append(errs, validatePodTemplateSpec(rc.Spec.Template, tp)...)
	return append(errs, alwaysRestart(&rc.Spec.Template.Spec, tp, "activeDeadlineSeconds in ReplicationController is not Supported")...)
}

// alwaysRestart is the tail of ValidatePodTemplateSpecForReplicaSet/RC.
func alwaysRestart(s *corev1.PodSpec, tp *field.Path, adsMsg string) field.ErrorList {
	var errs field.ErrorList
	if s.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), s.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), adsMsg))
	}
	return errs
}

// labelSelector validates spec.selector the way apps validation does and
// returns the parsed selector (labels.Nothing() when nil, which matches no
// template and so also yields the mismatch error, as upstream does).
func labelSelector(sel *metav1.LabelSelector, p *field.Path, kind string) (labels.Selector, field.ErrorList) {
	var errs field.ErrorList
	if sel == nil {
		errs = append(errs, field.Required(p, ""))
	} else {
		errs = append(errs, unversionedvalidation.ValidateLabelSelector(sel, unversionedvalidation.LabelSelectorValidationOptions{}, p)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(p, sel, "empty selector is invalid for "+kind))
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		errs = append(errs, field.Invalid(p, sel, "invalid label selector"))
		return nil, errs
	}
	return s, errs
}

func templateForReplicaSet(t *corev1.PodTemplateSpec, sel labels.Selector, tp *field.Path, kind string) field.ErrorList {
	var errs field.ErrorList
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), t.Labels, selectorMismatch))
	}
	errs = append(errs, validatePodTemplateSpec(t, tp)...)
	return append(errs, alwaysRestart(&t.Spec, tp, "activeDeadlineSeconds in "+kind+" is not Supported")...)
}

func validateDeployment(d *appsv1.Deployment, namespaced bool) field.ErrorList {
	p := field.NewPath("spec")
	errs := objectMeta(&d.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	errs = append(errs, nonNegative(replicas(d.Spec.Replicas), p.Child("replicas"))...)
	sel, el := labelSelector(d.Spec.Selector, p.Child("selector"), "deployment")
	errs = append(errs, el...)
	if sel != nil {
		errs = append(errs, templateForReplicaSet(&d.Spec.Template, sel, p.Child("template"), "ReplicaSet")...)
	}
	sp := p.Child("strategy")
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if d.Spec.Strategy.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(sp.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		ru := d.Spec.Strategy.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(sp.Child("rollingUpdate"), "this should be defaulted and never be nil"))
			break
		}
		rp := sp.Child("rollingUpdate")
		errs = append(errs, positiveIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, positiveIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
		if intOrPercentValue(ru.MaxUnavailable) == 0 && intOrPercentValue(ru.MaxSurge) == 0 {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
	default:
		errs = append(errs, field.NotSupported(sp, d.Spec.Strategy, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	errs = append(errs, nonNegative(int64(d.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	if d.Spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*d.Spec.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	if pds := d.Spec.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, nonNegative(int64(*pds), p.Child("progressDeadlineSeconds"))...)
		if *pds <= d.Spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func intOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == intstr.String {
		n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		return n
	}
	return v.IntValue()
}

func positiveIntOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
	case intstr.Int:
		errs = append(errs, nonNegative(int64(v.IntValue()), p)...)
	default:
		errs = append(errs, field.Invalid(p, v, "must be an integer or percentage (e.g '5%')"))
	}
	return errs
}

func notMoreThan100Percent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil || v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return nil
	}
	if intOrPercentValue(v) <= 100 {
		return nil
	}
	return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
}

func validateReplicaSet(rs *appsv1.ReplicaSet, namespaced bool) field.ErrorList {
	p := field.NewPath("spec")
	errs := objectMeta(&rs.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	errs = append(errs, nonNegative(replicas(rs.Spec.Replicas), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(rs.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	// Upstream's ReplicaSet message really says "deployment".
	sel, el := labelSelector(rs.Spec.Selector, p.Child("selector"), "deployment")
	errs = append(errs, el...)
	if sel != nil {
		errs = append(errs, templateForReplicaSet(&rs.Spec.Template, sel, p.Child("template"), "ReplicaSet")...)
	}
	return errs
}

func validateDaemonSet(ds *appsv1.DaemonSet, namespaced bool) field.ErrorList {
	p := field.NewPath("spec")
	errs := objectMeta(&ds.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	sel, el := labelSelector(ds.Spec.Selector, p.Child("selector"), "daemonset")
	errs = append(errs, el...)
	tp := p.Child("template")
	if sel != nil && !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), ds.Spec.Template.Labels, selectorMismatch))
	}
	errs = append(errs, validatePodTemplateSpec(&ds.Spec.Template, tp)...)
	if ds.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), ds.Spec.Template.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if ds.Spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(tp.Child("spec", "activeDeadlineSeconds"), ds.Spec.Template.Spec.ActiveDeadlineSeconds, "activeDeadlineSeconds in DaemonSet is not Supported"))
	}
	errs = append(errs, nonNegative(int64(ds.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	up := p.Child("updateStrategy")
	switch ds.Spec.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := ds.Spec.UpdateStrategy.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(up.Child("rollingUpdate"), ""))
			break
		}
		rp := up.Child("rollingUpdate")
		hasUnavailable := intOrPercentValue(ru.MaxUnavailable) != 0
		hasSurge := intOrPercentValue(ru.MaxSurge) != 0
		if hasUnavailable {
			errs = append(errs, positiveIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
			errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		}
		if hasSurge {
			errs = append(errs, positiveIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
			errs = append(errs, notMoreThan100Percent(ru.MaxSurge, rp.Child("maxSurge"))...)
		}
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), ru.MaxSurge, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(up, ds.Spec.UpdateStrategy, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	if ds.Spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*ds.Spec.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func validateStatefulSet(ss *appsv1.StatefulSet, namespaced bool) field.ErrorList {
	p := field.NewPath("spec")
	errs := objectMeta(&ss.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	switch ss.Spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(p.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p.Child("podManagementPolicy"), ss.Spec.PodManagementPolicy, "must be 'OrderedReady' or 'Parallel'"))
	}
	us := ss.Spec.UpdateStrategy
	switch us.Type {
	case "":
		errs = append(errs, field.Required(p.Child("updateStrategy"), ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			errs = append(errs, field.Invalid(p.Child("updateStrategy", "rollingUpdate"), us.RollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if us.RollingUpdate != nil && us.RollingUpdate.Partition != nil {
			errs = append(errs, nonNegative(int64(*us.RollingUpdate.Partition), p.Child("updateStrategy", "rollingUpdate", "partition"))...)
		}
	default:
		errs = append(errs, field.Invalid(p.Child("updateStrategy"), us, "must be 'RollingUpdate' or 'OnDelete'"))
	}
	errs = append(errs, nonNegative(replicas(ss.Spec.Replicas), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(ss.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	sel, el := labelSelector(ss.Spec.Selector, p.Child("selector"), "statefulset")
	errs = append(errs, el...)
	tp := p.Child("template")
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(ss.Spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), ss.Spec.Template.Labels, selectorMismatch))
	}
	errs = append(errs, validatePodTemplateSpec(&ss.Spec.Template, tp)...)
	if ss.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), ss.Spec.Template.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if ss.Spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(tp.Child("spec", "activeDeadlineSeconds"), ss.Spec.Template.Spec.ActiveDeadlineSeconds, "must not be specified"))
	}
	if pol := ss.Spec.PersistentVolumeClaimRetentionPolicy; pol != nil {
		valid := []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}
		for _, f := range []struct {
			name string
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", pol.WhenDeleted}, {"whenScaled", pol.WhenScaled}} {
			if f.v != appsv1.RetainPersistentVolumeClaimRetentionPolicyType && f.v != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				errs = append(errs, field.NotSupported(p.Child("persistentVolumeClaimRetentionPolicy", f.name), f.v, valid))
			}
		}
	}
	return errs
}

func statefulSetUpdate(n, o *appsv1.StatefulSet) field.ErrorList {
	// Everything but these fields is immutable (ValidateStatefulSetUpdate).
	ns, os := n.Spec.DeepCopy(), o.Spec.DeepCopy()
	for _, s := range []*appsv1.StatefulSetSpec{ns, os} {
		s.Replicas, s.Ordinals, s.Template, s.UpdateStrategy = nil, nil, corev1.PodTemplateSpec{}, appsv1.StatefulSetUpdateStrategy{}
		s.PersistentVolumeClaimRetentionPolicy, s.MinReadySeconds = nil, 0
	}
	if !apiequality.Semantic.DeepEqual(ns, os) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
	}
	return nil
}

func validateJob(j *batchv1.Job, namespaced bool) field.ErrorList {
	errs := objectMeta(&j.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	return append(errs, validateJobSpec(&j.Spec, field.NewPath("spec"), true)...)
}

// validateJobSpec is validateJobSpec; requireSelector is false for a
// CronJob's jobTemplate, whose selector is generated per Job.
func validateJobSpec(s *batchv1.JobSpec, p *field.Path, requireSelector bool) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{{"parallelism", s.Parallelism}, {"completions", s.Completions}, {"backoffLimit", s.BackoffLimit}, {"ttlSecondsAfterFinished", s.TTLSecondsAfterFinished}} {
		if f.v != nil {
			errs = append(errs, nonNegative(int64(*f.v), p.Child(f.name))...)
		}
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	if s.CompletionMode != nil && *s.CompletionMode != batchv1.NonIndexedCompletion && *s.CompletionMode != batchv1.IndexedCompletion {
		errs = append(errs, field.NotSupported(p.Child("completionMode"), s.CompletionMode, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
	}
	if s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion && s.Completions == nil {
		errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
	}
	if s.Selector == nil {
		if requireSelector {
			errs = append(errs, field.Required(p.Child("selector"), ""))
		}
	} else {
		errs = append(errs, unversionedvalidation.ValidateLabelSelector(s.Selector, unversionedvalidation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	if s.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
			errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, selectorMismatch))
		}
	}
	errs = append(errs, validatePodTemplateSpec(&s.Template, p.Child("template"))...)
	errs = append(errs, validateJobPolicies(s, p)...)
	if rp := s.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(p.Child("template", "spec", "restartPolicy"), rp,
			[]corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	}
	if s.PodReplacementPolicy != nil && *s.PodReplacementPolicy != batchv1.TerminatingOrFailed && *s.PodReplacementPolicy != batchv1.Failed {
		errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *s.PodReplacementPolicy, []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}))
	}
	return errs
}

func jobUpdate(n, o *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	errs := immutable(n.Spec.Completions, o.Spec.Completions, p.Child("completions"))
	errs = append(errs, immutable(n.Spec.Selector, o.Spec.Selector, p.Child("selector"))...)
	errs = append(errs, immutable(n.Spec.Template, o.Spec.Template, p.Child("template"))...)
	errs = append(errs, immutable(n.Spec.CompletionMode, o.Spec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, immutable(n.Spec.PodFailurePolicy, o.Spec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, immutable(n.Spec.BackoffLimitPerIndex, o.Spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, immutable(n.Spec.ManagedBy, o.Spec.ManagedBy, p.Child("managedBy"))...)
	return errs
}

func validateCronJob(cj *batchv1.CronJob, namespaced bool) field.ErrorList {
	p := field.NewPath("spec")
	errs := objectMeta(&cj.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	if cj.Spec.Schedule == "" {
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	} else {
		errs = append(errs, validateSchedule(cj.Spec.Schedule, p.Child("schedule"))...)
	}
	if cj.Spec.StartingDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*cj.Spec.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(p.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("concurrencyPolicy"), cj.Spec.ConcurrencyPolicy,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	for _, f := range []struct {
		name string
		v    *int32
	}{{"successfulJobsHistoryLimit", cj.Spec.SuccessfulJobsHistoryLimit}, {"failedJobsHistoryLimit", cj.Spec.FailedJobsHistoryLimit}} {
		if f.v != nil {
			errs = append(errs, nonNegative(int64(*f.v), p.Child(f.name))...)
		}
	}
	jt := p.Child("jobTemplate")
	errs = append(errs, unversionedvalidation.ValidateLabels(cj.Spec.JobTemplate.Labels, jt.Child("metadata", "labels"))...)
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(cj.Spec.JobTemplate.Annotations, jt.Child("metadata", "annotations"))...)
	errs = append(errs, validateJobSpec(&cj.Spec.JobTemplate.Spec, jt.Child("spec"), false)...)
	if ms := cj.Spec.JobTemplate.Spec.ManualSelector; ms != nil && *ms {
		errs = append(errs, field.NotSupported(jt.Child("spec", "manualSelector"), ms, []string{"nil", "false"}))
	}
	return errs
}

// validateSchedule checks the shape of a cron expression (five fields or an
// @-descriptor). Upstream parses it with robfig/cron and reports
// `spec.schedule: Invalid value: "...": <parser error>`; terminus keeps the
// field/value but its detail text is only approximate.
func validateSchedule(s string, p *field.Path) field.ErrorList {
	if strings.Contains(s, "TZ") {
		return field.ErrorList{field.Invalid(p, s, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")}
	}
	if strings.HasPrefix(s, "@") {
		switch s {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
			return nil
		}
		if strings.HasPrefix(s, "@every ") {
			return nil
		}
		return field.ErrorList{field.Invalid(p, s, fmt.Sprintf("unrecognized descriptor: %s", s))}
	}
	if n := len(strings.Fields(s)); n != 5 {
		return field.ErrorList{field.Invalid(p, s, fmt.Sprintf("expected exactly 5 fields, found %d: %s", n, s))}
	}
	return nil
}
