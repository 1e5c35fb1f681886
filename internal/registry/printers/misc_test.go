package printers

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var eventsV1GR = schema.GroupResource{Group: "events.k8s.io", Resource: "events"}

func TestCoreEventCells(t *testing.T) {
	ev := func(f func(*corev1.Event)) *corev1.Event {
		e := &corev1.Event{
			ObjectMeta:     objMeta("web.17a2b3c4d5e6f708"),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{web}"},
			Reason:         "Pulled", Message: "  Successfully pulled image \"nginx\"\n", Type: corev1.EventTypeNormal,
			Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
			FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(2 * time.Minute), Count: 4,
		}
		if f != nil {
			f(e)
		}
		return e
	}
	runRowCases(t, core("events"), []rowCase{
		{"legacy event", ev(nil), []interface{}{
			"2m", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node-1",
			`Successfully pulled image "nginx"`, "10m", int64(4), "web.17a2b3c4d5e6f708"}},
		{"new-style singleton: eventTime, reporting fields, count 1", ev(func(e *corev1.Event) {
			e.FirstTimestamp, e.LastTimestamp, e.Count = metav1.Time{}, metav1.Time{}, 0
			e.EventTime = microAgo(90 * time.Second)
			e.Source = corev1.EventSource{}
			e.ReportingController, e.ReportingInstance = "default-scheduler", ""
			e.Type, e.Reason = corev1.EventTypeWarning, "FailedScheduling"
		}), []interface{}{
			"90s", "Warning", "FailedScheduling", "pod/web", "spec.containers{web}", "default-scheduler",
			`Successfully pulled image "nginx"`, "90s", int64(1), "web.17a2b3c4d5e6f708"}},
		{"series overrides last seen and count", ev(func(e *corev1.Event) {
			e.Series = &corev1.EventSeries{Count: 7, LastObservedTime: microAgo(30 * time.Second)}
		}), []interface{}{
			"30s", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node-1",
			`Successfully pulled image "nginx"`, "10m", int64(7), "web.17a2b3c4d5e6f708"}},
		{"no involved name, no timestamps", ev(func(e *corev1.Event) {
			e.InvolvedObject = corev1.ObjectReference{Kind: "Node"}
			e.FirstTimestamp, e.LastTimestamp = metav1.Time{}, metav1.Time{}
		}), []interface{}{
			"<unknown>", "Normal", "Pulled", "node", "", "kubelet, node-1",
			`Successfully pulled image "nginx"`, "<unknown>", int64(4), "web.17a2b3c4d5e6f708"}},
	})
}

