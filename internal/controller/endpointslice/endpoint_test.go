package endpointslice

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/controller/endpointutil"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

// mkPod is a running, ready pod of app=a on node n1 with IP ip.
func mkPod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), ResourceVersion: "1",
			Labels: map[string]string{"app": "a"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
		}}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}},
		},
	}
	if ip == "" {
		p.Status.PodIPs = nil
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func terminating(p *corev1.Pod) {
	p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(30 * time.Second)))
}

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func ips(v ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.PodIP, p.Status.PodIPs = v[0], nil
		for _, ip := range v {
			p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
		}
	}
}

type svcOpt func(*corev1.Service)

// mkSvc selects app=a, port 80 → targetPort "http".
func mkSvc(opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-web", ResourceVersion: "1",
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "a"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func publishNotReady(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }

func conds(ready, serving, term bool) discoveryv1.EndpointConditions {
	return discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &term}
}

func TestPodToEndpoint(t *testing.T) {
	zoned := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		svc  *corev1.Service
		want discoveryv1.EndpointConditions
	}{
		{"ready pod: ready, serving", mkPod("p", "10.0.0.1"), mkSvc(), conds(true, true, false)},
		{"not-ready pod: neither", mkPod("p", "10.0.0.1", notReady), mkSvc(), conds(false, false, false)},
		{"G10 terminating ready pod: not ready, serving, terminating", mkPod("p", "10.0.0.1", terminating), mkSvc(), conds(false, true, true)},
		{"G10 terminating not-ready pod: serving follows Ready", mkPod("p", "10.0.0.1", terminating, notReady), mkSvc(), conds(false, false, true)},
		{"G10 terminating pod with publishNotReadyAddresses: ready", mkPod("p", "10.0.0.1", terminating, notReady), mkSvc(publishNotReady), conds(true, false, true)},
		{"publishNotReadyAddresses: a not-ready pod is ready", mkPod("p", "10.0.0.1", notReady), mkSvc(publishNotReady), conds(true, false, false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := podToEndpoint(tt.pod, zoned, tt.svc, discoveryv1.AddressTypeIPv4)
			want := discoveryv1.Endpoint{
				Addresses:  []string{"10.0.0.1"},
				Conditions: tt.want,
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p", UID: "uid-p"},
				NodeName:   ptr.To("n1"),
				Zone:       ptr.To("z1"),
			}
			if diff := cmp.Diff(want, ep); diff != "" {
				t.Errorf("endpoint (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShouldPodBeInEndpoints(t *testing.T) {
	tests := []struct {
		name                 string
		pod                  *corev1.Pod
		slices, legacy, pnra bool
	}{
		{"running pod with an IP", mkPod("p", "10.0.0.1"), true, true, true},
		{"G10 a pod without an IP is dropped", mkPod("p", ""), false, false, false},
		{"G10 a Succeeded pod is dropped", mkPod("p", "10.0.0.1", phase(corev1.PodSucceeded)), false, false, false},
		{"G10 a Failed terminating pod is dropped", mkPod("p", "10.0.0.1", phase(corev1.PodFailed), terminating), false, false, false},
		{"G10 a terminating pod stays in slices, leaves legacy Endpoints unless publishNotReadyAddresses",
			mkPod("p", "10.0.0.1", terminating), true, false, true},
		{"only status.podIP set", func() *corev1.Pod { p := mkPod("p", "10.0.0.1"); p.Status.PodIPs = nil; return p }(), true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endpointutil.ShouldPodBeInEndpoints(tt.pod, true); got != tt.slices {
				t.Errorf("EndpointSlices: %v, want %v", got, tt.slices)
			}
			if got := endpointutil.ShouldPodBeInEndpoints(tt.pod, false); got != tt.legacy {
				t.Errorf("Endpoints: %v, want %v", got, tt.legacy)
			}
			if got := endpointutil.ShouldPodBeInEndpoints(tt.pod, true); got != tt.pnra {
				t.Errorf("Endpoints with publishNotReadyAddresses: %v, want %v", got, tt.pnra)
			}
		})
	}
}

func TestEndpointPorts(t *testing.T) {
	port := func(name string, proto corev1.Protocol, n int32) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: ptr.To(name), Protocol: ptr.To(proto), Port: ptr.To(n)}
	}
	tests := []struct {
		name  string
		ports []corev1.ServicePort
		want  []discoveryv1.EndpointPort
	}{
		{"named targetPort resolves to the container port",
			[]corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
			[]discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 8080)}},
		{"a named port must match the protocol",
			[]corev1.ServicePort{{Name: "dns", Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolTCP}},
			[]discoveryv1.EndpointPort{port("dns", corev1.ProtocolUDP, 5353)}},
		{"numeric targetPort is taken as is",
			[]corev1.ServicePort{{Name: "a", Port: 80, TargetPort: intstr.FromInt32(9090), Protocol: corev1.ProtocolTCP}},
			[]discoveryv1.EndpointPort{port("a", corev1.ProtocolTCP, 9090)}},
		{"unset targetPort is the port",
			[]corev1.ServicePort{{Port: 80}},
			[]discoveryv1.EndpointPort{port("", corev1.ProtocolTCP, 80)}},
		{"a name the pod lacks leaves the port out",
			[]corev1.ServicePort{{Name: "m", Port: 9, TargetPort: intstr.FromString("metrics")}},
			[]discoveryv1.EndpointPort{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := mkSvc(func(s *corev1.Service) { s.Spec.Ports = tt.ports })
			if diff := cmp.Diff(tt.want, endpointPorts(svc, mkPod("p", "10.0.0.1"))); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddressTypes(t *testing.T) {
	v4, v6 := discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6
	tests := []struct {
		name string
		opt  svcOpt
		want []discoveryv1.AddressType
	}{
		{"ipFamilies", func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
		}, []discoveryv1.AddressType{v6, v4}},
		{"clusterIP family", func(s *corev1.Service) { s.Spec.ClusterIP = "fd00::1" }, []discoveryv1.AddressType{v6}},
		{"neither: IPv4", func(s *corev1.Service) {}, []discoveryv1.AddressType{v4}},
		{"headless without families: IPv4", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }, []discoveryv1.AddressType{v4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, addressTypes(mkSvc(tt.opt))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// testPlanner finds node n1 (zone z1) only.
func testPlanner(max int) *planner {
	return &planner{maxPerSlice: max, nodes: func(name string) (*corev1.Node, error) {
		if name == "n1" {
			return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}}, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, name)
	}}
}

func podsN(n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, mkPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)))
	}
	return out
}

