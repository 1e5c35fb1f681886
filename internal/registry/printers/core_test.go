package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestNamespaceCells(t *testing.T) {
	deleting := objMeta("gone")
	deleting.DeletionTimestamp = agoPtr(time.Second)
	runRowCases(t, core("namespaces"), []rowCase{
		{"active", &corev1.Namespace{ObjectMeta: objMeta("default"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			[]interface{}{"default", "Active", "10m"}},
		// Spec A12: namespaces show their phase.
		{"terminating", &corev1.Namespace{ObjectMeta: deleting, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			[]interface{}{"gone", "Terminating", "10m"}},
		{"zero creation timestamp", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, []interface{}{"x", "", "<unknown>"}},
	})
}

func TestConfigMapSecretServiceAccountCells(t *testing.T) {
	runRowCases(t, core("configmaps"), []rowCase{
		{"data and binaryData", &corev1.ConfigMap{ObjectMeta: objMeta("cm"), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {1}}},
			[]interface{}{"cm", int64(3), "10m"}},
		{"empty", &corev1.ConfigMap{ObjectMeta: objMeta("cm")}, []interface{}{"cm", int64(0), "10m"}},
	})
	runRowCases(t, core("secrets"), []rowCase{
		{"opaque", &corev1.Secret{ObjectMeta: objMeta("s"), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"u": nil, "p": nil}},
			[]interface{}{"s", "Opaque", int64(2), "10m"}},
		{"tls with stringData", &corev1.Secret{ObjectMeta: objMeta("tls"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": nil}, StringData: map[string]string{"tls.crt": "x", "tls.key": "y"}},
			[]interface{}{"tls", "kubernetes.io/tls", int64(2), "10m"}},
	})
	runRowCases(t, core("serviceaccounts"), []rowCase{
		{"default", &corev1.ServiceAccount{ObjectMeta: objMeta("default")}, []interface{}{"default", "10m"}},
	})
}

func TestServiceCells(t *testing.T) {
	svc := func(typ corev1.ServiceType, f func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: objMeta("web"), Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			Ports:    []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
			Selector: map[string]string{"app": "web"},
		}}
		if f != nil {
			f(s)
		}
		return s
	}
	runRowCases(t, core("services"), []rowCase{
		{"cluster ip", svc(corev1.ServiceTypeClusterIP, nil), []interface{}{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "10m", "app=web"}},
		{"cluster ip with external IPs", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"1.1.1.1", "2.2.2.2"} }),
			[]interface{}{"web", "ClusterIP", "10.96.0.10", "1.1.1.1,2.2.2.2", "80/TCP", "10m", "app=web"}},
		{"node port, two ports", svc(corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}}
		}), []interface{}{"web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "10m", "app=web"}},
		{"load balancer pending", svc(corev1.ServiceTypeLoadBalancer, nil), []interface{}{"web", "LoadBalancer", "10.96.0.10", "<pending>", "80/TCP", "10m", "app=web"}},
		{"load balancer with ingress and external IPs (not clipped)", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.20"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.10"}}
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
		}), []interface{}{"web", "LoadBalancer", "10.96.0.10", "203.0.113.10,203.0.113.20,lb.example.com,198.51.100.1", "80/TCP", "10m", "app=web"}},
		{"external name", svc(corev1.ServiceTypeExternalName, func(s *corev1.Service) {
			s.Spec.ExternalName = "db.example.com"
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports, s.Spec.Selector = "", nil, nil, nil
		}), []interface{}{"web", "ExternalName", "<none>", "db.example.com", "<none>", "10m", "<none>"}},
		{"headless", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"} }),
			[]interface{}{"web", "ClusterIP", "None", "<none>", "80/TCP", "10m", "app=web"}},
		{"no type", svc("", nil), []interface{}{"web", "", "10.96.0.10", "<unknown>", "80/TCP", "10m", "app=web"}},
	})
}

