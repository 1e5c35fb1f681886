package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// The reasons kube-scheduler's filter plugins give, word for word
// (pkg/scheduler/framework/plugins/*), since kubectl users and tests read
// them in the PodScheduled condition and the FailedScheduling event.
const (
	reasonUnschedulable    = "node(s) were unschedulable"                        // nodeunschedulable.ErrReasonUnschedulable
	reasonUntoleratedTaint = "node(s) had untolerated taint(s)"                  // tainttoleration.Filter
	reasonAffinity         = "node(s) didn't match Pod's node affinity/selector" // nodeaffinity.ErrReasonPod
	reasonAffinityConflict = "pod affinity terms conflict"                       // nodeaffinity errReasonConflict
	reasonTooManyPods      = "Too many pods"                                     // noderesources fitsRequest

	// The default preemption plugin's answers when it finds nothing to
	// preempt (defaultpreemption, preemption.Evaluator).
	reasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	reasonNoVictims            = "No preemption victims found for incoming pod"
	reasonPreemptNever         = "not eligible due to preemptionPolicy=Never."

	// noNodeAvailableMsg is framework.NoNodeAvailableMsg.
	noNodeAvailableMsg = "0/%v nodes are available"
	// errNoNodes is scheduler.ErrNoNodesAvailable's text.
	errNoNodes = "no nodes available to schedule pods"
)

// nodeInfo is one node as a scheduling attempt sees it (upstream
// framework.NodeInfo, reduced): the node and what the pods bound to it
// (assumed ones included) request.
type nodeInfo struct {
	node      *corev1.Node
	pods      []podUsage
	requested resources
	// nonZero is requested with the scoring defaults (cpu, memory only).
	nonZero resources
}

// podUsage is what one pod on a node takes, and its priority (for the
// preemption message).
type podUsage struct {
	requested, nonZero resources
	priority           int32
}

func (ni *nodeInfo) addPod(u podUsage) {
	ni.pods = append(ni.pods, u)
	ni.requested = ni.requested.plus(u.requested)
	ni.nonZero.milliCPU += u.nonZero.milliCPU
	ni.nonZero.memory += u.nonZero.memory
}

// allocatable reads the node's status.allocatable as resources, and its
// pod capacity.
func allocatable(node *corev1.Node) (resources, int64) {
	var r resources
	r.add(node.Status.Allocatable)
	return r, node.Status.Allocatable.Pods().Value()
}

// status is one node's filter verdict (upstream fwk.Status): nil passes;
// otherwise the reasons, and whether preemption could help
// (Unschedulable) or not (UnschedulableAndUnresolvable).
type status struct {
	reasons    []string
	resolvable bool
}

// podToSchedule is a pending pod with what the filters need computed once.
type podToSchedule struct {
	pod       *corev1.Pod
	requested resources
	nonZero   resources
	affinity  requiredAffinity
}

func newPodToSchedule(pod *corev1.Pod) *podToSchedule {
	req, nz := podResources(pod)
	return &podToSchedule{pod: pod, requested: req, nonZero: nz, affinity: newRequiredAffinity(pod)}
}

// filter runs the default profile's filter plugins that terminus
// implements, in upstream's order, and stops at the first that rejects
// (the framework's default): NodeUnschedulable, TaintToleration,
// NodeAffinity, NodeResourcesFit. NodeName passes trivially for a pod
// without spec.nodeName; NodePorts and the volume and inter-pod plugins
// are not implemented.
func filter(p *podToSchedule, ni *nodeInfo) *status {
	node := ni.node
	// NodeUnschedulable: spec.unschedulable, unless the pod tolerates the
	// node.kubernetes.io/unschedulable:NoSchedule taint.
	if node.Spec.Unschedulable && !tolerates(p.pod.Spec.Tolerations, &corev1.Taint{
		Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule,
	}) {
		return &status{reasons: []string{reasonUnschedulable}}
	}
	// TaintToleration: NoSchedule and NoExecute taints the pod does not
	// tolerate, plus the readiness taint the node would carry (below).
	for _, t := range effectiveTaints(node) {
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(p.pod.Spec.Tolerations, &t) {
			return &status{reasons: []string{reasonUntoleratedTaint}}
		}
	}
	// NodeAffinity: spec.nodeSelector and required node affinity.
	if !p.affinity.matches(node) {
		return &status{reasons: []string{reasonAffinity}}
	}
	return fitResources(p, ni)
}

