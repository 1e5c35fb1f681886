package defaults

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
)

// check applies defaults to a JSON-decoded object and compares selected
// fields through their JSON form, the way a client sees them.
func TestApply(t *testing.T) {
	cases := []struct {
		name string
		obj  runtime.Object
		in   string
		want map[string]interface{} // dotted JSON path -> value
	}{
		{"pod", &corev1.Pod{}, `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]},{"name":"d","image":"nginx:1.25"}]}}`,
			map[string]interface{}{
				"spec.restartPolicy": "Always", "spec.dnsPolicy": "ClusterFirst", "spec.schedulerName": "default-scheduler",
				"spec.terminationGracePeriodSeconds": 30.0, "spec.enableServiceLinks": true, "spec.securityContext": map[string]interface{}{},
				"spec.containers.0.imagePullPolicy": "Always", "spec.containers.1.imagePullPolicy": "IfNotPresent",
				"spec.containers.0.terminationMessagePath": "/dev/termination-log", "spec.containers.0.terminationMessagePolicy": "File",
				"spec.containers.0.ports.0.protocol": "TCP",
			}},
		{"deployment", &appsv1.Deployment{}, `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x@sha256:0123456789abcdef0123456789abcdef"}]}}}}`,
			map[string]interface{}{
				"spec.replicas": 1.0, "spec.strategy.type": "RollingUpdate", "spec.strategy.rollingUpdate.maxSurge": "25%",
				"spec.strategy.rollingUpdate.maxUnavailable": "25%", "spec.revisionHistoryLimit": 10.0, "spec.progressDeadlineSeconds": 600.0,
				"spec.template.spec.containers.0.imagePullPolicy": "IfNotPresent", "spec.template.spec.restartPolicy": "Always",
				"spec.template.spec.enableServiceLinks": nil,
			}},
		{"statefulset", &appsv1.StatefulSet{}, `{"spec":{"volumeClaimTemplates":[{"metadata":{"name":"d"}}]}}`,
			map[string]interface{}{
				"spec.replicas": 1.0, "spec.podManagementPolicy": "OrderedReady", "spec.updateStrategy.type": "RollingUpdate",
				"spec.updateStrategy.rollingUpdate.partition": 0.0, "spec.revisionHistoryLimit": 10.0,
				"spec.persistentVolumeClaimRetentionPolicy.whenDeleted": "Retain", "spec.persistentVolumeClaimRetentionPolicy.whenScaled": "Retain",
				"spec.volumeClaimTemplates.0.status.phase": "Pending", "spec.volumeClaimTemplates.0.spec.volumeMode": "Filesystem",
			}},
		{"daemonset", &appsv1.DaemonSet{}, `{}`, map[string]interface{}{
			"spec.updateStrategy.type": "RollingUpdate", "spec.updateStrategy.rollingUpdate.maxUnavailable": 1.0,
			"spec.updateStrategy.rollingUpdate.maxSurge": 0.0, "spec.revisionHistoryLimit": 10.0}},
		{"replicaset", &appsv1.ReplicaSet{}, `{}`, map[string]interface{}{"spec.replicas": 1.0}},
		{"rc", &corev1.ReplicationController{}, `{"spec":{"template":{"metadata":{"labels":{"a":"b"}}}}}`, map[string]interface{}{
			"spec.replicas": 1.0, "spec.selector.a": "b", "metadata.labels.a": "b"}},
		{"job", &batchv1.Job{}, `{"spec":{"template":{"spec":{"restartPolicy":"Never"}}}}`, map[string]interface{}{
			"spec.completions": 1.0, "spec.parallelism": 1.0, "spec.backoffLimit": 6.0, "spec.completionMode": "NonIndexed",
			"spec.suspend": false, "spec.manualSelector": nil, "spec.podReplacementPolicy": "TerminatingOrFailed",
			"spec.template.spec.restartPolicy": "Never"}},
		{"job parallelism only", &batchv1.Job{}, `{"spec":{"parallelism":3}}`, map[string]interface{}{
			"spec.completions": nil, "spec.parallelism": 3.0}},
		{"cronjob", &batchv1.CronJob{}, `{}`, map[string]interface{}{
			"spec.concurrencyPolicy": "Allow", "spec.suspend": false, "spec.successfulJobsHistoryLimit": 3.0, "spec.failedJobsHistoryLimit": 1.0,
			"spec.jobTemplate.spec.template.spec.restartPolicy": "Always", "spec.jobTemplate.spec.backoffLimit": nil}},
		{"service", &corev1.Service{}, `{"spec":{"ports":[{"port":80}]}}`, map[string]interface{}{
			"spec.type": "ClusterIP", "spec.sessionAffinity": "None", "spec.ports.0.protocol": "TCP", "spec.ports.0.targetPort": 80.0,
			"spec.ipFamilyPolicy": "SingleStack", "spec.internalTrafficPolicy": "Cluster", "spec.externalTrafficPolicy": nil}},
		{"service lb", &corev1.Service{}, `{"spec":{"type":"LoadBalancer","ports":[{"port":80,"targetPort":"http"}]}}`, map[string]interface{}{
			"spec.externalTrafficPolicy": "Cluster", "spec.allocateLoadBalancerNodePorts": true, "spec.ports.0.targetPort": "http"}},
		{"service headless selectorless", &corev1.Service{}, `{"spec":{"clusterIP":"None"}}`, map[string]interface{}{"spec.ipFamilyPolicy": "RequireDualStack"}},
		{"service externalname", &corev1.Service{}, `{"spec":{"type":"ExternalName","externalName":"x.example"}}`, map[string]interface{}{
			"spec.ipFamilyPolicy": nil, "spec.internalTrafficPolicy": nil}},
		{"secret", &corev1.Secret{}, `{}`, map[string]interface{}{"type": "Opaque"}},
		{"namespace", &corev1.Namespace{}, `{"metadata":{"name":"ns"}}`, map[string]interface{}{
			"metadata.labels.kubernetes\\.io/metadata\\.name": "ns", "status.phase": "Active"}},
		{"pv", &corev1.PersistentVolume{}, `{}`, map[string]interface{}{
			"spec.persistentVolumeReclaimPolicy": "Retain", "spec.volumeMode": "Filesystem", "status.phase": "Pending"}},
		{"pvc", &corev1.PersistentVolumeClaim{}, `{}`, map[string]interface{}{"spec.volumeMode": "Filesystem", "status.phase": "Pending"}},
		{"storageclass", &storagev1.StorageClass{}, `{}`, map[string]interface{}{"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}},
		{"endpoints", &corev1.Endpoints{}, `{"subsets":[{"ports":[{"port":80}]}]}`, map[string]interface{}{"subsets.0.ports.0.protocol": "TCP"}},
		{"endpointslice", &discoveryv1.EndpointSlice{}, `{"ports":[{"port":80}]}`, map[string]interface{}{"ports.0.protocol": "TCP", "ports.0.name": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tc.in), tc.obj); err != nil {
				t.Fatal(err)
			}
			Apply(tc.obj)
			first, _ := json.Marshal(tc.obj)
			Apply(tc.obj) // idempotent
			second, _ := json.Marshal(tc.obj)
			if string(first) != string(second) {
				t.Errorf("not idempotent:\n%s\n%s", first, second)
			}
			var m map[string]interface{}
			_ = json.Unmarshal(first, &m)
			for path, want := range tc.want {
				got, _ := lookup(m, path)
				if !equalJSON(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func equalJSON(a, b interface{}) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// lookup walks a dotted path; "\." escapes a dot inside a key.
func lookup(v interface{}, path string) (interface{}, bool) {
	var parts []string
	cur := ""
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path):
			cur += string(path[i+1])
			i++
		case path[i] == '.':
			parts = append(parts, cur)
			cur = ""
		default:
			cur += string(path[i])
		}
	}
	parts = append(parts, cur)
	for _, p := range parts {
		switch x := v.(type) {
		case map[string]interface{}:
			v = x[p]
		case []interface{}:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		"nginx": "latest", "nginx:latest": "latest", "nginx:1.25": "1.25", "registry:5000/a/b": "latest",
		"registry:5000/a/b:v1": "v1", "nginx@sha256:0123456789abcdef0123456789abcdef": "", "": "", "Nginx": "",
		"nginx:latest@sha256:0123456789abcdef0123456789abcdef": "latest",
	} {
		if got := imageTag(image); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestPodDefaultsRequestsFromLimitsAndHostNetwork(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
		Name: "c", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}},
	}}}}
	Apply(pod)
	c := pod.Spec.Containers[0]
	if q := c.Resources.Requests[corev1.ResourceCPU]; q.String() != "1" {
		t.Errorf("cpu request = %s", q.String())
	}
	if c.Ports[0].HostPort != 8080 {
		t.Errorf("hostPort = %d", c.Ports[0].HostPort)
	}
	if got := PodQOSClass(pod); got != corev1.PodQOSGuaranteed {
		t.Errorf("qos = %s", got)
	}
}