func TestEventsV1Cells(t *testing.T) {
	runRowCases(t, eventsV1GR, []rowCase{
		{"series", &eventsv1.Event{
			ObjectMeta: objMeta("web.1"),
			EventTime:  microAgo(5 * time.Minute), ReportingController: "kubelet", ReportingInstance: "node-1",
			Action: "Pulling", Reason: "BackOff", Type: "Warning", Note: "Back-off pulling image",
			Regarding: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{web}"},
			Series:    &eventsv1.EventSeries{Count: 12, LastObservedTime: microAgo(20 * time.Second)},
		}, []interface{}{"20s", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1", "Back-off pulling image", "5m", int64(12), "web.1"}},
		{"deprecated fields", &eventsv1.Event{
			ObjectMeta: objMeta("web.2"), Reason: "Created", Type: "Normal", Note: "Created container",
			Regarding:                corev1.ObjectReference{Kind: "Pod", Name: "web"},
			DeprecatedSource:         corev1.EventSource{Component: "kubelet"},
			DeprecatedFirstTimestamp: ago(8 * time.Minute), DeprecatedLastTimestamp: ago(time.Minute), DeprecatedCount: 2,
		}, []interface{}{"60s", "Normal", "Created", "pod/web", "", "kubelet", "Created container", "8m", int64(2), "web.2"}},
	})
}

func TestLeaseEndpointSliceStorageClassCells(t *testing.T) {
	runRowCases(t, schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, []rowCase{
		{"held", &coordinationv1.Lease{ObjectMeta: objMeta("kube-scheduler"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-1_abc")}},
			[]interface{}{"kube-scheduler", "node-1_abc", "10m"}},
		{"unheld", &coordinationv1.Lease{ObjectMeta: objMeta("x")}, []interface{}{"x", "", "10m"}},
	})

	esGR := schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}
	runRowCases(t, esGR, []rowCase{
		{"ports and endpoints", &discoveryv1.EndpointSlice{
			ObjectMeta:  objMeta("web-abcde"),
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Name: ptr("metrics")}, {}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2", "10.0.0.3"}}},
		}, []interface{}{"web-abcde", "IPv4", "80,metrics,*", "10.0.0.1,10.0.0.2,10.0.0.3", "10m"}},
		{"empty", &discoveryv1.EndpointSlice{ObjectMeta: objMeta("e"), AddressType: discoveryv1.AddressTypeIPv6},
			[]interface{}{"e", "IPv6", "<unset>", "<unset>", "10m"}},
		{"more", &discoveryv1.EndpointSlice{
			ObjectMeta: objMeta("m"), AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(1))}, {Port: ptr(int32(2))}, {Port: ptr(int32(3))}, {Port: ptr(int32(4))}, {Port: ptr(int32(5))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"a", "b", "c", "d"}}},
		}, []interface{}{"m", "IPv4", "1,2,3 + 2 more...", "a,b,c + 1 more...", "10m"}},
	})

	scGR := schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}
	def := metav1.ObjectMeta{Name: "standard", CreationTimestamp: ago(10 * time.Minute),
		Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}}
	runRowCases(t, scGR, []rowCase{
		{"default class with defaults", &storagev1.StorageClass{ObjectMeta: def, Provisioner: "rancher.io/local-path"},
			[]interface{}{"standard (default)", "rancher.io/local-path", "Delete", "Immediate", false, "10m"}},
		{"explicit", &storagev1.StorageClass{
			ObjectMeta:  metav1.ObjectMeta{Name: "fast", CreationTimestamp: ago(10 * time.Minute), Annotations: map[string]string{"storageclass.beta.kubernetes.io/is-default-class": "false"}},
			Provisioner: "ebs.csi.aws.com", ReclaimPolicy: ptr(corev1.PersistentVolumeReclaimRetain),
			VolumeBindingMode: ptr(storagev1.VolumeBindingWaitForFirstConsumer), AllowVolumeExpansion: ptr(true),
		}, []interface{}{"fast", "ebs.csi.aws.com", "Retain", "WaitForFirstConsumer", true, "10m"}},
	})
}

func TestDefault(t *testing.T) {
	p := Default()
	want := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
	}
	if diff := cmp.Diff(want, p.Columns); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	created := metav1.NewTime(time.Date(2026, 1, 2, 4, 5, 6, 0, time.FixedZone("X", 3600)))
	cells, err := p.Cells(&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr", CreationTimestamp: created}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"lr", "2026-01-02T03:05:06Z"}, cells); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	if _, err := p.Cells(&metav1.Status{}, now); err == nil {
		t.Error("want error for an object without metadata")
	}
}