// effectiveTaints returns node's taints plus the NoSchedule taint that
// stands for its Ready condition when the node lifecycle controller has
// not (yet) put it there: not-ready for Ready=False or no Ready condition
// (what the TaintNodesByCondition admission plugin puts on a new node),
// unreachable for Ready=Unknown. Upstream's scheduler relies on those
// taints alone (TaintNodesByCondition); stating them here keeps a node
// that is not Ready out even when the taint lags behind the condition or
// the lifecycle controller is off, while pods that tolerate the taint
// (DaemonSet-like pods) still schedule, as upstream.
func effectiveTaints(node *corev1.Node) []corev1.Taint {
	key := corev1.TaintNodeNotReady
	ready := false
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			ready = true
		case corev1.ConditionUnknown:
			key = corev1.TaintNodeUnreachable
		}
		break
	}
	if ready {
		return node.Spec.Taints
	}
	implied := corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}
	for i := range node.Spec.Taints {
		if node.Spec.Taints[i].MatchTaint(&implied) {
			return node.Spec.Taints
		}
	}
	return append(append([]corev1.Taint(nil), node.Spec.Taints...), implied)
}

// tolerates is upstream v1helper.TolerationsTolerateTaint over
// corev1.Toleration.ToleratesTaint, with the
// TaintTolerationComparisonOperators feature off (alpha, off in v1.37), so
// Lt and Gt tolerate nothing. (Written out rather than called, since
// ToleratesTaint wants a klog logger and klog is no direct dependency.)
func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for _, t := range tolerations {
		if t.Effect != "" && t.Effect != taint.Effect {
			continue
		}
		if t.Key != "" && t.Key != taint.Key {
			continue
		}
		switch t.Operator {
		case "", corev1.TolerationOpEqual:
			if t.Value == taint.Value {
				return true
			}
		case corev1.TolerationOpExists:
			return true
		}
	}
	return false
}

