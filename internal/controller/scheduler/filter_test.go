package scheduler

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFilter(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name string
		node *corev1.Node
		// usage are pods already on the node.
		usage []*corev1.Pod
		pod   *corev1.Pod
		want  *status
	}{
		{"a Ready node with room passes", readyNode("n", "2", "4Gi"), nil, pendingPod("p", "1", "1Gi"), nil},

		// NodeUnschedulable
		{"spec.unschedulable rejects", readyNode("n", "2", "4Gi", unschedulable()), nil, pendingPod("p", "", ""),
			&status{reasons: []string{reasonUnschedulable}}},
		{"spec.unschedulable is passed by a pod tolerating the unschedulable taint", readyNode("n", "2", "4Gi", unschedulable()), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})), nil},

		// TaintToleration
		{"an untolerated NoSchedule taint rejects", readyNode("n", "2", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			pendingPod("p", "", ""), &status{reasons: []string{reasonUntoleratedTaint}}},
		{"an untolerated NoExecute taint rejects", readyNode("n", "2", "4Gi", withTaint("dedicated", "", corev1.TaintEffectNoExecute)), nil,
			pendingPod("p", "", ""), &status{reasons: []string{reasonUntoleratedTaint}}},
		{"a PreferNoSchedule taint does not reject", readyNode("n", "2", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectPreferNoSchedule)), nil,
			pendingPod("p", "", ""), nil},
		{"an Equal toleration with the taint's value passes", readyNode("n", "2", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule})), nil},
		{"an Equal toleration with another value rejects", readyNode("n", "2", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Key: "dedicated", Value: "cpu", Effect: corev1.TaintEffectNoSchedule})),
			&status{reasons: []string{reasonUntoleratedTaint}}},
		{"a toleration for another effect rejects", readyNode("n", "2", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoExecute)), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			&status{reasons: []string{reasonUntoleratedTaint}}},
		{"an empty-key Exists toleration tolerates everything", readyNode("n", "2", "4Gi", withTaint("a", "b", corev1.TaintEffectNoExecute), unschedulable()), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Operator: corev1.TolerationOpExists})), nil},
		{"Gt tolerations tolerate nothing (comparison operators are alpha, off)", readyNode("n", "2", "4Gi", withTaint("level", "5", corev1.TaintEffectNoSchedule)), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Key: "level", Operator: corev1.TolerationOpGt, Value: "1"})),
			&status{reasons: []string{reasonUntoleratedTaint}}},
		{"the not-ready taint rejects", readyNode("n", "2", "4Gi", withTaint(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoSchedule)), nil,
			pendingPod("p", "", ""), &status{reasons: []string{reasonUntoleratedTaint}}},

		// Node readiness, as the lifecycle controller's taints
		{"Ready=False rejects as the not-ready taint would", readyNode("n", "2", "4Gi", withReady(corev1.ConditionFalse)), nil,
			pendingPod("p", "", ""), &status{reasons: []string{reasonUntoleratedTaint}}},
		{"Ready=Unknown rejects as the unreachable taint would", readyNode("n", "2", "4Gi", withReady(corev1.ConditionUnknown)), nil,
			pendingPod("p", "", ""), &status{reasons: []string{reasonUntoleratedTaint}}},
		{"no Ready condition rejects as the admission's not-ready taint would", readyNode("n", "2", "4Gi", withoutConditions()), nil,
			pendingPod("p", "", ""), &status{reasons: []string{reasonUntoleratedTaint}}},
		{"Ready=Unknown is passed by a pod tolerating unreachable", readyNode("n", "2", "4Gi", withReady(corev1.ConditionUnknown)), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists})), nil},
		{"Ready=False is not passed by a pod tolerating only unreachable", readyNode("n", "2", "4Gi", withReady(corev1.ConditionFalse)), nil,
			pendingPod("p", "", "", withToleration(corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists})),
			&status{reasons: []string{reasonUntoleratedTaint}}},

		// NodeAffinity
		{"a matching nodeSelector passes", readyNode("n", "2", "4Gi", withLabels("disk", "ssd")), nil, pendingPod("p", "", "", withNodeSelector("disk", "ssd")), nil},
		{"a nodeSelector on a missing label rejects", readyNode("n", "2", "4Gi"), nil, pendingPod("p", "", "", withNodeSelector("disk", "ssd")),
			&status{reasons: []string{reasonAffinity}}},
		{"In matches", readyNode("n", "2", "4Gi", withLabels("zone", "a")), nil, pendingPod("p", "", "", withTerms(expr("zone", corev1.NodeSelectorOpIn, "a", "b"))), nil},
		{"NotIn rejects", readyNode("n", "2", "4Gi", withLabels("zone", "a")), nil, pendingPod("p", "", "", withTerms(expr("zone", corev1.NodeSelectorOpNotIn, "a"))),
			&status{reasons: []string{reasonAffinity}}},
		{"Exists matches", readyNode("n", "2", "4Gi", withLabels("gpu", "")), nil, pendingPod("p", "", "", withTerms(expr("gpu", corev1.NodeSelectorOpExists))), nil},
		{"DoesNotExist rejects", readyNode("n", "2", "4Gi", withLabels("gpu", "")), nil, pendingPod("p", "", "", withTerms(expr("gpu", corev1.NodeSelectorOpDoesNotExist))),
			&status{reasons: []string{reasonAffinity}}},
		{"Gt compares integers", readyNode("n", "2", "4Gi", withLabels("cores", "16")), nil, pendingPod("p", "", "", withTerms(expr("cores", corev1.NodeSelectorOpGt, "8"))), nil},
		{"Lt compares integers", readyNode("n", "2", "4Gi", withLabels("cores", "16")), nil, pendingPod("p", "", "", withTerms(expr("cores", corev1.NodeSelectorOpLt, "8"))),
			&status{reasons: []string{reasonAffinity}}},
		{"terms are ORed", readyNode("n", "2", "4Gi", withLabels("zone", "b")), nil,
			pendingPod("p", "", "", withTerms(expr("zone", corev1.NodeSelectorOpIn, "a"), expr("zone", corev1.NodeSelectorOpIn, "b"))), nil},
		{"matchFields on metadata.name matches", readyNode("n", "2", "4Gi"), nil, pendingPod("p", "", "", withTerms(nameIn("n"))), nil},
		{"matchFields NotIn on metadata.name rejects", readyNode("n", "2", "4Gi"), nil,
			pendingPod("p", "", "", withTerms(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n"}}}})),
			&status{reasons: []string{reasonAffinity}}},
		{"required affinity with only empty terms matches nothing", readyNode("n", "2", "4Gi"), nil, pendingPod("p", "", "", withTerms(corev1.NodeSelectorTerm{})),
			&status{reasons: []string{reasonAffinity}}},
		{"a term with an unknown operator matches nothing", readyNode("n", "2", "4Gi", withLabels("zone", "a")), nil,
			pendingPod("p", "", "", withTerms(expr("zone", "Like", "a"))), &status{reasons: []string{reasonAffinity}}},
		{"nodeSelector and affinity must both match", readyNode("n", "2", "4Gi", withLabels("zone", "a")), nil,
			pendingPod("p", "", "", withNodeSelector("disk", "ssd"), withTerms(expr("zone", corev1.NodeSelectorOpIn, "a"))), &status{reasons: []string{reasonAffinity}}},

		// NodeResourcesFit
		{"cpu beyond what is free is resolvable", readyNode("n", "2", "4Gi"), []*corev1.Pod{pendingPod("q", "1500m", "", onNode("n"))},
			pendingPod("p", "1", ""), &status{reasons: []string{"Insufficient cpu"}, resolvable: true}},
		{"cpu beyond allocatable is not resolvable", readyNode("n", "2", "4Gi"), nil, pendingPod("p", "3", ""),
			&status{reasons: []string{"Insufficient cpu"}}},
		{"cpu and memory both short", readyNode("n", "2", "4Gi"), []*corev1.Pod{pendingPod("q", "2", "4Gi", onNode("n"))},
			pendingPod("p", "1", "1Gi"), &status{reasons: []string{"Insufficient cpu", "Insufficient memory"}, resolvable: true}},
		{"ephemeral-storage is checked", readyNode("n", "2", "4Gi"), nil,
			func() *corev1.Pod {
				p := pendingPod("p", "", "")
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("20Gi")}
				return p
			}(), &status{reasons: []string{"Insufficient ephemeral-storage"}}},
		{"an extended resource the node lacks", readyNode("n", "2", "4Gi"), nil,
			func() *corev1.Pod {
				p := pendingPod("p", "", "")
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
				return p
			}(), &status{reasons: []string{"Insufficient example.com/gpu"}}},
		{"an extended resource the node has", readyNode("n", "2", "4Gi", withAllocatable("example.com/gpu", "2")), nil,
			func() *corev1.Pod {
				p := pendingPod("p", "", "")
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
				return p
			}(), nil},
		{"the pod count against allocatable pods", readyNode("n", "2", "4Gi", withAllocatable(corev1.ResourcePods, "1")),
			[]*corev1.Pod{pendingPod("q", "", "", onNode("n"))}, pendingPod("p", "", ""), &status{reasons: []string{reasonTooManyPods}, resolvable: true}},
		{"a pod without requests fits a full node", readyNode("n", "2", "4Gi"), []*corev1.Pod{pendingPod("q", "2", "4Gi", onNode("n"))}, pendingPod("p", "", ""), nil},
		{"init containers count by their maximum, not their sum", readyNode("n", "2", "4Gi"), nil,
			func() *corev1.Pod {
				p := pendingPod("p", "500m", "")
				p.Spec.InitContainers = []corev1.Container{{Name: "i1", Resources: corev1.ResourceRequirements{Requests: requests("2", "")}}, {Name: "i2", Resources: corev1.ResourceRequirements{Requests: requests("2", "")}}}
				return p
			}(), nil},
		{"sidecars add to the containers", readyNode("n", "2", "4Gi"), nil,
			func() *corev1.Pod {
				p := pendingPod("p", "1500m", "")
				p.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: requests("1", "")}}}
				return p
			}(), &status{reasons: []string{"Insufficient cpu"}}},
		{"overhead adds to the request", readyNode("n", "2", "4Gi"), nil,
			func() *corev1.Pod {
				p := pendingPod("p", "1500m", "")
				p.Spec.Overhead = requests("1", "")
				return p
			}(), &status{reasons: []string{"Insufficient cpu"}}},
		{"pod-level requests replace the containers' for cpu and memory", readyNode("n", "2", "4Gi"), nil,
			func() *corev1.Pod {
				p := pendingPod("p", "1", "")
				p.Spec.Resources = &corev1.ResourceRequirements{Requests: requests("3", "")}
				return p
			}(), &status{reasons: []string{"Insufficient cpu"}}},
		{"a node without allocatable cpu rejects a cpu request", func() *corev1.Node {
			n := readyNode("n", "2", "4Gi")
			delete(n.Status.Allocatable, corev1.ResourceCPU)
			return n
		}(), nil, pendingPod("p", "100m", ""), &status{reasons: []string{"Insufficient cpu"}}},

		// Order: the first rejecting plugin wins.
		{"unschedulable comes before taints and resources", readyNode("n", "1", "1Gi", unschedulable(), withTaint("x", "", corev1.TaintEffectNoSchedule)), nil,
			pendingPod("p", "4", ""), &status{reasons: []string{reasonUnschedulable}}},
		{"taints come before affinity", readyNode("n", "2", "4Gi", withTaint("x", "", corev1.TaintEffectNoSchedule)), nil,
			pendingPod("p", "", "", withNodeSelector("disk", "ssd")), &status{reasons: []string{reasonUntoleratedTaint}}},
		{"affinity comes before resources", readyNode("n", "1", "4Gi"), nil,
			pendingPod("p", "4", "", withNodeSelector("disk", "ssd")), &status{reasons: []string{reasonAffinity}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := infos([]*corev1.Node{tt.node}, tt.usage...)[0]
			got := filter(newPodToSchedule(tt.pod), ni)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(status{})); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := pendingPod("p", "100m", "")
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c2", Resources: corev1.ResourceRequirements{Requests: requests("200m", "64Mi")}})
	p.Spec.InitContainers = []corev1.Container{
		{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: requests("50m", "")}},
		// Runs next to the sidecar: 400m + 50m = 450m > 100m + 200m + 50m.
		{Name: "init", Resources: corev1.ResourceRequirements{Requests: requests("400m", "")}},
	}
	p.Spec.Overhead = requests("10m", "")
	got, nonZero := podResources(p)
	if got.milliCPU != 460 || got.memory != 64*1024*1024 {
		t.Errorf("requested = %dm cpu, %d memory; want 460m (max(350m, 450m) + 10m overhead) and 64Mi", got.milliCPU, got.memory)
	}
	// Scoring defaults fill the missing memory of c, sidecar and init:
	// containers 100m/200Mi + 200m/64Mi + sidecar 50m/200Mi = 350m/464Mi;
	// init with sidecar 450m/400Mi; max 450m/464Mi; + overhead 10m.
	if nonZero.milliCPU != 460 || nonZero.memory != 464*1024*1024 {
		t.Errorf("nonZero = %dm cpu, %d memory; want 460m and 464Mi", nonZero.milliCPU, nonZero.memory)
	}
}