func TestEndpointsCells(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	runRowCases(t, core("endpoints"), []rowCase{
		{"none", &corev1.Endpoints{ObjectMeta: objMeta("web")}, []interface{}{"web", "<none>", "10m"}},
		{"two addresses", &corev1.Endpoints{ObjectMeta: objMeta("web"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 8080}},
		}}}, []interface{}{"web", "10.0.0.1:8080,10.0.0.2:8080", "10m"}},
		{"more than three", &corev1.Endpoints{ObjectMeta: objMeta("web"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}},
		}}}, []interface{}{"web", "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 5 more...", "10m"}},
		{"headless without ports, ipv6", &corev1.Endpoints{ObjectMeta: objMeta("web"), Subsets: []corev1.EndpointSubset{
			{Addresses: addrs("fd00::1")},
			{Addresses: addrs("fd00::2"), Ports: []corev1.EndpointPort{{Port: 53}}},
		}}, []interface{}{"web", "fd00::1,[fd00::2]:53", "10m"}},
	})
}

func TestNodeCells(t *testing.T) {
	node := func(f func(*corev1.Node)) *corev1.Node {
		n := &corev1.Node{
			ObjectMeta: objMeta("node-1"),
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{
					{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
					{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
				},
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
				NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 13", KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.0"},
			},
		}
		n.Namespace = ""
		if f != nil {
			f(n)
		}
		return n
	}
	wide := []interface{}{"192.168.1.10", "<none>", "Debian GNU/Linux 13", "6.12.0", "containerd://2.1.0"}
	withWide := func(head ...interface{}) []interface{} { return append(head, wide...) }
	runRowCases(t, core("nodes"), []rowCase{
		{"ready", node(nil), withWide("node-1", "Ready", "<none>", "10m", "v1.37.2")},
		{"cordoned", node(func(n *corev1.Node) { n.Spec.Unschedulable = true }), withWide("node-1", "Ready,SchedulingDisabled", "<none>", "10m", "v1.37.2")},
		{"not ready", node(func(n *corev1.Node) { n.Status.Conditions[1].Status = corev1.ConditionUnknown }), withWide("node-1", "NotReady", "<none>", "10m", "v1.37.2")},
		{"no conditions", node(func(n *corev1.Node) { n.Status.Conditions = nil }), withWide("node-1", "Unknown", "<none>", "10m", "v1.37.2")},
		{"roles", node(func(n *corev1.Node) {
			n.Labels = map[string]string{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker", "node-role.kubernetes.io/": "x"}
		}), withWide("node-1", "Ready", "control-plane,worker", "10m", "v1.37.2")},
		{"external ip, unknown node info", node(func(n *corev1.Node) {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.7"})
			n.Status.NodeInfo = corev1.NodeSystemInfo{}
		}), []interface{}{"node-1", "Ready", "<none>", "10m", "", "192.168.1.10", "203.0.113.7", "<unknown>", "<unknown>", "<unknown>"}},
	})
}

func TestPersistentVolumeCells(t *testing.T) {
	pv := func(f func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
		p := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-1", CreationTimestamp: ago(10 * time.Minute)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data"},
				StorageClassName:              "standard",
				VolumeMode:                    ptr(corev1.PersistentVolumeFilesystem),
			},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		}
		if f != nil {
			f(p)
		}
		return p
	}
	runRowCases(t, core("persistentvolumes"), []rowCase{
		{"bound", pv(nil), []interface{}{"pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "standard", "<unset>", "", "10m", "Filesystem"}},
		// Spec A12: PVs show Terminating once deletionTimestamp is set.
		{"terminating", pv(func(p *corev1.PersistentVolume) { p.DeletionTimestamp = agoPtr(time.Second) }),
			[]interface{}{"pv-1", "10Gi", "RWO,RWX", "Retain", "Terminating", "default/data", "standard", "<unset>", "", "10m", "Filesystem"}},
		{"released, beta class annotation, no capacity", pv(func(p *corev1.PersistentVolume) {
			p.Annotations = map[string]string{"volume.beta.kubernetes.io/storage-class": "legacy"}
			p.Spec.Capacity = nil
			p.Spec.ClaimRef = nil
			p.Spec.VolumeMode = nil
			p.Spec.VolumeAttributesClassName = ptr("gold")
			p.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadOnlyMany}
			p.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumeFailed, Reason: "Recycle failed"}
		}), []interface{}{"pv-1", "0", "ROX,RWOP", "Retain", "Failed", "", "legacy", "gold", "Recycle failed", "10m", "<unset>"}},
	})
}