// fitResources is NodeResourcesFit's filter (upstream noderesources
// fitsRequest): the pod count against allocatable pods, then each
// requested resource against allocatable minus what the node's pods
// request. A request larger than the node's whole allocatable cannot be
// helped by preemption.
func fitResources(p *podToSchedule, ni *nodeInfo) *status {
	alloc, maxPods := allocatable(ni.node)
	var reasons []string
	unresolvable := false
	if int64(len(ni.pods))+1 > maxPods {
		reasons = append(reasons, reasonTooManyPods)
	}
	req, used := p.requested, ni.requested
	check := func(name string, want, have, capacity int64) {
		if want > 0 && want > capacity-have {
			reasons = append(reasons, "Insufficient "+name)
			if want > capacity {
				unresolvable = true
			}
		}
	}
	if !req.isZero() {
		check(string(corev1.ResourceCPU), req.milliCPU, used.milliCPU, alloc.milliCPU)
		check(string(corev1.ResourceMemory), req.memory, used.memory, alloc.memory)
		check(string(corev1.ResourceEphemeralStorage), req.ephemeralStorage, used.ephemeralStorage, alloc.ephemeralStorage)
		names := make([]string, 0, len(req.scalar))
		for name := range req.scalar {
			names = append(names, string(name))
		}
		sort.Strings(names) // upstream iterates a map; sorted is stable
		for _, name := range names {
			rn := corev1.ResourceName(name)
			check(name, req.scalar[rn], used.scalar[rn], alloc.scalar[rn])
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return &status{reasons: reasons, resolvable: !unresolvable}
}

// fitError is what a failed attempt reports (upstream framework.FitError
// with its Diagnosis): the node count, the reasons per rejected node (or
// one PreFilter message for all of them), and the preemption plugin's
// message.
type fitError struct {
	numAllNodes int
	// preFilterMsg, when set, rejected every node before filtering.
	preFilterMsg string
	// statuses holds the rejected nodes' verdicts; nodes missing from it
	// get absent (upstream NodeToStatus.AbsentNodesStatus).
	statuses map[string]*status
	absent   *status
	// postFilterMsg is the preemption plugin's message, "preemption: ...".
	postFilterMsg string
}

// Error renders the message exactly as upstream FitError.Error: "0/N nodes
// are available: <PreFilter msg>." or "<count> <reason>, ..." sorted as
// strings, then the PostFilter message.
func (f *fitError) Error() string {
	msg := fmt.Sprintf(noNodeAvailableMsg+":", f.numAllNodes)
	if f.preFilterMsg != "" {
		msg += fmt.Sprintf(" %v.", f.preFilterMsg)
	} else {
		counts := map[string]int{}
		for _, s := range f.statuses {
			for _, r := range s.reasons {
				counts[r]++
			}
		}
		if len(f.statuses) < f.numAllNodes && f.absent != nil {
			for _, r := range f.absent.reasons {
				counts[r] += f.numAllNodes - len(f.statuses)
			}
		}
		var parts []string
		for r, n := range counts {
			parts = append(parts, fmt.Sprintf("%v %v", n, r))
		}
		sort.Strings(parts)
		if len(parts) > 0 {
			msg += fmt.Sprintf(" %v.", strings.Join(parts, ", "))
		}
	}
	if f.postFilterMsg != "" {
		msg += " " + f.postFilterMsg
	}
	return msg
}

// preemptionMessage is the default preemption plugin's PostFilter message
// when it finds nothing to preempt (DefaultPreemption.PostFilter prefixes
// "preemption: " to the Evaluator's status). Only nodes rejected as
// Unschedulable (not ...AndUnresolvable) are candidates; on each, the pods
// of lower priority than the pod are the possible victims (upstream
// SelectVictimsOnNode): with none, the node reports "No preemption
// victims found for incoming pod"; otherwise the filters run again
// without them and report why the pod still does not fit. The other nodes
// are "not helpful".
//
// terminus does not preempt: where removing lower-priority pods would make
// room, upstream would evict them; this scheduler reports no victims
// instead. Every pod has priority 0 unless spec.priority is set, so this
// only matters in clusters that set priorities.
func preemptionMessage(p *podToSchedule, nodes map[string]*nodeInfo, f *fitError) string {
	if p.pod.Spec.PreemptionPolicy != nil && *p.pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return "preemption: " + reasonPreemptNever
	}
	inner := &fitError{
		numAllNodes: f.numAllNodes,
		statuses:    map[string]*status{},
		absent:      &status{reasons: []string{reasonPreemptionNotHelpful}},
	}
	if f.preFilterMsg == "" {
		priority := podPriority(p.pod)
		for name, s := range f.statuses {
			if !s.resolvable {
				continue
			}
			ni := nodes[name]
			without := &nodeInfo{node: ni.node}
			for _, u := range ni.pods {
				if u.priority >= priority {
					without.addPod(u)
				}
			}
			verdict := &status{reasons: []string{reasonNoVictims}}
			if len(without.pods) < len(ni.pods) {
				if s := filter(p, without); s != nil {
					verdict = s
				}
			}
			inner.statuses[name] = verdict
		}
	}
	return "preemption: " + inner.Error()
}

// scheduleResult is the outcome of one attempt: a node, or a fit error.
type scheduleResult struct {
	node string
	err  *fitError
}

// schedule picks a node for p among nodes (upstream schedulePod:
// PreFilter, Filter, Score, selectHost). With no fitting node it returns
// the fit error with the preemption message. nodes must be non-empty.
func schedule(p *podToSchedule, nodes []*nodeInfo) scheduleResult {
	f := &fitError{numAllNodes: len(nodes), statuses: map[string]*status{}}
	candidates := nodes
	names, all := affinityNodeNames(p.pod)
	if !all {
		if len(names) == 0 {
			f.preFilterMsg = reasonAffinityConflict
			f.postFilterMsg = preemptionMessage(p, nil, f)
			return scheduleResult{err: f}
		}
		candidates = nil
		for _, ni := range nodes {
			if names.Has(ni.node.Name) {
				candidates = append(candidates, ni)
			}
		}
		f.absent = &status{reasons: []string{fmt.Sprintf("node(s) didn't satisfy plugin(s) %v", sets.List(sets.New("NodeAffinity")))}}
	}
	byName := make(map[string]*nodeInfo, len(nodes))
	for _, ni := range nodes {
		byName[ni.node.Name] = ni
	}
	var feasible []*nodeInfo
	for _, ni := range candidates {
		if s := filter(p, ni); s != nil {
			f.statuses[ni.node.Name] = s
			continue
		}
		feasible = append(feasible, ni)
	}
	if len(feasible) == 0 {
		f.postFilterMsg = preemptionMessage(p, byName, f)
		return scheduleResult{err: f}
	}
	best, bestScore := feasible[0], int64(-1)
	for _, ni := range feasible {
		s := leastAllocatedScore(p, ni)
		if s > bestScore || (s == bestScore && ni.node.Name < best.node.Name) {
			best, bestScore = ni, s
		}
	}
	return scheduleResult{node: best.node.Name}
}

// leastAllocatedScore is NodeResourcesFit's default scoring strategy,
// LeastAllocated over cpu and memory with weight 1 each (upstream
// noderesources leastResourceScorer): the mean over both of the share of
// allocatable left free once the pod is placed, from 0 to 100, counting
// the scoring defaults for pods without requests. Ties go to the first
// node by name (upstream picks one at random).
func leastAllocatedScore(p *podToSchedule, ni *nodeInfo) int64 {
	alloc, _ := allocatable(ni.node)
	score := func(requested, capacity int64) int64 {
		if capacity == 0 || requested > capacity {
			return 0
		}
		return (capacity - requested) * 100 / capacity
	}
	return (score(ni.nonZero.milliCPU+p.nonZero.milliCPU, alloc.milliCPU) +
		score(ni.nonZero.memory+p.nonZero.memory, alloc.memory)) / 2
}

// noteLengthLimit is the API's limit on an event's message (upstream
// pkg/apis/core/validation NoteLengthLimit).
const noteLengthLimit = 1024

// truncateMessage is upstream's truncation of an event note to the
// validation limit.
func truncateMessage(message string) string {
	const limit = noteLengthLimit
	if len(message) <= limit {
		return message
	}
	const suffix = " ..."
	return message[:limit-len(suffix)] + suffix
}
