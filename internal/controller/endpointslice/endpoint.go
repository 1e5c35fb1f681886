package endpointslice

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/controller/endpointutil"
	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// podToEndpoint is the endpoint of pod for svc (upstream podToEndpoint,
// spec G10): serving is the pod's Ready condition, terminating is a set
// deletionTimestamp, and ready is serving and not terminating, or always
// with publishNotReadyAddresses. node, if not nil, gives the zone.
func podToEndpoint(pod *corev1.Pod, node *corev1.Node, svc *corev1.Service, addressType discoveryv1.AddressType) discoveryv1.Endpoint {
	serving := podcontrol.IsPodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	// G10: a terminating pod leaves the ready endpoints at once; clients
	// that want to drain to it use serving.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses: addressesOf(pod, addressType),
		Conditions: discoveryv1.EndpointConditions{
			Ready:       ptr.To(ready),
			Serving:     ptr.To(serving),
			Terminating: ptr.To(terminating),
		},
		TargetRef: &corev1.ObjectReference{
			Kind:      "Pod",
			Namespace: pod.Namespace,
			Name:      pod.Name,
			UID:       pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = ptr.To(pod.Spec.NodeName)
	}
	if node != nil {
		if zone := node.Labels[corev1.LabelTopologyZone]; zone != "" {
			ep.Zone = ptr.To(zone)
		}
	}
	if shouldSetHostname(pod, svc) {
		ep.Hostname = ptr.To(pod.Spec.Hostname)
	}
	return ep
}

// shouldSetHostname: a pod's hostname is published when it sits in the
// service's subdomain (upstream ShouldSetHostname), for headless DNS.
func shouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && svc.Namespace == pod.Namespace
}

// addressesOf returns the pod IPs of addressType's family.
func addressesOf(pod *corev1.Pod, addressType discoveryv1.AddressType) []string {
	var out []string
	for _, ip := range endpointutil.PodIPs(pod) {
		if familyOf(ip) == addressType {
			out = append(out, ip)
		}
	}
	return out
}

// familyOf returns the address type of an IP, or "" if it does not
// parse.
func familyOf(ip string) discoveryv1.AddressType {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ""
	case a.Is4() || a.Is4In6():
		return discoveryv1.AddressTypeIPv4
	default:
		return discoveryv1.AddressTypeIPv6
	}
}

// addressTypes returns the address types svc gets slices of (upstream
// getAddressTypesForService): its ipFamilies, else its clusterIP's family.
// Upstream's apiserver always sets one of them for a service with a
// selector; a service with neither (terminus allocates no cluster IPs
// yet) gets IPv4, what upstream defaults on a single-stack IPv4 cluster,
// rather than upstream's both-families fallback, which would add an
// IPv6 placeholder slice to every such service.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		t := discoveryv1.AddressTypeIPv4
		if f == corev1.IPv6Protocol {
			t = discoveryv1.AddressTypeIPv6
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > 0 {
		return out
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		if t := familyOf(ip); t != "" {
			return []discoveryv1.AddressType{t}
		}
	}
	return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4}
}

// endpointPorts resolves svc's ports against pod (upstream
// getEndpointPorts); a port whose named targetPort the pod lacks is left
// out, so pods of one service can land in different slice sets.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := endpointutil.FindPort(pod, sp)
		if err != nil {
			continue
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{
			Name:        ptr.To(sp.Name),
			Protocol:    ptr.To(proto),
			Port:        ptr.To(port),
			AppProtocol: sp.AppProtocol,
		})
	}
	return out
}

// portMapKey identifies a set of ports regardless of order (upstream
// NewPortMapKey): the slices of one key share their ports.
func portMapKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%s/%d/%s", ptr.Deref(p.Name, ""), ptr.Deref(p.Protocol, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.AppProtocol, ""))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// endpointKey identifies an endpoint across syncs (upstream hashEndpoint):
// its sorted addresses, hostname and target pod. Two endpoints of one key
// differ only in what endpointsEqual compares.
func endpointKey(ep *discoveryv1.Endpoint) string {
	addrs := slices.Clone(ep.Addresses)
	slices.Sort(addrs)
	var b strings.Builder
	b.WriteString(strings.Join(addrs, ","))
	b.WriteString("|")
	b.WriteString(ptr.Deref(ep.Hostname, ""))
	if ep.TargetRef != nil {
		b.WriteString("|" + ep.TargetRef.Namespace + "/" + ep.TargetRef.Name)
	}
	return b.String()
}

// endpointsEqual compares what endpointKey leaves out (upstream
// EndpointsEqualBeyondHash).
func endpointsEqual(a, b *discoveryv1.Endpoint) bool {
	return ptr.Equal(a.NodeName, b.NodeName) && ptr.Equal(a.Zone, b.Zone) &&
		ptr.Equal(a.Conditions.Ready, b.Conditions.Ready) &&
		ptr.Equal(a.Conditions.Serving, b.Conditions.Serving) &&
		ptr.Equal(a.Conditions.Terminating, b.Conditions.Terminating) &&
		apiequality.Semantic.DeepEqual(a.Hints, b.Hints) &&
		apiequality.Semantic.DeepEqual(a.TargetRef, b.TargetRef)
}
