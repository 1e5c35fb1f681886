package scheduler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults the scheduler assumes, for scoring only, for a container that
// requests no cpu or memory (upstream pkg/scheduler/util
// DefaultMilliCPURequest and DefaultMemoryRequest), so that such pods do
// not all pile onto one node.
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// resources is a pod's or a node's amount of what NodeResourcesFit checks
// (upstream framework.Resource): cpu in millicores, memory and
// ephemeral-storage in bytes, and the scalar resources (extended,
// hugepages, attachable volumes) by name.
type resources struct {
	milliCPU         int64
	memory           int64
	ephemeralStorage int64
	scalar           map[corev1.ResourceName]int64
}

// add adds a resource list, keeping only the names the scheduler counts.
func (r *resources) add(rl corev1.ResourceList) {
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.milliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.ephemeralStorage += q.Value()
		default:
			if isScalarResourceName(name) {
				if r.scalar == nil {
					r.scalar = map[corev1.ResourceName]int64{}
				}
				r.scalar[name] += q.Value()
			}
		}
	}
}

// plus returns r + o.
func (r resources) plus(o resources) resources {
	out := resources{
		milliCPU:         r.milliCPU + o.milliCPU,
		memory:           r.memory + o.memory,
		ephemeralStorage: r.ephemeralStorage + o.ephemeralStorage,
	}
	for _, m := range []map[corev1.ResourceName]int64{r.scalar, o.scalar} {
		for k, v := range m {
			if out.scalar == nil {
				out.scalar = map[corev1.ResourceName]int64{}
			}
			out.scalar[k] += v
		}
	}
	return out
}

func (r resources) isZero() bool {
	if r.milliCPU != 0 || r.memory != 0 || r.ephemeralStorage != 0 {
		return false
	}
	for _, v := range r.scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// isScalarResourceName is upstream v1helper.IsScalarResourceName: the
// resources NodeResourcesFit counts by name besides cpu, memory and
// ephemeral-storage.
func isScalarResourceName(name corev1.ResourceName) bool {
	s := string(name)
	return isExtendedResourceName(name) ||
		strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) ||
		strings.Contains(s, corev1.ResourceDefaultNamespacePrefix) ||
		strings.HasPrefix(s, "attachable-volumes-")
}

// isExtendedResourceName is upstream v1helper.IsExtendedResourceName: a
// domain-qualified name outside kubernetes.io that is not a quota
// "requests." name.
func isExtendedResourceName(name corev1.ResourceName) bool {
	s := string(name)
	if !strings.Contains(s, "/") || strings.Contains(s, corev1.ResourceDefaultNamespacePrefix) ||
		strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+s)) == 0
}

// podRequests is upstream component-helpers resource.PodRequests with the
// options kube-scheduler passes for a pod's own request: the larger of the
// containers' sum (sidecars included) and each init container's need
// (its request plus the sidecars started before it), pod-level requests
// (PodLevelResources, beta and on since 1.34) for the resources they name,
// plus the pod overhead. nonMissing, if set, replaces a container's
// missing cpu or memory request (the scheduler's scoring defaults).
//
// In-place resize is not followed (the requests of the spec are used, not
// those allocated in the status): terminus' agent does not resize pods.
func podRequests(pod *corev1.Pod, nonMissing corev1.ResourceList) corev1.ResourceList {
	reqs := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		addList(reqs, withNonMissing(pod.Spec.Containers[i].Resources.Requests, nonMissing))
	}
	sidecars := corev1.ResourceList{}
	initNeed := corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := withNonMissing(c.Resources.Requests, nonMissing)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// A sidecar runs next to the containers and to the init
			// containers after it.
			addList(reqs, r)
			addList(sidecars, r)
			r = sidecars
		} else {
			combined := corev1.ResourceList{}
			addList(combined, r)
			addList(combined, sidecars)
			r = combined
		}
		maxList(initNeed, r)
	}
	maxList(reqs, initNeed)
	if pod.Spec.Resources != nil {
		for name, q := range pod.Spec.Resources.Requests {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory ||
				strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
				reqs[name] = q.DeepCopy()
			}
		}
	}
	addList(reqs, pod.Spec.Overhead)
	return reqs
}

// podResources returns what pod requests (for fitting) and its requests
// with the scoring defaults for missing cpu and memory (for scoring), as
// upstream's PodInfo.calculateResource.
func podResources(pod *corev1.Pod) (requested, nonZero resources) {
	requested.add(podRequests(pod, nil))
	nz := podRequests(pod, corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(defaultMemoryRequest, resource.BinarySI),
	})
	nonZero.milliCPU = nz.Cpu().MilliValue()
	nonZero.memory = nz.Memory().Value()
	return requested, nonZero
}

func withNonMissing(rl, nonMissing corev1.ResourceList) corev1.ResourceList {
	if len(nonMissing) == 0 {
		return rl
	}
	out := corev1.ResourceList{}
	for k, v := range rl {
		out[k] = v.DeepCopy()
	}
	for k, v := range nonMissing {
		if _, ok := rl[k]; !ok {
			out[k] = v.DeepCopy()
		}
	}
	return out
}

func addList(dst, src corev1.ResourceList) {
	for k, v := range src {
		if cur, ok := dst[k]; ok {
			cur.Add(v)
			dst[k] = cur
		} else {
			dst[k] = v.DeepCopy()
		}
	}
}

func maxList(dst, src corev1.ResourceList) {
	for k, v := range src {
		if cur, ok := dst[k]; !ok || v.Cmp(cur) > 0 {
			dst[k] = v.DeepCopy()
		}
	}
}
