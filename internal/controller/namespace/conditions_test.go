package namespace

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

func TestConditionMessages(t *testing.T) {
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	tests := []struct {
		name  string
		build func(*conditionSet)
		want  map[corev1.NamespaceConditionType]cond
	}{{
		name:  "E11 nothing failed: five OK conditions",
		build: func(*conditionSet) {},
		want:  allOK(),
	}, {
		name: "E11 remaining content: bare dot for core resources, entries sorted",
		build: func(s *conditionSet) {
			tot := newContentTotals()
			tot.add(widgets, resourceResult{remaining: 1, byFinalizer: map[string]int{"example.com/b": 1}})
			tot.add(configMapsGVR, resourceResult{remaining: 2, byFinalizer: map[string]int{"example.com/b": 1, "example.com/a": 2}})
			tot.add(deployGVR, resourceResult{remaining: 3})
			tot.add(secretsGVR, resourceResult{}) // nothing left: no entry
			s.contentRemaining(tot)
		},
		want: with(with(allOK(), corev1.NamespaceContentRemaining, cond{corev1.ConditionTrue, "SomeResourcesRemain",
			"Some resources are remaining: configmaps. has 2 resource instances, deployments.apps has 3 resource instances, widgets.example.com has 1 resource instances"}),
			corev1.NamespaceFinalizersRemaining, cond{corev1.ConditionTrue, "SomeFinalizersRemain",
				"Some content in the namespace has finalizers remaining: example.com/a in 2 resource instances, example.com/b in 2 resource instances"}),
	}, {
		name: "E11 delete errors: counted and sorted",
		build: func(s *conditionSet) {
			s.deleteContentFailed(errors.New("zeta failed"))
			s.deleteContentFailed(errors.New("alpha failed"))
		},
		want: with(allOK(), corev1.NamespaceDeletionContentFailure, cond{corev1.ConditionTrue, "ContentDeletionFailed",
			"Failed to delete all resource types, 2 remaining: alpha failed, zeta failed"}),
	}, {
		name: "E11 discovery failure for some groups",
		build: func(s *conditionSet) {
			s.discoveryFailed(&discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
				{Group: "a.example.com", Version: "v1"}: errors.New("boom"),
			}})
		},
		want: with(allOK(), corev1.NamespaceDeletionDiscoveryFailure, cond{corev1.ConditionTrue, "DiscoveryFailed",
			"Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: a.example.com/v1: boom"}),
	}, {
		name:  "E11 other discovery errors are quoted as they are",
		build: func(s *conditionSet) { s.discoveryFailed(errors.New("connection refused")) },
		want: with(allOK(), corev1.NamespaceDeletionDiscoveryFailure, cond{corev1.ConditionTrue, "DiscoveryFailed",
			"connection refused"}),
	}, {
		name:  "E11 group version parsing failure",
		build: func(s *conditionSet) { s.groupVersionFailed(errors.New("unexpected GroupVersion string: a/b/c")) },
		want: with(allOK(), corev1.NamespaceDeletionGVParsingFailure, cond{corev1.ConditionTrue, "GroupVersionParsingFailed",
			"unexpected GroupVersion string: a/b/c"}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s conditionSet
			tt.build(&s)
			ns := &corev1.Namespace{}
			if !s.apply(&ns.Status, epoch) {
				t.Error("apply on an empty status reported no change")
			}
			if diff := cmp.Diff(tt.want, conditions(ns)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			var types []corev1.NamespaceConditionType
			for _, c := range ns.Status.Conditions {
				types = append(types, c.Type)
			}
			if diff := cmp.Diff(conditionTypes[:], types); diff != "" {
				t.Errorf("condition order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConditionTransitions(t *testing.T) {
	t0 := metav1.NewTime(epoch)
	later := epoch.Add(time.Minute)
	remaining := func(msg string) *conditionSet {
		s := &conditionSet{}
		tot := newContentTotals()
		tot.add(configMapsGVR, resourceResult{remaining: 1, byFinalizer: map[string]int{msg: 1}})
		s.contentRemaining(tot)
		return s
	}
	ltt := func(st corev1.NamespaceStatus, ct corev1.NamespaceConditionType) time.Time {
		return find(st.Conditions, ct).LastTransitionTime.Time
	}

	var st corev1.NamespaceStatus
	st.Conditions = []corev1.NamespaceCondition{{Type: "Custom", Status: corev1.ConditionTrue, LastTransitionTime: t0}}
	if !remaining("example.com/a").apply(&st, epoch) {
		t.Fatal("first apply reported no change")
	}
	if st.Conditions[0].Type != "Custom" || len(st.Conditions) != 6 {
		t.Fatalf("other conditions must be kept first and the five added, got %+v", st.Conditions)
	}

	t.Run("E11 nothing changed: no write", func(t *testing.T) {
		if remaining("example.com/a").apply(&st, later) {
			t.Error("an identical recomputation reported a change")
		}
		if got := ltt(st, corev1.NamespaceFinalizersRemaining); !got.Equal(epoch) {
			t.Errorf("lastTransitionTime moved to %v", got)
		}
	})
	t.Run("E11 message change with the same status keeps lastTransitionTime", func(t *testing.T) {
		if !remaining("example.com/b").apply(&st, later) {
			t.Error("a new message reported no change")
		}
		c := find(st.Conditions, corev1.NamespaceFinalizersRemaining)
		if c.Message != "Some content in the namespace has finalizers remaining: example.com/b in 1 resource instances" {
			t.Errorf("message = %q", c.Message)
		}
		if !c.LastTransitionTime.Time.Equal(epoch) {
			t.Errorf("lastTransitionTime moved to %v on a message change", c.LastTransitionTime)
		}
	})
	t.Run("E11 status change moves lastTransitionTime", func(t *testing.T) {
		if !(&conditionSet{}).apply(&st, later) {
			t.Error("clearing reported no change")
		}
		for _, ct := range []corev1.NamespaceConditionType{corev1.NamespaceContentRemaining, corev1.NamespaceFinalizersRemaining} {
			c := find(st.Conditions, ct)
			if c.Status != corev1.ConditionFalse || !c.LastTransitionTime.Time.Equal(later) {
				t.Errorf("%s = %+v, want False at %v", ct, c, later)
			}
		}
		if got := ltt(st, corev1.NamespaceDeletionDiscoveryFailure); !got.Equal(epoch) {
			t.Errorf("an unchanged condition's lastTransitionTime moved to %v", got)
		}
	})
}

func TestRequeueAfter(t *testing.T) {
	for est, want := range map[int64]time.Duration{0: time.Second, 1: time.Second, 15: 8 * time.Second, 30: 16 * time.Second} {
		if got := (&remainingError{estimate: est}).RequeueAfter(); got != want {
			t.Errorf("E9 estimate %d s: requeue after %v, want %v", est, got, want)
		}
	}
}