// named gives planned creates names, as the API would.
func named(ss []*discoveryv1.EndpointSlice, prefix string) []*discoveryv1.EndpointSlice {
	for i, s := range ss {
		s.Name, s.UID = fmt.Sprintf("%s%d", prefix, i), types.UID(fmt.Sprintf("uid-%s%d", prefix, i))
	}
	return ss
}

func sizes(ss []*discoveryv1.EndpointSlice) []int {
	out := []int{}
	for _, s := range ss {
		out = append(out, len(s.Endpoints))
	}
	return out
}

func TestPlanPacking(t *testing.T) {
	svc := mkSvc()
	p := testPlanner(100)

	t.Run("250 pods make slices of 100, 100 and 50", func(t *testing.T) {
		pl, err := p.plan(svc, podsN(250), nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{100, 100, 50}, sizes(pl.create)); diff != "" || len(pl.update)+len(pl.delete) != 0 {
			t.Errorf("creates (-want +got):\n%s; updates %d deletes %d", diff, len(pl.update), len(pl.delete))
		}
		s := pl.create[0]
		if s.GenerateName != "web-" || s.AddressType != discoveryv1.AddressTypeIPv4 ||
			s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != ControllerName {
			t.Errorf("slice meta: %+v", s.ObjectMeta)
		}
		wantRef := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: "uid-web", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		if diff := cmp.Diff(wantRef, s.OwnerReferences); diff != "" {
			t.Errorf("ownerReferences (-want +got):\n%s", diff)
		}
	})

	t.Run("unchanged slices are not written; a new pod fills a slice with room", func(t *testing.T) {
		pods := podsN(150)
		pl, _ := p.plan(svc, pods, nil)
		existing := named(pl.create, "web-")
		pl, err := p.plan(svc, pods, existing)
		if err != nil || len(pl.create)+len(pl.update)+len(pl.delete) != 0 {
			t.Fatalf("second plan: %d creates %d updates %d deletes, err %v", len(pl.create), len(pl.update), len(pl.delete), err)
		}
		pl, _ = p.plan(svc, podsN(151), existing)
		if len(pl.create) != 0 || len(pl.update) != 1 || len(pl.update[0].Endpoints) != 51 {
			t.Errorf("one more pod: creates %v updates %v", sizes(pl.create), sizes(pl.update))
		}
	})

	t.Run("G10 a terminating pod's endpoint is updated in place", func(t *testing.T) {
		pods := podsN(3)
		pl, _ := p.plan(svc, pods, nil)
		existing := named(pl.create, "web-")
		terminating(pods[1])
		pl, err := p.plan(svc, pods, existing)
		if err != nil || len(pl.update) != 1 || len(pl.create)+len(pl.delete) != 0 {
			t.Fatalf("plan: creates %d updates %d deletes %d err %v", len(pl.create), len(pl.update), len(pl.delete), err)
		}
		if got := pl.update[0].Endpoints[1]; got.TargetRef.Name != "p001" || !cmp.Equal(got.Conditions, conds(false, true, true)) {
			t.Errorf("endpoint %s conditions %+v", got.TargetRef.Name, got.Conditions)
		}
		// G10: terminal → gone.
		pods[1].Status.Phase = corev1.PodSucceeded
		pl, _ = p.plan(svc, pods, named(pl.update, "web-"))
		if len(pl.update) != 1 || len(pl.update[0].Endpoints) != 2 {
			t.Errorf("after the pod turned terminal: updates %v", sizes(pl.update))
		}
	})

	t.Run("no pods: one placeholder, kept", func(t *testing.T) {
		pl, _ := p.plan(svc, nil, nil)
		if len(pl.create) != 1 || len(pl.create[0].Endpoints) != 0 || len(pl.create[0].Ports) != 0 {
			t.Fatalf("creates %+v", pl.create)
		}
		pl, _ = p.plan(svc, nil, named(pl.create, "web-"))
		if len(pl.create)+len(pl.update)+len(pl.delete) != 0 {
			t.Errorf("placeholder rewritten: %+v", pl)
		}
	})

	t.Run("the last pod going turns its slice into the placeholder", func(t *testing.T) {
		pl, _ := p.plan(svc, podsN(1), nil)
		pl, _ = p.plan(svc, nil, named(pl.create, "web-"))
		if len(pl.create)+len(pl.delete) != 0 || len(pl.update) != 1 || pl.update[0].Name != "web-0" || len(pl.update[0].Ports) != 0 {
			t.Errorf("plan %+v", pl)
		}
	})

	t.Run("one slice set per port mapping", func(t *testing.T) {
		other := mkPod("other", "10.1.0.1", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9000 })
		pl, _ := p.plan(svc, append(podsN(2), other), nil)
		if diff := cmp.Diff([]int{2, 1}, sizes(pl.create)); diff != "" {
			t.Errorf("creates (-want +got):\n%s", diff)
		}
	})

	t.Run("slices of an earlier service of the same name go", func(t *testing.T) {
		pl, _ := p.plan(svc, podsN(1), nil)
		old := named(pl.create, "web-")
		newer := svc.DeepCopy()
		newer.UID = "uid-web-2"
		pl, _ = p.plan(newer, podsN(1), old)
		if len(pl.create) != 1 || len(pl.delete) != 1 || len(pl.update) != 0 {
			t.Errorf("creates %d updates %d deletes %d", len(pl.create), len(pl.update), len(pl.delete))
		}
	})

	t.Run("a pod on a missing node is left out, with an error", func(t *testing.T) {
		lost := mkPod("lost", "10.9.0.1", func(p *corev1.Pod) { p.Spec.NodeName = "gone" })
		pl, err := p.plan(svc, append(podsN(1), lost), nil)
		if err == nil || len(pl.create) != 1 || len(pl.create[0].Endpoints) != 1 {
			t.Errorf("err %v creates %v", err, sizes(pl.create))
		}
		// With publishNotReadyAddresses the pod is published anyway.
		pl, err = p.plan(mkSvc(publishNotReady), append(podsN(1), lost), nil)
		if err != nil || len(pl.create) != 1 || len(pl.create[0].Endpoints) != 2 {
			t.Errorf("publishNotReadyAddresses: err %v creates %v", err, sizes(pl.create))
		}
	})

	t.Run("dual-stack pods in a dual-stack service", func(t *testing.T) {
		dual := mkSvc(func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		})
		pl, _ := p.plan(dual, []*corev1.Pod{mkPod("p", "", ips("10.0.0.1", "fd00::1"))}, nil)
		if len(pl.create) != 2 || pl.create[0].AddressType != discoveryv1.AddressTypeIPv4 || pl.create[1].Endpoints[0].Addresses[0] != "fd00::1" {
			t.Errorf("creates %+v", pl.create)
		}
	})
}
