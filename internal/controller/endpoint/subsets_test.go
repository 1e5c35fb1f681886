package endpoint

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The integration tests start servers and controllers; the binary fails
// if a test leaves a goroutine behind.
func TestMain(m *testing.M) { storagetest.Main(m) }

func mkPod(name, ip string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "a"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod)    { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(time.Unix(0, 0))) }
func succeeded(p *corev1.Pod)   { p.Status.Phase = corev1.PodSucceeded }
func noIP(p *corev1.Pod)        { p.Status.PodIP, p.Status.PodIPs = "", nil }

func TestSubsets(t *testing.T) {
	svc := func(publish bool) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "a"}, PublishNotReadyAddresses: publish,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}}}
	}
	pods := []*corev1.Pod{
		mkPod("ready", "10.0.0.1"),
		mkPod("unready", "10.0.0.2", notReady),
		mkPod("terminating", "10.0.0.3", terminating),
		mkPod("terminal", "10.0.0.4", succeeded),
		mkPod("noip", "", noIP),
	}
	addr := func(name, ip string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, NodeName: ptr.To("n1"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}}
	}
	port := []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}
	tests := []struct {
		name    string
		publish bool
		want    []corev1.EndpointSubset
	}{
		{"G10 terminating, terminal and IP-less pods are dropped; unready pods are notReadyAddresses", false,
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("ready", "10.0.0.1")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("unready", "10.0.0.2")}, Ports: port}}},
		{"G10 publishNotReadyAddresses keeps terminating pods, all ready", true,
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("ready", "10.0.0.1"), addr("unready", "10.0.0.2"), addr("terminating", "10.0.0.3")},
				Ports: port}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, subsetsFor(svc(tt.publish), pods)); diff != "" {
				t.Errorf("subsets (-want +got):\n%s", diff)
			}
		})
	}
}