func TestPodQOSClass(t *testing.T) {
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	cases := []struct {
		name string
		res  []corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"none", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort},
		{"requests only", []corev1.ResourceRequirements{{Requests: rl("cpu", "100m")}}, corev1.PodQOSBurstable},
		{"equal", []corev1.ResourceRequirements{{Requests: rl("cpu", "1", "memory", "1Gi"), Limits: rl("cpu", "1", "memory", "1Gi")}}, corev1.PodQOSGuaranteed},
		{"one not guaranteed", []corev1.ResourceRequirements{{Requests: rl("cpu", "1", "memory", "1Gi"), Limits: rl("cpu", "1", "memory", "1Gi")}, {}}, corev1.PodQOSBurstable},
		{"ephemeral only", []corev1.ResourceRequirements{{Requests: rl("ephemeral-storage", "1Gi")}}, corev1.PodQOSBestEffort},
	}
	for _, tc := range cases {
		pod := &corev1.Pod{}
		for _, r := range tc.res {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Resources: r})
		}
		if got := PodQOSClass(pod); got != tc.want {
			t.Errorf("%s: got %s want %s", tc.name, got, tc.want)
		}
	}
}

func TestApplyUpdateKeepsServicePolicy(t *testing.T) {
	p := corev1.IPFamilyPolicyPreferDualStack
	old := &corev1.Service{Spec: corev1.ServiceSpec{IPFamilyPolicy: &p}}
	svc := &corev1.Service{}
	ApplyUpdate(svc, old)
	if svc.Spec.IPFamilyPolicy == nil || *svc.Spec.IPFamilyPolicy != p {
		t.Errorf("ipFamilyPolicy = %v", svc.Spec.IPFamilyPolicy)
	}
}