// TestFitErrorMessage checks the PodScheduled message and event text
// against upstream's FitError.Error and DefaultPreemption formats
// (pkg/scheduler/framework/types.go, plugins/defaultpreemption and its
// tests).
func TestFitErrorMessage(t *testing.T) {
	never := corev1.PreemptNever
	n := func(name string, opts ...nodeOpt) *corev1.Node { return readyNode(name, "2", "4Gi", opts...) }
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod
		pod   *corev1.Pod
		want  string
	}{
		{
			"one node short of cpu, its pod of equal priority is no victim",
			[]*corev1.Node{n("n1")}, []*corev1.Pod{pendingPod("q", "2", "", onNode("n1"))}, pendingPod("p", "1", ""),
			"0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			"the issue's example: affinity and cpu",
			[]*corev1.Node{n("n1"), n("n2", withLabels("disk", "ssd")), n("n3", withLabels("disk", "ssd"))},
			[]*corev1.Pod{pendingPod("q2", "2", "", onNode("n2")), pendingPod("q3", "1500m", "", onNode("n3"))},
			pendingPod("p", "1", "", withNodeSelector("disk", "ssd")),
			"0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. " +
				"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
		},
		{
			"a request beyond allocatable is not helped by preemption",
			[]*corev1.Node{n("n1"), n("n2")}, nil, pendingPod("p", "3", ""),
			"0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			"several reasons from one node count once each, sorted as strings",
			[]*corev1.Node{n("n1", unschedulable()), n("n2", withTaint("x", "", corev1.TaintEffectNoSchedule)), n("n3")},
			[]*corev1.Pod{pendingPod("q", "2", "4Gi", onNode("n3"))}, pendingPod("p", "1", "1Gi"),
			"0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable. " +
				"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
		},
		{
			"one resource beyond allocatable makes the node unresolvable, whatever the others",
			[]*corev1.Node{readyNode("node1", "1", "4Gi"), readyNode("node2", "1", "4Gi"), readyNode("node3", "1", "4Gi")},
			[]*corev1.Pod{
				pendingPod("p1", "1", "", onNode("node1"), withPriority(1000)),
				pendingPod("p2", "1", "", onNode("node2")),
				pendingPod("p3", "1", "", onNode("node3"), withPriority(1000)),
			},
			pendingPod("p", "1", "", withPriority(1000), func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("5Gi")}
			}),
			"0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			"mixed priorities: removing the lower-priority pod is not enough (upstream default_preemption_test)",
			[]*corev1.Node{readyNode("node1", "1", "4Gi"), readyNode("node2", "1", "4Gi"), readyNode("node3", "1", "4Gi")},
			[]*corev1.Pod{
				pendingPod("p1", "1", "", onNode("node1"), withPriority(1000)),
				pendingPod("p2", "500m", "3Gi", onNode("node2")),
				pendingPod("p2b", "500m", "", onNode("node2"), withPriority(1000)),
				pendingPod("p3", "1", "", onNode("node3"), withPriority(1000)),
			},
			pendingPod("p", "1", "", withPriority(1000)),
			"0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for incoming pod.",
		},
		{
			"preemptionPolicy Never",
			[]*corev1.Node{n("n1")}, []*corev1.Pod{pendingPod("q", "2", "", onNode("n1"))},
			pendingPod("p", "1", "", func(p *corev1.Pod) { p.Spec.PreemptionPolicy = &never }),
			"0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
		},
		{
			"matchFields names one node: the others did not satisfy NodeAffinity",
			[]*corev1.Node{n("n1", unschedulable()), n("n2"), n("n3")}, nil, pendingPod("p", "", "", withTerms(nameIn("n1"))),
			"0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			"matchFields naming a node that does not exist",
			[]*corev1.Node{n("n1"), n("n2")}, nil, pendingPod("p", "", "", withTerms(nameIn("gone"))),
			"0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			"conflicting matchFields fail in PreFilter",
			[]*corev1.Node{n("n1"), n("n2")}, nil, pendingPod("p", "", "", withTerms(nameIn("n1", "n2"))),
			"0/2 nodes are available: pod affinity terms conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			"counts of ten and more sort as strings, as upstream",
			func() []*corev1.Node {
				var ns []*corev1.Node
				for i := range 10 {
					ns = append(ns, n(string(rune('a'+i)), unschedulable()))
				}
				return append(ns, n("k", withTaint("x", "", corev1.TaintEffectNoSchedule)), n("l", withTaint("x", "", corev1.TaintEffectNoSchedule)))
			}(), nil, pendingPod("p", "", ""),
			"0/12 nodes are available: 10 node(s) were unschedulable, 2 node(s) had untolerated taint(s). " +
				"preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := schedule(newPodToSchedule(tt.pod), infos(tt.nodes, tt.pods...))
			if res.err == nil {
				t.Fatalf("scheduled to %q, want a fit error", res.node)
			}
			if got := res.err.Error(); got != tt.want {
				t.Errorf("message:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestScheduleScore(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod
		pod   *corev1.Pod
		want  string
	}{
		{"the least allocated node wins", []*corev1.Node{readyNode("a", "4", "8Gi"), readyNode("b", "4", "8Gi")},
			[]*corev1.Pod{pendingPod("q", "2", "2Gi", onNode("a"))}, pendingPod("p", "1", "1Gi"), "b"},
		{"a larger node is less allocated", []*corev1.Node{readyNode("a", "2", "4Gi"), readyNode("b", "8", "16Gi")}, nil, pendingPod("p", "1", "1Gi"), "b"},
		{"ties go to the first name", []*corev1.Node{readyNode("b", "4", "8Gi"), readyNode("a", "4", "8Gi")}, nil, pendingPod("p", "1", "1Gi"), "a"},
		{"pods without requests count with the scoring defaults", []*corev1.Node{readyNode("a", "4", "8Gi"), readyNode("b", "4", "8Gi")},
			[]*corev1.Pod{pendingPod("q1", "", "", onNode("a")), pendingPod("q2", "", "", onNode("a"))}, pendingPod("p", "", ""), "b"},
		{"only feasible nodes are scored", []*corev1.Node{readyNode("a", "8", "16Gi", unschedulable()), readyNode("b", "2", "4Gi")}, nil, pendingPod("p", "1", ""), "b"},
		{"matchFields restricts the candidates", []*corev1.Node{readyNode("a", "8", "16Gi"), readyNode("b", "2", "4Gi")}, nil, pendingPod("p", "1", "", withTerms(nameIn("b"))), "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := schedule(newPodToSchedule(tt.pod), infos(tt.nodes, tt.pods...))
			if res.err != nil {
				t.Fatalf("fit error: %v", res.err)
			}
			if res.node != tt.want {
				t.Errorf("node = %q, want %q", res.node, tt.want)
			}
		})
	}
}

func TestTruncateMessage(t *testing.T) {
	if got := truncateMessage("short"); got != "short" {
		t.Errorf("short message changed: %q", got)
	}
	got := truncateMessage(strings.Repeat("x", 2000))
	if len(got) != noteLengthLimit || !strings.HasSuffix(got, " ...") {
		t.Errorf("truncated to %d bytes ending %q, want %d ending \" ...\"", len(got), got[len(got)-5:], noteLengthLimit)
	}
}