// TestColumnLayout pins every printer's column names and priorities to
// upstream's (a trailing * marks Priority 1, i.e. kubectl -o wide only).
func TestColumnLayout(t *testing.T) {
	want := map[schema.GroupResource]string{
		core("namespaces"):             "Name Status Age",
		core("configmaps"):             "Name Data Age",
		core("secrets"):                "Name Type Data Age",
		core("serviceaccounts"):        "Name Age",
		core("pods"):                   "Name Ready Status Restarts Age IP* Node* Nominated_Node* Readiness_Gates*",
		core("replicationcontrollers"): "Name Desired Current Ready Age Containers* Images* Selector*",
		core("services"):               "Name Type Cluster-IP External-IP Port(s) Age Selector*",
		core("endpoints"):              "Name Endpoints Age",
		core("events"):                 "Last_Seen Type Reason Object Subobject* Source* Message First_Seen* Count* Name*",
		eventsV1GR:                     "Last_Seen Type Reason Object Subobject* Source* Message First_Seen* Count* Name*",
		core("nodes"):                  "Name Status Roles Age Version Internal-IP* External-IP* OS-Image* Kernel-Version* Container-Runtime*",
		core("persistentvolumes"):      "Name Capacity Access_Modes Reclaim_Policy Status Claim StorageClass VolumeAttributesClass Reason Age VolumeMode*",
		core("persistentvolumeclaims"): "Name Status Volume Capacity Access_Modes StorageClass VolumeAttributesClass Age VolumeMode*",
		core("podtemplates"):           "Name Containers Images Pod_Labels",
		apps("deployments"):            "Name Ready Up-to-date Available Age Containers* Images* Selector*",
		apps("replicasets"):            "Name Desired Current Ready Age Containers* Images* Selector*",
		apps("statefulsets"):           "Name Ready Age Containers* Images*",
		apps("daemonsets"):             "Name Desired Current Ready Up-to-date Available Node_Selector Age Containers* Images* Selector*",
		batch("jobs"):                  "Name Status Completions Duration Age Containers* Images* Selector*",
		batch("cronjobs"):              "Name Schedule Timezone Suspend Active Last_Schedule Age Containers* Images* Selector*",
		{Group: "coordination.k8s.io", Resource: "leases"}:      "Name Holder Age",
		{Group: "discovery.k8s.io", Resource: "endpointslices"}: "Name AddressType Ports Endpoints Age",
		{Group: "storage.k8s.io", Resource: "storageclasses"}:   "Name Provisioner ReclaimPolicy VolumeBindingMode AllowVolumeExpansion Age",
		ScaleResource: "Name Desired Available Age",
	}
	set := New()
	if got := len(set.GroupResources()); got != len(want) {
		t.Errorf("%d printers registered, want %d", got, len(want))
	}
	for gr, layout := range want {
		p, ok := set.For(gr)
		if !ok {
			t.Errorf("%v: no printer", gr)
			continue
		}
		var got []string
		for _, c := range p.Columns {
			n := strings.ReplaceAll(c.Name, " ", "_")
			if c.Priority == 1 {
				n += "*"
			}
			got = append(got, n)
			if c.Description == "" {
				t.Errorf("%v column %q: empty description", gr, c.Name)
			}
			if c.Name == "Name" && c.Format != "name" {
				t.Errorf("%v: Name column format %q, want name", gr, c.Format)
			}
			if c.Name != "Name" && c.Format != "" {
				t.Errorf("%v column %q: unexpected format %q", gr, c.Name, c.Format)
			}
		}
		if diff := cmp.Diff(layout, strings.Join(got, " ")); diff != "" {
			t.Errorf("%v layout (-want +got):\n%s", gr, diff)
		}
	}
}

// TestZeroObjects renders an empty object of every kind: no panics, one cell
// per column, and a typed error for the wrong type.
func TestZeroObjects(t *testing.T) {
	objs := map[schema.GroupResource]runtime.Object{
		core("namespaces"): &corev1.Namespace{}, core("configmaps"): &corev1.ConfigMap{}, core("secrets"): &corev1.Secret{},
		core("serviceaccounts"): &corev1.ServiceAccount{}, core("pods"): &corev1.Pod{},
		core("replicationcontrollers"): &corev1.ReplicationController{}, core("services"): &corev1.Service{},
		core("endpoints"): &corev1.Endpoints{}, core("events"): &corev1.Event{}, eventsV1GR: &eventsv1.Event{},
		core("nodes"): &corev1.Node{}, core("persistentvolumes"): &corev1.PersistentVolume{},
		core("persistentvolumeclaims"): &corev1.PersistentVolumeClaim{}, core("podtemplates"): &corev1.PodTemplate{},
		apps("deployments"): &appsv1.Deployment{}, apps("replicasets"): &appsv1.ReplicaSet{},
		apps("statefulsets"): &appsv1.StatefulSet{}, apps("daemonsets"): &appsv1.DaemonSet{},
		batch("jobs"): &batchv1.Job{}, batch("cronjobs"): &batchv1.CronJob{},
		{Group: "coordination.k8s.io", Resource: "leases"}:      &coordinationv1.Lease{},
		{Group: "discovery.k8s.io", Resource: "endpointslices"}: &discoveryv1.EndpointSlice{},
		{Group: "storage.k8s.io", Resource: "storageclasses"}:   &storagev1.StorageClass{},
		ScaleResource: &autoscalingv1.Scale{},
	}
	for _, gr := range New().GroupResources() {
		obj, ok := objs[gr]
		if !ok {
			t.Errorf("%v: no zero object in test", gr)
			continue
		}
		rowCells(t, gr, obj)
		p, _ := For(gr)
		if _, err := p.Cells(&corev1.LimitRange{}, now); err == nil {
			t.Errorf("%v: want error for wrong type", gr)
		}
		var typedNil *corev1.LimitRange
		if _, err := p.Cells(typedNil, now); err == nil {
			t.Errorf("%v: want error for typed nil of the wrong type", gr)
		}
	}
	p, _ := For(core("pods"))
	var nilPod *corev1.Pod
	if _, err := p.Cells(nilPod, now); err == nil {
		t.Error("want error for nil pod")
	}
}

