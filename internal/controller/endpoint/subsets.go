package endpoint

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/controller/endpointutil"
	"github.com/terminus-project/terminus/internal/controller/podcontrol"
)

// subsetsFor computes the Endpoints subsets of svc's pods (upstream
// syncService's loop, addEndpointSubset and RepackSubsets): spec G10 drops
// terminal pods, pods without an IP and, unless publishNotReadyAddresses,
// terminating pods; a pod that is not ready is a notReadyAddress unless
// publishNotReadyAddresses. Addresses sharing a set of ports share a
// subset; the result is sorted, so that equal inputs compare equal.
func subsetsFor(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	publish := svc.Spec.PublishNotReadyAddresses
	type portKey = string
	// per address: port → ready.
	type addrState struct {
		addr  corev1.EndpointAddress
		ports map[portKey]bool
	}
	addrs := map[string]*addrState{}
	portsByKey := map[portKey]corev1.EndpointPort{}
	for _, pod := range pods {
		if !endpointutil.ShouldPodBeInEndpoints(pod, publish) {
			continue
		}
		ip, ok := podIPFor(svc, pod)
		if !ok {
			continue
		}
		epa := corev1.EndpointAddress{IP: ip, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}}
		if pod.Spec.NodeName != "" {
			epa.NodeName = &pod.Spec.NodeName
		}
		if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
			epa.Hostname = pod.Spec.Hostname
		}
		ready := publish || podcontrol.IsPodReady(pod)
		var ports []corev1.EndpointPort
		if len(svc.Spec.Ports) == 0 {
			// Only a headless service publishes addresses without ports.
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				continue
			}
			ports = []corev1.EndpointPort{{}}
		}
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
			ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: proto, AppProtocol: sp.AppProtocol})
		}
		key := ip + "|" + pod.Namespace + "/" + pod.Name
		st := addrs[key]
		if st == nil {
			st = &addrState{addr: epa, ports: map[portKey]bool{}}
			addrs[key] = st
		}
		for _, p := range ports {
			pk := fmt.Sprintf("%s/%s/%d/%v", p.Name, p.Protocol, p.Port, p.AppProtocol)
			portsByKey[pk] = p
			// Ready on a port wins (upstream RepackSubsets).
			st.ports[pk] = st.ports[pk] || ready
		}
	}
	// Group addresses by their (ready ports) and (not-ready ports) sets.
	type group struct {
		ports           []portKey
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	add := func(ports []portKey, a corev1.EndpointAddress, ready bool) {
		if len(ports) == 0 {
			return
		}
		slices.Sort(ports)
		k := strings.Join(ports, ",")
		g := groups[k]
		if g == nil {
			g = &group{ports: ports}
			groups[k] = g
		}
		if ready {
			g.ready = append(g.ready, a)
		} else {
			g.notReady = append(g.notReady, a)
		}
	}
	for _, st := range addrs {
		var ready, notReady []portKey
		for pk, r := range st.ports {
			if r {
				ready = append(ready, pk)
			} else {
				notReady = append(notReady, pk)
			}
		}
		add(ready, st.addr, true)
		add(notReady, st.addr, false)
	}
	var out []corev1.EndpointSubset
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		s := corev1.EndpointSubset{Addresses: sortAddrs(g.ready), NotReadyAddresses: sortAddrs(g.notReady)}
		for _, pk := range g.ports {
			if p := portsByKey[pk]; p != (corev1.EndpointPort{}) {
				s.Ports = append(s.Ports, p)
			}
		}
		out = append(out, s)
	}
	return out
}

func sortAddrs(a []corev1.EndpointAddress) []corev1.EndpointAddress {
	slices.SortFunc(a, func(x, y corev1.EndpointAddress) int {
		return cmp.Or(cmp.Compare(x.IP, y.IP), cmp.Compare(x.TargetRef.UID, y.TargetRef.UID))
	})
	return a
}

// podIPFor picks the pod IP of the service's family (upstream
// podToEndpointAddressForService): its first ipFamily, else its
// clusterIP's family, else (no cluster IP) the pod's first IP.
func podIPFor(svc *corev1.Service, pod *corev1.Pod) (string, bool) {
	ips := endpointutil.PodIPs(pod)
	if len(ips) == 0 {
		return "", false
	}
	var wantV6 bool
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		wantV6 = svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	case svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone:
		wantV6 = isV6(svc.Spec.ClusterIP)
	default:
		return ips[0], true
	}
	for _, ip := range ips {
		if isV6(ip) == wantV6 {
			return ip, true
		}
	}
	return "", false
}

func isV6(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Is6() && !a.Is4In6()
}
