package nodelifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testclock "k8s.io/utils/clock/testing"
)

func noSchedule(key string) corev1.Taint {
	return corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}
}

func TestNoScheduleDiff(t *testing.T) {
	cond := func(typ corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s}
	}
	tests := []struct {
		name          string
		conditions    []corev1.NodeCondition
		unschedulable bool
		taints        []corev1.Taint
		add, remove   []corev1.Taint
	}{
		{"a Ready node needs nothing", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, false, nil, nil, nil},
		{"Ready=False gets not-ready", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)}, false, nil,
			[]corev1.Taint{noSchedule(corev1.TaintNodeNotReady)}, nil},
		{"Ready=Unknown gets unreachable and loses not-ready", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionUnknown)}, false,
			[]corev1.Taint{noSchedule(corev1.TaintNodeNotReady)},
			[]corev1.Taint{noSchedule(corev1.TaintNodeUnreachable)}, []corev1.Taint{noSchedule(corev1.TaintNodeNotReady)}},
		{"Ready again loses unreachable", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, false,
			[]corev1.Taint{noSchedule(corev1.TaintNodeUnreachable)}, nil, []corev1.Taint{noSchedule(corev1.TaintNodeUnreachable)}},
		{"pressure conditions", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionTrue),
			cond(corev1.NodeDiskPressure, corev1.ConditionTrue), cond(corev1.NodePIDPressure, corev1.ConditionFalse), cond(corev1.NodeNetworkUnavailable, corev1.ConditionTrue)}, false, nil,
			[]corev1.Taint{noSchedule(corev1.TaintNodeMemoryPressure), noSchedule(corev1.TaintNodeDiskPressure), noSchedule(corev1.TaintNodeNetworkUnavailable)}, nil},
		{"spec.unschedulable gets the unschedulable taint", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, true, nil,
			[]corev1.Taint{noSchedule(corev1.TaintNodeUnschedulable)}, nil},
		{"schedulable again loses it", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, false,
			[]corev1.Taint{noSchedule(corev1.TaintNodeUnschedulable)}, nil, []corev1.Taint{noSchedule(corev1.TaintNodeUnschedulable)}},
		{"other taints and the NoExecute ones are not this pass's", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, false,
			[]corev1.Taint{noSchedule("example.com/dedicated"), unreachableNoExecute}, nil, nil},
		{"a present taint with a value and time is kept", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)}, false,
			[]corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &metav1.Time{Time: t0}}}, nil, nil},
		{"no Ready condition: nothing (the admission taints new nodes)", nil, false, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: tt.unschedulable, Taints: tt.taints}, Status: corev1.NodeStatus{Conditions: tt.conditions}}
			add, remove := noScheduleDiff(node)
			if diff := cmp.Diff(tt.add, add, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("add (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.remove, remove, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyTaints(t *testing.T) {
	old := metav1.NewTime(t0)
	now := t0.Add(time.Minute)
	existing := []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &old}}
	got, changed := applyTaints(existing, []corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}, now)
	want := []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: now}}}
	if !changed {
		t.Error("swap not reported as a change")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("swap (-want +got):\n%s", diff)
	}
	if _, changed := applyTaints(got, []corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}, now.Add(time.Hour)); changed {
		t.Error("a taint already there was added again (its timeAdded must stay)")
	}
}

func TestComputeZoneState(t *testing.T) {
	c := func(s corev1.ConditionStatus) *corev1.NodeCondition {
		return &corev1.NodeCondition{Type: corev1.NodeReady, Status: s}
	}
	T, F, U := corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown
	tests := []struct {
		name      string
		conds     []*corev1.NodeCondition
		unhealthy int
		want      zoneState
	}{
		{"all ready", []*corev1.NodeCondition{c(T), c(T)}, 0, stateNormal},
		{"one node, unknown: full disruption", []*corev1.NodeCondition{c(U)}, 1, stateFullDisruption},
		{"no Ready condition counts as not ready", []*corev1.NodeCondition{nil}, 1, stateFullDisruption},
		{"one of two down is normal", []*corev1.NodeCondition{c(T), c(F)}, 1, stateNormal},
		{"two of three down is normal (needs more than 2)", []*corev1.NodeCondition{c(T), c(F), c(U)}, 2, stateNormal},
		{"3 of 5 down (60%) is partial", []*corev1.NodeCondition{c(T), c(T), c(F), c(U), c(U)}, 3, statePartialDisruption},
		{"3 of 6 down (50%) is normal", []*corev1.NodeCondition{c(T), c(T), c(T), c(F), c(U), c(U)}, 3, stateNormal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, s := computeZoneState(tt.conds, DefaultUnhealthyZoneThreshold)
			if n != tt.unhealthy || s != tt.want {
				t.Errorf("= (%d, %s), want (%d, %s)", n, s, tt.unhealthy, tt.want)
			}
		})
	}
}

func TestZoneKey(t *testing.T) {
	node := func(l map[string]string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: l}} }
	if got := zoneKey(node(nil)); got != "" {
		t.Errorf("no labels: %q", got)
	}
	if got := zoneKey(node(map[string]string{corev1.LabelTopologyRegion: "r", corev1.LabelTopologyZone: "z"})); got != "r:\x00:z" {
		t.Errorf("GA labels: %q", got)
	}
	if got := zoneKey(node(map[string]string{corev1.LabelFailureDomainBetaZone: "bz", corev1.LabelTopologyZone: "z"})); got != ":\x00:bz" {
		t.Errorf("the beta label wins, as upstream: %q", got)
	}
}

func TestTainter(t *testing.T) {
	clk := testclock.NewFakeClock(t0)
	tr := newTainter(clk, 0.1)
	var done []string
	take := func(name string) bool { done = append(done, name); return true }

	if !tr.add("a") || !tr.add("b") || tr.add("a") {
		t.Fatal("add is not unique")
	}
	tr.try(take)
	if diff := cmp.Diff([]string{"a"}, done); diff != "" {
		t.Errorf("burst 1 at 0.1/s takes one node (-want +got):\n%s", diff)
	}
	clk.Step(9 * time.Second)
	tr.try(take)
	if len(done) != 1 {
		t.Errorf("took %v before 10 s", done)
	}
	clk.Step(time.Second)
	tr.try(take)
	if diff := cmp.Diff([]string{"a", "b"}, done); diff != "" {
		t.Errorf("after 10 s (-want +got):\n%s", diff)
	}
	if tr.add("a") {
		t.Error("a processed node was queued again before remove")
	}
	tr.remove("a")
	if !tr.add("a") {
		t.Error("a removed node could not be queued again")
	}
	tr.swap(0)
	clk.Step(time.Hour)
	tr.try(take)
	if len(done) != 2 {
		t.Errorf("a stopped tainter took %v", done)
	}
	tr.swap(0.1)
	failed := 0
	tr.try(func(string) bool { failed++; return false })
	tr.try(func(string) bool { failed++; return false })
	if failed != 1 {
		t.Errorf("failures tried %d times without a token in between, want 1", failed)
	}
}
