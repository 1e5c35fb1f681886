package namespace

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// conditionTypes are the namespace conditions this controller owns (spec
// E11), in the order they are first written.
var conditionTypes = [...]corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// okCondition returns the reason and message of a condition type in its
// healthy (status False) form.
func okCondition(t corev1.NamespaceConditionType) (reason, message string) {
	switch t {
	case corev1.NamespaceDeletionDiscoveryFailure:
		return "ResourcesDiscovered", "All resources successfully discovered"
	case corev1.NamespaceDeletionGVParsingFailure:
		return "ParsedGroupVersions", "All legacy kube types successfully parsed"
	case corev1.NamespaceDeletionContentFailure:
		return "ContentDeleted", "All content successfully deleted, may be waiting on finalization"
	case corev1.NamespaceContentRemaining:
		return "ContentRemoved", "All content successfully removed"
	case corev1.NamespaceFinalizersRemaining:
		return "ContentHasNoFinalizers", "All content-preserving finalizers finished"
	}
	return "", ""
}

// contentTotals is what remains in a namespace after a pass.
type contentTotals struct {
	// byResource counts the remaining instances of each resource.
	byResource map[schema.GroupVersionResource]int
	// byFinalizer counts the remaining instances holding each finalizer.
	byFinalizer map[string]int
}

func newContentTotals() contentTotals {
	return contentTotals{byResource: map[schema.GroupVersionResource]int{}, byFinalizer: map[string]int{}}
}

// add records what remains of one resource.
func (t contentTotals) add(gvr schema.GroupVersionResource, r resourceResult) {
	if r.remaining <= 0 {
		return
	}
	t.byResource[gvr] = r.remaining
	for f, n := range r.byFinalizer {
		if n > 0 {
			t.byFinalizer[f] += n
		}
	}
}

// conditionSet collects the failures of one pass and turns them into the
// five conditions (upstream deletion/status_condition_utils.go).
type conditionSet struct {
	failed        []corev1.NamespaceCondition
	contentErrors []error
}

func failedCondition(t corev1.NamespaceConditionType, reason, message string) corev1.NamespaceCondition {
	return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message}
}

// discoveryFailed records a discovery error.
func (s *conditionSet) discoveryFailed(err error) {
	msg := err.Error()
	var gerr *discovery.ErrGroupDiscoveryFailed
	if errors.As(err, &gerr) {
		msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(gerr.Groups), err)
	}
	s.failed = append(s.failed, failedCondition(corev1.NamespaceDeletionDiscoveryFailure, "DiscoveryFailed", msg))
}

// groupVersionFailed records an unparsable group version in discovery.
func (s *conditionSet) groupVersionFailed(err error) {
	s.failed = append(s.failed, failedCondition(corev1.NamespaceDeletionGVParsingFailure, "GroupVersionParsingFailed", err.Error()))
}

// deleteContentFailed records the error of one resource.
func (s *conditionSet) deleteContentFailed(err error) {
	s.contentErrors = append(s.contentErrors, err)
}

// contentRemaining records what is left, as SomeResourcesRemain and
// SomeFinalizersRemain conditions with sorted entries. Core resources read
// "configmaps." (the group is empty after the dot).
func (s *conditionSet) contentRemaining(t contentTotals) {
	if len(t.byResource) > 0 {
		entries := make([]string, 0, len(t.byResource))
		for gvr, n := range t.byResource {
			if n > 0 {
				entries = append(entries, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
			}
		}
		slices.Sort(entries)
		s.failed = append(s.failed, failedCondition(corev1.NamespaceContentRemaining, "SomeResourcesRemain",
			"Some resources are remaining: "+strings.Join(entries, ", ")))
	}
	if len(t.byFinalizer) > 0 {
		entries := make([]string, 0, len(t.byFinalizer))
		for f, n := range t.byFinalizer {
			if n > 0 {
				entries = append(entries, fmt.Sprintf("%s in %d resource instances", f, n))
			}
		}
		slices.Sort(entries)
		s.failed = append(s.failed, failedCondition(corev1.NamespaceFinalizersRemaining, "SomeFinalizersRemain",
			"Some content in the namespace has finalizers remaining: "+strings.Join(entries, ", ")))
	}
}

// apply writes the five conditions into status, keeping conditions of other
// types and the order of existing ones. lastTransitionTime is set to now
// only for new conditions and those whose status changed. It reports
// whether anything changed.
func (s *conditionSet) apply(status *corev1.NamespaceStatus, now time.Time) bool {
	wanted := slices.Clone(s.failed)
	if find(wanted, corev1.NamespaceDeletionContentFailure) == nil && len(s.contentErrors) > 0 {
		msgs := make([]string, 0, len(s.contentErrors))
		for _, err := range s.contentErrors {
			msgs = append(msgs, err.Error())
		}
		slices.Sort(msgs)
		wanted = append(wanted, failedCondition(corev1.NamespaceDeletionContentFailure, "ContentDeletionFailed",
			fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(msgs), strings.Join(msgs, ", "))))
	}
	stamp := metav1.NewTime(now)
	changed := false
	for _, t := range conditionTypes {
		want := find(wanted, t)
		if want == nil {
			reason, msg := okCondition(t)
			want = &corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
		}
		old := find(status.Conditions, t)
		switch {
		case old == nil:
			c := *want
			c.LastTransitionTime = stamp
			status.Conditions = append(status.Conditions, c)
			changed = true
		case old.Status != want.Status || old.Reason != want.Reason || old.Message != want.Message:
			if old.Status != want.Status {
				old.LastTransitionTime = stamp
			}
			old.Status, old.Reason, old.Message = want.Status, want.Reason, want.Message
			changed = true
		}
	}
	return changed
}

func find(cs []corev1.NamespaceCondition, t corev1.NamespaceConditionType) *corev1.NamespaceCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}