func TestForUnknown(t *testing.T) {
	for _, gr := range []schema.GroupResource{
		{Resource: "limitranges"}, {Group: "apps", Resource: "pods"}, {Group: "extensions", Resource: "deployments"},
	} {
		if _, ok := For(gr); ok {
			t.Errorf("%v: unexpected printer", gr)
		}
	}
}

func TestTranslateTimestampSince(t *testing.T) {
	for _, tc := range []struct {
		ts   metav1.Time
		want string
	}{
		{metav1.Time{}, "<unknown>"},
		{ago(0), "0s"},
		{ago(119 * time.Second), "119s"},
		{ago(5*time.Minute + 30*time.Second), "5m30s"},
		{ago(3 * time.Hour), "3h"},
		{ago(50 * time.Hour), "2d2h"},
		{ago(400 * 24 * time.Hour), "400d"},
		{metav1.NewTime(now.Add(time.Hour)), "<invalid>"},
	} {
		if got := translateTimestampSince(tc.ts, now); got != tc.want {
			t.Errorf("translateTimestampSince(%v) = %q, want %q", tc.ts, got, tc.want)
		}
	}
	if got := translateMicroTimestampSince(metav1.MicroTime{}, now); got != "<unknown>" {
		t.Errorf("zero MicroTime = %q", got)
	}
}

// TestConcurrentUse exercises the shared Set from many goroutines (run
// with -race).
func TestConcurrentUse(t *testing.T) {
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 50; j++ {
				p, _ := For(core("pods"))
				if _, err := p.Cells(pod(1, corev1.PodRunning, running(true, 0)), now); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

func TestEffectiveDefaultStorageClass(t *testing.T) {
	sc := func(name string, created time.Duration, def bool) storagev1.StorageClass {
		c := storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ago(created)}, Provisioner: "p"}
		if def {
			c.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		return c
	}
	classes := []storagev1.StorageClass{sc("old", time.Hour, true), sc("new-b", time.Minute, true), sc("new-a", time.Minute, true), sc("newest", 0, false)}
	if got := EffectiveDefaultStorageClass(classes); got != "new-a" {
		t.Errorf("effective default = %q, want new-a", got)
	}
	if got := EffectiveDefaultStorageClass(classes[3:]); got != "" {
		t.Errorf("effective default without annotations = %q, want empty", got)
	}
	p := StorageClassPrinter("new-a")
	for _, c := range classes {
		cells, err := p.Cells(&c, now)
		if err != nil {
			t.Fatal(err)
		}
		want := c.Name
		if c.Name == "new-a" {
			want += " (default)"
		}
		if cells[0] != want {
			t.Errorf("name cell = %q, want %q", cells[0], want)
		}
	}
	if cells, _ := StorageClassPrinter("").Cells(&classes[0], now); cells[0] != "old" {
		t.Errorf("no effective default: name cell = %q", cells[0])
	}
}
