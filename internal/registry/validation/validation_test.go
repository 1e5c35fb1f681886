package validation

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/terminus-project/terminus/internal/registry/defaults"
)

func decode(t testing.TB, obj runtime.Object, s string) runtime.Object {
	t.Helper()
	if err := json.Unmarshal([]byte(s), obj); err != nil {
		t.Fatal(err)
	}
	defaults.Apply(obj)
	return obj
}

func message(kind string, obj runtime.Object, errs field.ErrorList) string {
	m, _ := meta.Accessor(obj)
	if len(errs) == 0 {
		return ""
	}
	return apierrors.NewInvalid(schema.GroupKind{Kind: kind}, m.GetName(), errs).Error()
}

const goodPod = `{"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`
const goodDeploy = `{"metadata":{"name":"d","namespace":"ns"},"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`

func TestValidateCreate(t *testing.T) {
	cases := []struct {
		name       string
		kind       string
		obj        runtime.Object
		in         string
		namespaced bool
		want       string // full NewInvalid message, "" for valid
		contains   bool   // want is a substring
	}{
		{"valid pod", "Pod", &corev1.Pod{}, goodPod, true, "", false},
		{"pod no image", "Pod", &corev1.Pod{}, `{"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c"}]}}`, true,
			`Pod "p" is invalid: spec.containers[0].image: Required value`, false},
		{"pod no containers", "Pod", &corev1.Pod{}, `{"metadata":{"name":"p","namespace":"ns"},"spec":{}}`, true,
			`Pod "p" is invalid: spec.containers: Required value`, false},
		{"pod dup container", "Pod", &corev1.Pod{}, `{"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"x"},{"name":"c","image":"x"}]}}`, true,
			`Pod "p" is invalid: spec.containers[1].name: Duplicate value: "c"`, false},
		{"pod bad container name", "Pod", &corev1.Pod{}, `{"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"C_1","image":"x"}]}}`, true,
			`Pod "p" is invalid: spec.containers[0].name: Invalid value: "C_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`, false},
		{"pod bad port", "Pod", &corev1.Pod{}, `{"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"x","ports":[{"containerPort":70000}]}]}}`, true,
			`Pod "p" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`, false},
		{"pod bad restart policy", "Pod", &corev1.Pod{}, `{"metadata":{"name":"p","namespace":"ns"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"c","image":"x"}]}}`, true,
			`Pod "p" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`, false},
		{"pod missing namespace", "Pod", &corev1.Pod{}, `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}`, true,
			`Pod "p" is invalid: metadata.namespace: Required value`, false},
		{"finalizer not qualified", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"badfin","namespace":"ns","finalizers":["foo"]}}`, true,
			`ConfigMap "badfin" is invalid: metadata.finalizers[0]: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified`, false},
		{"finalizer standard", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"ok","namespace":"ns","finalizers":["kubernetes","example.com/x"]}}`, true, "", false},
		{"finalizers conflict", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"c","namespace":"ns","finalizers":["orphan","foregroundDeletion"]}}`, true,
			`finalizer orphan and foregroundDeletion cannot be both set`, true},
		{"two controllers", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"c","namespace":"ns","ownerReferences":[
			{"apiVersion":"v1","kind":"A","name":"a","uid":"1","controller":true},{"apiVersion":"v1","kind":"B","name":"b","uid":"2","controller":true}]}}`, true,
			`Only one reference can have Controller set to true. Found "true" in references for A/a and B/b`, true},
		{"event owner", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"c","namespace":"ns","ownerReferences":[{"apiVersion":"v1","kind":"Event","name":"e","uid":"1"}]}}`, true,
			`/v1, Kind=Event is disallowed from being an owner`, true},
		{"owner missing uid", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"c","namespace":"ns","ownerReferences":[{"apiVersion":"v1","kind":"A","name":"a"}]}}`, true,
			`ConfigMap "c" is invalid: metadata.ownerReferences[0].uid: Required value: must not be empty`, false},
		{"configmap bad key", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"c","namespace":"ns"},"data":{"a b":"x"}}`, true,
			`ConfigMap "c" is invalid: data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`, false},
		{"configmap too big", "ConfigMap", &corev1.ConfigMap{}, `{"metadata":{"name":"c","namespace":"ns"},"data":{"a":"` + strings.Repeat("x", 1<<20+1) + `"}}`, true,
			`ConfigMap "c" is invalid: []: Too long: may not be more than 1048576 bytes`, false},
		{"namespace name", "Namespace", &corev1.Namespace{}, `{"metadata":{"name":"Bad"}}`, false,
			`Namespace "Bad" is invalid: metadata.name: Invalid value: "Bad": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`, false},
		{"cluster scoped with namespace", "Node", &corev1.Node{}, `{"metadata":{"name":"n","namespace":"x"}}`, false,
			`Node "n" is invalid: metadata.namespace: Forbidden: not allowed on this type`, false},
		{"service name", "Service", &corev1.Service{}, `{"metadata":{"name":"1svc","namespace":"ns"},"spec":{"ports":[{"port":80}]}}`, true,
			`Service "1svc" is invalid: metadata.name: Invalid value: "1svc": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`, false},
		{"service no ports", "Service", &corev1.Service{}, `{"metadata":{"name":"s","namespace":"ns"}}`, true,
			`Service "s" is invalid: spec.ports: Required value`, false},
		{"service two unnamed ports", "Service", &corev1.Service{}, `{"metadata":{"name":"s","namespace":"ns"},"spec":{"ports":[{"port":80},{"port":81}]}}`, true,
			`Service "s" is invalid: [spec.ports[0].name: Required value, spec.ports[1].name: Required value]`, false},
		{"valid deployment", "Deployment", &appsv1.Deployment{}, goodDeploy, true, "", false},
		{"deployment mismatch", "Deployment", &appsv1.Deployment{}, strings.Replace(goodDeploy, `"labels":{"app":"a"}`, `"labels":{"app":"b"}`, 1), true,
			"Deployment \"d\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"b\"}: `selector` does not match template `labels`", false},
		{"deployment no selector", "Deployment", &appsv1.Deployment{}, `{"metadata":{"name":"d","namespace":"ns"},"spec":{"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`, true,
			"Deployment \"d\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: {\"app\":\"a\"}: `selector` does not match template `labels`]", false},
		{"deployment negative replicas", "Deployment", &appsv1.Deployment{}, strings.Replace(goodDeploy, `"spec":{"selector"`, `"spec":{"replicas":-1,"selector"`, 1), true,
			`Deployment "d" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`, false},
		{"deployment restart never", "Deployment", &appsv1.Deployment{}, strings.Replace(goodDeploy, `"spec":{"containers"`, `"spec":{"restartPolicy":"Never","containers"`, 1), true,
			`Deployment "d" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`, false},
		{"job restart always", "Job", &batchv1.Job{}, `{"metadata":{"name":"j","namespace":"ns"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`, true,
			`Job "j" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`, false},
		{"cronjob long name", "CronJob", &batchv1.CronJob{}, `{"metadata":{"name":"` + strings.Repeat("a", 53) + `","namespace":"ns"},"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}}}`, true,
			`must be no more than 52 characters`, true},
		{"cronjob no schedule", "CronJob", &batchv1.CronJob{}, `{"metadata":{"name":"c","namespace":"ns"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}}}`, true,
			`CronJob "c" is invalid: spec.schedule: Required value`, false},
		{"lease duration", "Lease", &coordinationv1.Lease{}, `{"metadata":{"name":"l","namespace":"ns"},"spec":{"leaseDurationSeconds":0}}`, true,
			`Lease "l" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0`, false},
		{"lease strategy unknown", "Lease", &coordinationv1.Lease{}, `{"metadata":{"name":"l","namespace":"ns"},"spec":{"strategy":"Newest"}}`, true,
			`Lease "l" is invalid: spec.strategy.strategy: Unsupported value: "Newest": supported values: "OldestEmulationVersion"`, false},
		{"lease strategy qualified", "Lease", &coordinationv1.Lease{}, `{"metadata":{"name":"l","namespace":"ns"},"spec":{"strategy":"example.com/mine","preferredHolder":"a"}}`, true,
			``, false},
		{"lease strategy bad qualified", "Lease", &coordinationv1.Lease{}, `{"metadata":{"name":"l","namespace":"ns"},"spec":{"strategy":"a/b/c"}}`, true,
			`Lease "l" is invalid: spec.strategy.strategy: Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters`, true},
		{"node lease", "Lease", &coordinationv1.Lease{}, `{"metadata":{"name":"n1","namespace":"kube-node-lease"},"spec":{"holderIdentity":"n1","leaseDurationSeconds":40,"renewTime":"2030-01-02T03:04:05.000000Z"}}`, true,
			``, false},
		{"endpointslice address type", "EndpointSlice", &discoveryv1.EndpointSlice{}, `{"metadata":{"name":"e","namespace":"ns"},"addressType":"IPv5"}`, true,
			`EndpointSlice "e" is invalid: addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"`, false},
		{"storageclass provisioner", "StorageClass", &storagev1.StorageClass{}, `{"metadata":{"name":"sc"}}`, false,
			`StorageClass "sc" is invalid: provisioner: Required value`, false},
		{"pvc required", "PersistentVolumeClaim", &corev1.PersistentVolumeClaim{}, `{"metadata":{"name":"c","namespace":"ns"}}`, true,
			`PersistentVolumeClaim "c" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Required value]`, false},
		{"secret bad key", "Secret", &corev1.Secret{}, `{"metadata":{"name":"s","namespace":"ns"},"data":{"a/b":"eA=="}}`, true,
			`Secret "s" is invalid: data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters`, true},
		{"event path segment", "Event", &corev1.Event{}, `{"metadata":{"name":"a/b","namespace":"ns"},"involvedObject":{"namespace":"ns"}}`, true,
			`Event "a/b" is invalid: metadata.name: Invalid value: "a/b": may not contain '/'`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, tc.obj, tc.in)
			got := message(tc.kind, obj, ValidateCreate(obj, tc.namespaced))
			switch {
			case tc.want == "" && got != "":
				t.Errorf("unexpected errors: %s", got)
			case tc.contains && !strings.Contains(got, tc.want):
				t.Errorf("got  %s\nwant substring %s", got, tc.want)
			case !tc.contains && got != tc.want:
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	rv := func(s string) string {
		return strings.Replace(s, `"metadata":{`, `"metadata":{"resourceVersion":"1",`, 1)
	}
	cases := []struct {
		name, kind string
		newObj     runtime.Object
		oldObj     runtime.Object
		newIn      string
		oldIn      string
		want       string
		contains   bool
	}{
		{"pod image ok", "Pod", &corev1.Pod{}, &corev1.Pod{}, rv(strings.Replace(goodPod, "nginx", "nginx:2", 1)), rv(strings.Replace(goodPod, "nginx", "nginx:1", 1)), "", false},
		{"pod restartPolicy", "Pod", &corev1.Pod{}, &corev1.Pod{}, rv(strings.Replace(goodPod, `"spec":{`, `"spec":{"restartPolicy":"Never",`, 1)), rv(goodPod),
			"Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n", true},
		{"no resourceVersion", "ConfigMap", &corev1.ConfigMap{}, &corev1.ConfigMap{}, `{"metadata":{"name":"c","namespace":"ns"}}`, rv(`{"metadata":{"name":"c","namespace":"ns"}}`),
			`ConfigMap "c" is invalid: metadata.resourceVersion: Invalid value: "": must be specified for an update`, false},
		{"immutable configmap", "ConfigMap", &corev1.ConfigMap{}, &corev1.ConfigMap{}, rv(`{"metadata":{"name":"c","namespace":"ns"},"immutable":true,"data":{"a":"2"}}`),
			rv(`{"metadata":{"name":"c","namespace":"ns"},"immutable":true,"data":{"a":"1"}}`),
			"ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set", false},
		{"secret type", "Secret", &corev1.Secret{}, &corev1.Secret{}, rv(`{"metadata":{"name":"s","namespace":"ns"},"type":"x/y"}`), rv(`{"metadata":{"name":"s","namespace":"ns"}}`),
			`Secret "s" is invalid: type: Invalid value: "x/y": field is immutable`, false},
		{"deployment selector", "Deployment", &appsv1.Deployment{}, &appsv1.Deployment{},
			rv(strings.Replace(strings.Replace(goodDeploy, `"app":"a"`, `"app":"b"`, 2), `"app":"a"`, `"app":"b"`, 1)), rv(goodDeploy),
			`spec.selector: Invalid value: {"matchLabels":{"app":"b"}}: field is immutable`, true},
		{"service clusterIP", "Service", &corev1.Service{}, &corev1.Service{},
			rv(`{"metadata":{"name":"s","namespace":"ns"},"spec":{"clusterIP":"10.0.0.2","clusterIPs":["10.0.0.2"],"ports":[{"port":80}]}}`),
			rv(`{"metadata":{"name":"s","namespace":"ns"},"spec":{"clusterIP":"10.0.0.1","clusterIPs":["10.0.0.1"],"ports":[{"port":80}]}}`),
			`Service "s" is invalid: spec.clusterIPs[0]: Invalid value: ["10.0.0.2"]: may not change once set`, false},
		{"storageclass params", "StorageClass", &storagev1.StorageClass{}, &storagev1.StorageClass{},
			rv(`{"metadata":{"name":"sc"},"provisioner":"x.io/p","parameters":{"a":"2"}}`), rv(`{"metadata":{"name":"sc"},"provisioner":"x.io/p","parameters":{"a":"1"}}`),
			`StorageClass "sc" is invalid: parameters: Forbidden: updates to parameters are forbidden.`, false},
		{"job selector", "Job", &batchv1.Job{}, &batchv1.Job{},
			rv(`{"metadata":{"name":"j","namespace":"ns"},"spec":{"selector":{"matchLabels":{"a":"c"}},"template":{"metadata":{"labels":{"a":"c"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}`),
			rv(`{"metadata":{"name":"j","namespace":"ns"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}`),
			`spec.selector: Invalid value: {"matchLabels":{"a":"c"}}: field is immutable`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := decode(t, tc.newObj, tc.newIn)
			o := decode(t, tc.oldObj, tc.oldIn)
			_, clusterScoped := n.(*storagev1.StorageClass)
			got := message(tc.kind, n, ValidateUpdate(n, o, !clusterScoped))
			switch {
			case tc.want == "" && got != "":
				t.Errorf("unexpected errors: %s", got)
			case tc.contains && !strings.Contains(got, tc.want):
				t.Errorf("got  %s\nwant substring %s", got, tc.want)
			case !tc.contains && got != tc.want:
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func fuzzValidate(f *testing.F, newObj func() runtime.Object, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s), []byte(s))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		n, o := newObj(), newObj()
		if json.Unmarshal(a, n) != nil || json.Unmarshal(b, o) != nil {
			return
		}
		_ = ValidateCreate(n, true)
		_ = ValidateUpdate(n, o, true)
		defaults.Apply(n)
		defaults.Apply(o)
		_ = ValidateCreate(n, false)
		_ = ValidateUpdate(n, o, false)
	})
}

func FuzzValidatePod(f *testing.F) {
	fuzzValidate(f, func() runtime.Object { return &corev1.Pod{} }, goodPod,
		`{"spec":{"initContainers":[{"name":"i","restartPolicy":"Always","livenessProbe":{"grpc":{"port":1}}}],"containers":[{"name":"c","ports":[{"hostPort":1}]}]}}`)
}

func FuzzValidateDeployment(f *testing.F) {
	fuzzValidate(f, func() runtime.Object { return &appsv1.Deployment{} }, goodDeploy,
		`{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"200%","maxUnavailable":"x"}}}}`)
}