func TestPersistentVolumeClaimCells(t *testing.T) {
	pvc := func(f func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
		p := &corev1.PersistentVolumeClaim{
			ObjectMeta: objMeta("data"),
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				StorageClassName: ptr("standard"),
				VolumeName:       "pv-1",
				VolumeMode:       ptr(corev1.PersistentVolumeFilesystem),
			},
			Status: corev1.PersistentVolumeClaimStatus{
				Phase:       corev1.ClaimBound,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			},
		}
		if f != nil {
			f(p)
		}
		return p
	}
	runRowCases(t, core("persistentvolumeclaims"), []rowCase{
		{"bound", pvc(nil), []interface{}{"data", "Bound", "pv-1", "10Gi", "RWO", "standard", "<unset>", "10m", "Filesystem"}},
		{"pending: no capacity or modes until bound", pvc(func(p *corev1.PersistentVolumeClaim) {
			p.Spec.VolumeName = ""
			p.Spec.StorageClassName = nil
			p.Spec.VolumeMode = nil
			p.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
		}), []interface{}{"data", "Pending", "", "", "", "", "<unset>", "10m", "<unset>"}},
		// Spec A12: PVCs show Terminating once deletionTimestamp is set.
		{"terminating", pvc(func(p *corev1.PersistentVolumeClaim) { p.DeletionTimestamp = agoPtr(time.Second) }),
			[]interface{}{"data", "Terminating", "pv-1", "10Gi", "RWO", "standard", "<unset>", "10m", "Filesystem"}},
		{"beta annotation wins", pvc(func(p *corev1.PersistentVolumeClaim) {
			p.Annotations = map[string]string{"volume.beta.kubernetes.io/storage-class": "legacy"}
		}), []interface{}{"data", "Bound", "pv-1", "10Gi", "RWO", "legacy", "<unset>", "10m", "Filesystem"}},
	})
}

func TestPodTemplateAndReplicationControllerCells(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "fe"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "web", Image: "nginx:1.27"}, {Name: "sidecar", Image: "envoy:1.30"},
		}},
	}
	runRowCases(t, core("podtemplates"), []rowCase{
		{"two containers", &corev1.PodTemplate{ObjectMeta: objMeta("tpl"), Template: tmpl},
			[]interface{}{"tpl", "web,sidecar", "nginx:1.27,envoy:1.30", "app=web,tier=fe"}},
		{"empty", &corev1.PodTemplate{ObjectMeta: objMeta("tpl")}, []interface{}{"tpl", "", "", "<none>"}},
	})
	runRowCases(t, core("replicationcontrollers"), []rowCase{
		{"scaled", &corev1.ReplicationController{
			ObjectMeta: objMeta("rc"),
			Spec:       corev1.ReplicationControllerSpec{Replicas: ptr(int32(3)), Selector: map[string]string{"app": "web"}, Template: &tmpl},
			Status:     corev1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 2},
		}, []interface{}{"rc", int64(3), int64(3), int64(2), "10m", "web,sidecar", "nginx:1.27,envoy:1.30", "app=web"}},
		{"no template", &corev1.ReplicationController{ObjectMeta: objMeta("rc")},
			[]interface{}{"rc", int64(0), int64(0), int64(0), "10m", "", "", "<none>"}},
	})
}
