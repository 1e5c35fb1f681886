package fieldsel

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestFields(t *testing.T) {
	om := metav1.ObjectMeta{Name: "n", Namespace: "ns"}
	cases := []struct {
		name string
		obj  runtime.Object
		want fields.Set
	}{
		{"pod", &corev1.Pod{ObjectMeta: om, Spec: corev1.PodSpec{NodeName: "node1", RestartPolicy: "Always", SchedulerName: "default-scheduler", ServiceAccountName: "sa"},
			Status: corev1.PodStatus{Phase: "Running", PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}}, NominatedNodeName: "x"}},
			fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "spec.nodeName": "node1", "spec.restartPolicy": "Always",
				"spec.schedulerName": "default-scheduler", "spec.serviceAccountName": "sa", "spec.hostNetwork": "false",
				"status.phase": "Running", "status.podIP": "10.0.0.1", "status.nominatedNodeName": "x"}},
		{"event", &corev1.Event{ObjectMeta: om, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p", UID: "u", APIVersion: "v1", ResourceVersion: "3", FieldPath: "f"},
			Reason: "r", ReportingController: "rc", Type: "Normal"},
			fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "involvedObject.kind": "Pod", "involvedObject.namespace": "ns",
				"involvedObject.name": "p", "involvedObject.uid": "u", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "3",
				"involvedObject.fieldPath": "f", "reason": "r", "reportingComponent": "rc", "source": "rc", "type": "Normal"}},
		{"events.k8s.io", &eventsv1.Event{ObjectMeta: om, Regarding: corev1.ObjectReference{Kind: "Pod", Name: "p"}, Reason: "r", ReportingController: "rc",
			DeprecatedSource: corev1.EventSource{Component: "kubelet"}, Type: "Warning"},
			fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "regarding.kind": "Pod", "regarding.namespace": "", "regarding.name": "p",
				"regarding.uid": "", "regarding.apiVersion": "", "regarding.resourceVersion": "", "regarding.fieldPath": "", "reason": "r",
				"reportingController": "rc", "source": "kubelet", "type": "Warning"}},
		{"secret", &corev1.Secret{ObjectMeta: om, Type: "Opaque"}, fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "type": "Opaque"}},
		{"namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NamespaceStatus{Phase: "Active"}},
			fields.Set{"metadata.name": "n", "metadata.namespace": "", "status.phase": "Active"}},
		{"node", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{Unschedulable: true}},
			fields.Set{"metadata.name": "n", "metadata.namespace": "", "spec.unschedulable": "true"}},
		{"service", &corev1.Service{ObjectMeta: om, Spec: corev1.ServiceSpec{ClusterIP: "None", Type: "ClusterIP"}},
			fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "spec.clusterIP": "None", "spec.type": "ClusterIP"}},
		{"rc", &corev1.ReplicationController{ObjectMeta: om, Status: corev1.ReplicationControllerStatus{Replicas: 2}},
			fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "status.replicas": "2"}},
		{"rs", &appsv1.ReplicaSet{ObjectMeta: om}, fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "status.replicas": "0"}},
		{"job", &batchv1.Job{ObjectMeta: om, Status: batchv1.JobStatus{Succeeded: 1}}, fields.Set{"metadata.name": "n", "metadata.namespace": "ns", "status.successful": "1"}},
		{"configmap", &corev1.ConfigMap{ObjectMeta: om}, fields.Set{"metadata.name": "n", "metadata.namespace": "ns"}},
		{"storageclass", &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, fields.Set{"metadata.name": "n", "metadata.namespace": ""}},
		{"deployment", &appsv1.Deployment{ObjectMeta: om}, fields.Set{"metadata.name": "n", "metadata.namespace": "ns"}},
	}
	for _, tc := range cases {
		got := Fields(tc.obj)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q want %q", tc.name, k, got[k], v)
			}
		}
	}
}

func TestConvert(t *testing.T) {
	core := func(r string) schema.GroupResource { return schema.GroupResource{Resource: r} }
	cases := []struct {
		gr      schema.GroupResource
		sel     string
		want    string // converted selector
		wantErr string
	}{
		{core("pods"), "spec.nodeName=a,status.phase!=Running", "spec.nodeName=a,status.phase!=Running", ""},
		{core("pods"), "spec.host=a", "spec.nodeName=a", ""},
		{core("pods"), "spec.foo=a", "", "field label not supported: spec.foo"},
		{core("configmaps"), "metadata.name=a", "metadata.name=a", ""},
		{core("configmaps"), "data.x=a", "", `"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "spec.replicas=1", "", `"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{schema.GroupResource{Group: "batch", Resource: "jobs"}, "status.succeeded=1", "", `field label "status.succeeded" not supported for batchv1.Job`},
		{schema.GroupResource{Group: "batch", Resource: "jobs"}, "status.successful=1", "status.successful=1", ""},
		{core("events"), "involvedObject.name=p,type=Warning", "involvedObject.name=p,type=Warning", ""},
		{schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "regarding.name=p", "regarding.name=p", ""},
		{schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "involvedObject.name=p", "", "field label not supported: involvedObject.name"},
		{core("namespaces"), "metadata.namespace=", "metadata.namespace=", ""},
		{core("secrets"), "type=Opaque", "type=Opaque", ""},
		{core("nodes"), "spec.unschedulable=false", "spec.unschedulable=false", ""},
		{core("services"), "spec.clusterIP=None", "spec.clusterIP=None", ""},
	}
	for _, tc := range cases {
		sel, err := fields.ParseSelector(tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Convert(tc.gr, sel)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%v %q: err = %v, want %q", tc.gr, tc.sel, err, tc.wantErr)
			}
			if Validate(tc.gr, sel) == nil {
				t.Errorf("%v %q: Validate accepted", tc.gr, tc.sel)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v %q: %v", tc.gr, tc.sel, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("%v %q: got %q want %q", tc.gr, tc.sel, got.String(), tc.want)
		}
	}
}

// TestSelectorsMatch ties Convert and Fields together the way a list does.
func TestSelectorsMatch(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n1"}}
	sel, _ := fields.ParseSelector("spec.host=n1,metadata.namespace=ns")
	conv, err := Convert(schema.GroupResource{Resource: "pods"}, sel)
	if err != nil || !conv.Matches(Fields(pod)) {
		t.Errorf("match failed: %v", err)
	}
}

func BenchmarkFieldsPod(b *testing.B) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	for i := 0; i < b.N; i++ {
		_ = Fields(pod)
	}
}
