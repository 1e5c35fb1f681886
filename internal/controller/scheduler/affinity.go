package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// This file is what the NodeAffinity filter needs of
// k8s.io/component-helpers/scheduling/corev1/nodeaffinity, which is not in
// terminus' module graph (RequiredNodeAffinity, LazyErrorNodeSelector):
// the same semantics, written against apimachinery's label and field
// selectors.

// requiredAffinity is a pod's spec.nodeSelector and required node
// affinity, parsed once per scheduling attempt.
type requiredAffinity struct {
	selector labels.Selector // nil: no nodeSelector
	terms    []selectorTerm  // nil with hasTerms: matches nothing
	hasTerms bool
}

// selectorTerm is one parsed NodeSelectorTerm; its requirements are ANDed.
// A term that does not parse matches no node (upstream ignores the parse
// error for backwards compatibility and treats the term as not matching).
type selectorTerm struct {
	labels  labels.Selector
	fields  fields.Selector
	invalid bool
}

func newRequiredAffinity(pod *corev1.Pod) requiredAffinity {
	var ra requiredAffinity
	if len(pod.Spec.NodeSelector) > 0 {
		ra.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ra
	}
	ra.hasTerms = true
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
			continue // an empty term matches nothing and is dropped
		}
		ra.terms = append(ra.terms, parseTerm(t))
	}
	return ra
}

// matches reports whether node satisfies both the nodeSelector and one of
// the required terms (terms are ORed).
func (ra requiredAffinity) matches(node *corev1.Node) bool {
	if ra.selector != nil && !ra.selector.Matches(labels.Set(node.Labels)) {
		return false
	}
	if !ra.hasTerms {
		return true
	}
	nodeLabels := labels.Set(node.Labels)
	nodeFields := fields.Set{}
	if node.Name != "" {
		nodeFields[metav1.ObjectNameField] = node.Name
	}
	for _, t := range ra.terms {
		if t.invalid {
			continue
		}
		if t.labels != nil && !t.labels.Matches(nodeLabels) {
			continue
		}
		if t.fields != nil && len(nodeFields) > 0 && !t.fields.Matches(nodeFields) {
			continue
		}
		return true
	}
	return false
}

func parseTerm(t corev1.NodeSelectorTerm) selectorTerm {
	var st selectorTerm
	if len(t.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, e := range t.MatchExpressions {
			var op selection.Operator
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				op = selection.In
			case corev1.NodeSelectorOpNotIn:
				op = selection.NotIn
			case corev1.NodeSelectorOpExists:
				op = selection.Exists
			case corev1.NodeSelectorOpDoesNotExist:
				op = selection.DoesNotExist
			case corev1.NodeSelectorOpGt:
				op = selection.GreaterThan
			case corev1.NodeSelectorOpLt:
				op = selection.LessThan
			default:
				st.invalid = true
				return st
			}
			r, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				st.invalid = true
				return st
			}
			sel = sel.Add(*r)
		}
		st.labels = sel
	}
	if len(t.MatchFields) > 0 {
		var sels []fields.Selector
		for _, e := range t.MatchFields {
			if len(e.Values) != 1 {
				st.invalid = true
				return st
			}
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				sels = append(sels, fields.OneTermEqualSelector(e.Key, e.Values[0]))
			case corev1.NodeSelectorOpNotIn:
				sels = append(sels, fields.OneTermNotEqualSelector(e.Key, e.Values[0]))
			default:
				st.invalid = true
				return st
			}
		}
		st.fields = fields.AndSelectors(sels...)
	}
	return st
}

// affinityNodeNames is the NodeAffinity PreFilter (upstream
// nodeaffinity.PreFilter): when every required term names nodes with
// "metadata.name In", only those nodes are candidates (how DaemonSet pods
// target their node). all is true when any node may match; an empty,
// non-nil names set means the terms conflict.
func affinityNodeNames(pod *corev1.Pod) (names sets.Set[string], all bool) {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, true
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return nil, true
	}
	for _, t := range terms {
		var termNames sets.Set[string]
		for _, r := range t.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn {
				s := sets.New(r.Values...)
				if termNames == nil {
					termNames = s
				} else {
					termNames = termNames.Intersection(s)
				}
			}
		}
		if termNames == nil {
			return nil, true // this term may match any node; terms are ORed
		}
		names = names.Union(termNames)
	}
	return names, false
}
