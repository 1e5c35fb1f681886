// Package endpointutil holds what the EndpointSlice controller and the
// legacy Endpoints controller share (upstream
// pkg/controller/util/endpoint and k8s.io/endpointslice/util): which pods
// are endpoints at all (spec G10), how a service port resolves against a
// pod's named container ports, which pod changes matter, which services
// select a pod, and the endpoints.kubernetes.io/last-change-trigger-time
// bookkeeping.
package endpointutil

import (
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// ShouldPodBeInEndpoints reports whether pod is an endpoint at all (spec
// G10, upstream ShouldPodBeInEndpoints): terminal pods and pods without an
// IP never are; terminating pods are only if includeTerminating
// (EndpointSlices always keep them, with terminating: true; legacy
// Endpoints only with publishNotReadyAddresses).
func ShouldPodBeInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if podcontrol.IsPodTerminal(pod) {
		return false
	}
	if len(PodIPs(pod)) == 0 {
		return false
	}
	if !includeTerminating && pod.DeletionTimestamp != nil {
		return false
	}
	return true
}

// PodIPs returns the pod's IPs: status.podIPs, or status.podIP when only
// that is set (a writer that sets only the singular field).
func PodIPs(pod *corev1.Pod) []string {
	if len(pod.Status.PodIPs) > 0 {
		out := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			if ip.IP != "" {
				out = append(out, ip.IP)
			}
		}
		return out
	}
	if pod.Status.PodIP != "" {
		return []string{pod.Status.PodIP}
	}
	return nil
}

// FindPort resolves a service port's targetPort against pod (upstream
// podutil.FindPort): a name is looked up among the containers' ports of
// the same protocol; a number is taken as is, and an unset one is the
// service port (the API defaults targetPort to port).
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	target := sp.TargetPort
	switch target.Type {
	case intstr.String:
		name := target.StrVal
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				pp := p.Protocol
				if pp == "" {
					pp = corev1.ProtocolTCP
				}
				if p.Name == name && pp == proto {
					return p.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("no container port named %q (%s) in pod %s/%s", name, proto, pod.Namespace, pod.Name)
	default:
		if target.IntVal == 0 {
			return sp.Port, nil
		}
		return target.IntVal, nil
	}
}

// PodChanged reports whether an update of a pod changes its endpoints
// (upstream podEndpointsChanged): labelsChanged when the service
// membership may have changed (labels, hostname, subdomain), changed when
// the endpoint itself did (terminating, ready, IPs, node, terminal).
// Unlike upstream, a pod turning terminal counts on its own, so that G10
// drops it even if its Ready condition was not updated with the phase.
func PodChanged(old, cur *corev1.Pod) (labelsChanged, changed bool) {
	labelsChanged = !maps.Equal(old.Labels, cur.Labels) ||
		old.Spec.Hostname != cur.Spec.Hostname || old.Spec.Subdomain != cur.Spec.Subdomain
	switch {
	case (old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil),
		podcontrol.IsPodReady(old) != podcontrol.IsPodReady(cur),
		podcontrol.IsPodTerminal(old) != podcontrol.IsPodTerminal(cur),
		old.Spec.NodeName != cur.Spec.NodeName:
		return labelsChanged, true
	}
	oldIPs, curIPs := PodIPs(old), PodIPs(cur)
	if len(oldIPs) != len(curIPs) {
		return labelsChanged, true
	}
	for i := range oldIPs {
		if oldIPs[i] != curIPs[i] {
			return labelsChanged, true
		}
	}
	return labelsChanged, false
}

// HasSelector reports whether the controllers manage svc's endpoints: a
// service with a selector that is not ExternalName (upstream: an
// ExternalName service gets no endpoints, issue 105986).
func HasSelector(svc *corev1.Service) bool {
	return len(svc.Spec.Selector) > 0 && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// ServicesSelecting returns the keys (namespace/name) of the services in
// pod's namespace whose selector matches pod's labels (upstream
// GetPodServiceMemberships).
func ServicesSelecting(lister corelisters.ServiceLister, pod *corev1.Pod) ([]string, error) {
	svcs, err := lister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	var keys []string
	for _, svc := range svcs {
		if !HasSelector(svc) {
			continue
		}
		if labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			keys = append(keys, svc.Namespace+"/"+svc.Name)
		}
	}
	return keys, nil
}

// ServicesToUpdate returns the keys of the services an update of a pod
// concerns (upstream GetServicesToUpdateOnPodChange): none if nothing
// relevant changed, those selecting the new pod if the endpoint changed,
// and those selecting either version if the labels changed.
func ServicesToUpdate(lister corelisters.ServiceLister, old, cur *corev1.Pod) ([]string, error) {
	if old.ResourceVersion == cur.ResourceVersion {
		// A resync: nothing changed.
		return nil, nil
	}
	labelsChanged, changed := PodChanged(old, cur)
	if !labelsChanged && !changed {
		return nil, nil
	}
	keys, err := ServicesSelecting(lister, cur)
	if err != nil || !labelsChanged {
		return keys, err
	}
	oldKeys, err := ServicesSelecting(lister, old)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range append(keys, oldKeys...) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// TriggerTimeTracker computes the endpoints.kubernetes.io/last-change-
// trigger-time annotation (upstream TriggerTimeTracker): the earliest of
// the trigger times (a pod's Ready transition, the service's creation)
// that changed since the service's last sync, or its creation on the
// first sync. Safe for concurrent use; one service is synced by one
// worker at a time.
type TriggerTimeTracker struct {
	mu     sync.Mutex
	states map[string]triggerState
}

type triggerState struct {
	pods    map[string]time.Time
	service time.Time
}

// NewTriggerTimeTracker returns an empty tracker.
func NewTriggerTimeTracker() *TriggerTimeTracker {
	return &TriggerTimeTracker{states: map[string]triggerState{}}
}

// Compute records the trigger times of svc and its pods and returns the
// annotation's time; zero means no annotation.
func (t *TriggerTimeTracker) Compute(svc *corev1.Service, pods []*corev1.Pod) time.Time {
	key := svc.Namespace + "/" + svc.Name
	t.mu.Lock()
	state, known := t.states[key]
	t.mu.Unlock()
	var earliest time.Time
	consider := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	next := triggerState{pods: map[string]time.Time{}, service: svc.CreationTimestamp.Time}
	for _, p := range pods {
		cond := podcontrol.PodReadyCondition(p)
		if cond == nil || cond.LastTransitionTime.IsZero() {
			continue
		}
		at := cond.LastTransitionTime.Time
		next.pods[p.Name] = at
		if at.After(state.pods[p.Name]) {
			consider(at)
		}
	}
	if next.service.After(state.service) {
		consider(next.service)
	}
	t.mu.Lock()
	t.states[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// Forget drops a deleted service's state.
func (t *TriggerTimeTracker) Forget(namespace, name string) {
	t.mu.Lock()
	delete(t.states, namespace+"/"+name)
	t.mu.Unlock()
}

// SetTriggerTime sets or, for a zero time, removes the annotation in
// annotations, which it allocates if needed.
func SetTriggerTime(annotations map[string]string, at time.Time) map[string]string {
	if at.IsZero() {
		delete(annotations, corev1.EndpointsLastChangeTriggerTime)
		return annotations
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[corev1.EndpointsLastChangeTriggerTime] = at.UTC().Format(time.RFC3339Nano)
	return annotations
}
