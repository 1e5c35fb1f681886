package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

const appManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  greeting: v1-value
  mode: test
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: Pod
metadata:
  name: standalone
  labels:
    app: standalone
spec:
  nodeName: node-1 # bound: terminus deletes unscheduled pods at once (no node agent)
  containers:
  - name: c
    image: busybox
`

const heldManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  finalizers:
  - e2e.terminus.dev/hold
data:
  k: v
`

const unknownFieldManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: strict
data:
  k: v
bogusField: 1
`

// TestKubectl runs a user's kubectl session against one server, once per
// installed kubectl version, each in its own namespace.
func TestKubectl(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	forEachKubectl(t, func(t *testing.T, kv kubectl) {
		k := kv.on(t, s)
		ns := "e2e-" + strings.ReplaceAll(kv.name, ".", "-")
		n := []string{"-n", ns}
		with := func(args ...string) []string { return append(append([]string{}, args...), n...) }
		mustContain := func(t *testing.T, what, out string, subs ...string) {
			t.Helper()
			for _, sub := range subs {
				if !strings.Contains(out, sub) {
					t.Errorf("%s: output lacks %q:\n%s", what, sub, out)
				}
			}
		}
		mustMatch := func(t *testing.T, what, out, re string) {
			t.Helper()
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("%s: output does not match %q:\n%s", what, re, out)
			}
		}
		jsonpath := func(args ...string) string {
			return k.ok(with(args...)...)
		}

		if !t.Run("create namespace", func(t *testing.T) {
			k.t = t
			out := k.ok("create", "namespace", ns)
			if want := "namespace/" + ns + " created\n"; out != want {
				t.Errorf("got %q, want %q", out, want)
			}
			out = k.ok("get", "namespace", ns)
			mustMatch(t, "get namespace", out, `(?m)^NAME\s+STATUS\s+AGE\n`+ns+`\s+Active\s+\S+$`)
		}) {
			t.FailNow()
		}

		if !t.Run("apply multi-document", func(t *testing.T) {
			k.t = t
			r := k.runIn(appManifest, nil, with("apply", "-f", "-")...)
			if r.code != 0 {
				t.Fatalf("apply: %s", r)
			}
			want := "configmap/app-config created\ndeployment.apps/web created\nservice/web created\npod/standalone created\n"
			if r.stdout != want {
				t.Errorf("first apply: got %q, want %q", r.stdout, want)
			}
			r = k.runIn(appManifest, nil, with("apply", "-f", "-")...)
			if r.code != 0 {
				t.Fatalf("re-apply: %s", r)
			}
			want = "configmap/app-config unchanged\ndeployment.apps/web unchanged\nservice/web unchanged\npod/standalone unchanged\n"
			if r.stdout != want {
				t.Errorf("re-apply: got %q, want %q", r.stdout, want)
			}
		}) {
			t.FailNow()
		}

		t.Run("get table", func(t *testing.T) {
			k.t = t
			out := k.ok(with("get", "configmaps")...)
			mustMatch(t, "get configmaps", out, `^NAME\s+DATA\s+AGE\n`)
			mustMatch(t, "get configmaps", out, `(?m)^app-config\s+2\s+\S+$`)
			out = k.ok(with("get", "deployments")...)
			mustMatch(t, "get deployments", out, `^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\n`)
			mustMatch(t, "get deployments", out, `(?m)^web\s+\d+/2\s+\d+\s+\d+\s+\S+$`)
			out = k.ok(with("get", "pod", "standalone")...)
			mustMatch(t, "get pod", out, `^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\nstandalone\s+0/1\s+\S+\s+0\s+\S+\n$`)
			out = k.ok(with("get", "service", "web")...)
			mustMatch(t, "get service", out, `^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nweb\s+ClusterIP\s+`)
		})

		t.Run("get -o yaml", func(t *testing.T) {
			k.t = t
			out := k.ok(with("get", "configmap", "app-config", "-o", "yaml")...)
			mustContain(t, "-o yaml", out, "apiVersion: v1\n", "kind: ConfigMap\n", "  greeting: v1-value\n",
				"  name: app-config\n", "  namespace: "+ns+"\n", "  uid: ", "  resourceVersion: \"", "  creationTimestamp: \"")
		})

		t.Run("get -o jsonpath", func(t *testing.T) {
			k.t = t
			if out := jsonpath("get", "configmap", "app-config", "-o", "jsonpath={.data.greeting}"); out != "v1-value" {
				t.Errorf("jsonpath .data.greeting: got %q, want %q", out, "v1-value")
			}
			if out := jsonpath("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}/{.metadata.generation}"); out != "nginx:1.27/1" {
				t.Errorf("jsonpath image/generation: got %q, want %q", out, "nginx:1.27/1")
			}
			// The deployment's pods are in the namespace too: select.
			if out := jsonpath("get", "pods", "-l", "app=standalone", "-o", "jsonpath={.items[*].metadata.name}"); out != "standalone" {
				t.Errorf("jsonpath over a list: got %q, want %q", out, "standalone")
			}
		})

		t.Run("get -w", func(t *testing.T) {
			k.t = t
			w := k.start(with("get", "configmaps", "-w", "--output-watch-events")...)
			w.expect(t, regexp.MustCompile(`^EVENT\s+NAME\s+DATA\s+AGE$`), 30*time.Second)
			w.expect(t, regexp.MustCompile(`^ADDED\s+app-config\s+2\s`), 30*time.Second)
			k.ok(with("create", "configmap", "watched", "--from-literal=a=b")...)
			w.expect(t, regexp.MustCompile(`^ADDED\s+watched\s+1\s`), 30*time.Second)
			k.ok(with("label", "configmap", "watched", "x=y")...)
			w.expect(t, regexp.MustCompile(`^MODIFIED\s+watched\s+1\s`), 30*time.Second)
			k.ok(with("delete", "configmap", "watched")...)
			w.expect(t, regexp.MustCompile(`^DELETED\s+watched\s+1\s`), 30*time.Second)
		})

		t.Run("describe", func(t *testing.T) {
			k.t = t
			r := k.run(with("describe", "configmap", "app-config")...)
			if r.code != 0 {
				t.Fatalf("describe configmap: %s", r)
			}
			mustMatch(t, "describe configmap", r.stdout, `(?m)^Name:\s+app-config$`)
			mustMatch(t, "describe configmap", r.stdout, `(?m)^Namespace:\s+`+ns+`$`)
			mustMatch(t, "describe configmap", r.stdout, `(?m)^greeting:\n-+\nv1-value$`)
			if r.stderr != "" {
				t.Errorf("describe configmap wrote to stderr: %s", r.stderr)
			}
			r = k.run(with("describe", "deployment", "web")...)
			if r.code != 0 {
				t.Fatalf("describe deployment: %s", r)
			}
			mustMatch(t, "describe deployment", r.stdout, `(?m)^Selector:\s+app=web$`)
			mustMatch(t, "describe deployment", r.stdout, `(?m)^Replicas:\s+2 desired`)
			mustMatch(t, "describe deployment", r.stdout, `(?m)^\s+Image:\s+nginx:1.27$`)
			r = k.run(with("describe", "pod", "standalone")...)
			if r.code != 0 {
				t.Fatalf("describe pod: %s", r)
			}
			mustMatch(t, "describe pod", r.stdout, `(?m)^Node:\s+node-1`)
			mustMatch(t, "describe pod", r.stdout, `(?m)^Labels:\s+app=standalone$`)
			if r.stderr != "" {
				t.Errorf("describe pod wrote to stderr: %s", r.stderr)
			}
		})

		t.Run("label", func(t *testing.T) {
			k.t = t
			if out := k.ok(with("label", "configmap", "app-config", "tier=backend")...); out != "configmap/app-config labeled\n" {
				t.Errorf("label: got %q", out)
			}
			if out := k.ok(with("get", "configmaps", "-l", "tier=backend", "-o", "name")...); out != "configmap/app-config\n" {
				t.Errorf("get -l tier=backend: got %q, want %q", out, "configmap/app-config\n")
			}
			if out := k.ok(with("get", "configmaps", "-l", "tier!=backend,tier", "-o", "name")...); out != "" {
				t.Errorf("get -l 'tier!=backend,tier': got %q, want nothing", out)
			}
		})

		t.Run("annotate", func(t *testing.T) {
			k.t = t
			// kubectl 1.27 prints "annotate", later versions "annotated".
			if out := k.ok(with("annotate", "configmap", "app-config", "e2e/note=hello world")...); out != "configmap/app-config annotated\n" && out != "configmap/app-config annotate\n" {
				t.Errorf("annotate: got %q", out)
			}
			if out := jsonpath("get", "configmap", "app-config", "-o", `jsonpath={.metadata.annotations.e2e/note}`); out != "hello world" {
				t.Errorf("annotation: got %q, want %q", out, "hello world")
			}
		})

		t.Run("edit", func(t *testing.T) {
			k.t = t
			r := k.runIn("", []string{"KUBE_EDITOR=sed -i s/v1-value/v2-value/", "EDITOR="},
				with("edit", "configmap", "app-config")...)
			if r.code != 0 {
				t.Fatalf("edit: %s", r)
			}
			if r.stdout != "configmap/app-config edited\n" {
				t.Errorf("edit: got %q", r.stdout)
			}
			if out := jsonpath("get", "configmap", "app-config", "-o", "jsonpath={.data.greeting}"); out != "v2-value" {
				t.Errorf("after edit: greeting %q, want %q", out, "v2-value")
			}
		})

		t.Run("patch", func(t *testing.T) {
			k.t = t
			// Strategic merge (the default): containers merge by name, so the
			// port survives a patch that only names the image.
			out := k.ok(with("patch", "deployment", "web", "-p",
				`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}`)...)
			if out != "deployment.apps/web patched\n" {
				t.Errorf("strategic patch: got %q", out)
			}
			got := jsonpath("get", "deployment", "web", "-o",
				"jsonpath={.spec.template.spec.containers[*].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.generation}")
			if got != "nginx:1.28 80 2" {
				t.Errorf("after strategic patch: got %q, want %q", got, "nginx:1.28 80 2")
			}
			// An unchanged patch changes nothing.
			rv := jsonpath("get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}")
			out = k.ok(with("patch", "deployment", "web", "-p",
				`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}`)...)
			if out != "deployment.apps/web patched (no change)\n" {
				t.Errorf("no-op strategic patch: got %q, want %q", out, "deployment.apps/web patched (no change)\n")
			}
			if rv2 := jsonpath("get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}"); rv2 != rv {
				t.Errorf("A5: a no-op patch moved resourceVersion %s -> %s", rv, rv2)
			}

			out = k.ok(with("patch", "configmap", "app-config", "--type=merge", "-p", `{"data":{"mode":"prod","extra":"x"}}`)...)
			if out != "configmap/app-config patched\n" {
				t.Errorf("merge patch: got %q", out)
			}
			if got := jsonpath("get", "configmap", "app-config", "-o", "jsonpath={.data.mode},{.data.extra},{.data.greeting}"); got != "prod,x,v2-value" {
				t.Errorf("after merge patch: got %q, want %q", got, "prod,x,v2-value")
			}

			out = k.ok(with("patch", "configmap", "app-config", "--type=json", "-p",
				`[{"op":"remove","path":"/data/extra"},{"op":"replace","path":"/data/mode","value":"json"}]`)...)
			if out != "configmap/app-config patched\n" {
				t.Errorf("json patch: got %q", out)
			}
			if got := jsonpath("get", "configmap", "app-config", "-o", "jsonpath={.data}"); got != `{"greeting":"v2-value","mode":"json"}` {
				t.Errorf("after json patch: data %s, want %s", got, `{"greeting":"v2-value","mode":"json"}`)
			}
			r := k.run(with("patch", "configmap", "app-config", "--type=json", "-p", `[{"op":"test","path":"/data/mode","value":"nope"}]`)...)
			if r.code == 0 {
				t.Errorf("a failing json-patch test op succeeded: %s", r)
			}
		})

		t.Run("create configmap --from-literal and delete", func(t *testing.T) {
			k.t = t
			if out := k.ok(with("create", "configmap", "lit", "--from-literal=a=1", "--from-literal=b=two")...); out != "configmap/lit created\n" {
				t.Errorf("create: got %q", out)
			}
			if got := jsonpath("get", "configmap", "lit", "-o", "jsonpath={.data.a}/{.data.b}"); got != "1/two" {
				t.Errorf("data: got %q, want %q", got, "1/two")
			}
			r := k.run(with("create", "configmap", "lit", "--from-literal=a=1")...)
			if r.code == 0 || !strings.Contains(r.stderr, `configmaps "lit" already exists`) {
				t.Errorf("second create: %s", r)
			}
			if out := k.ok(with("delete", "configmap", "lit")...); out != `configmap "lit" deleted`+"\n" {
				t.Errorf("delete: got %q", out)
			}
			r = k.run(with("get", "configmap", "lit")...)
			if r.code != 1 || !strings.Contains(r.stderr, `Error from server (NotFound): configmaps "lit" not found`) {
				t.Errorf("get after delete: %s", r)
			}
		})

		t.Run("wait --for=delete with a finalizer", func(t *testing.T) {
			k.t = t
			r := k.runIn(heldManifest, nil, with("apply", "-f", "-")...)
			if r.code != 0 {
				t.Fatalf("apply: %s", r)
			}
			w := k.start(with("wait", "--for=delete", "configmap/held", "--timeout=60s", "-v=6")...)
			// Only remove the finalizer once wait is watching the object.
			eventually(t, 30*time.Second, func() error {
				if strings.Contains(w.stderr.String(), "watch=true") {
					return nil
				}
				select {
				case <-w.done:
					t.Fatalf("kubectl wait exited early: %v\nstdout:%s\nstderr:%s", w.err, w.all, w.stderr)
				default:
				}
				return errNotYet("kubectl wait has not started watching")
			})
			if out := k.ok(with("delete", "configmap", "held", "--wait=false")...); out != `configmap "held" deleted`+"\n" {
				t.Errorf("delete: got %q", out)
			}
			if got := jsonpath("get", "configmap", "held", "-o", "jsonpath={.metadata.finalizers[0]} {.metadata.deletionGracePeriodSeconds}"); got != "e2e.terminus.dev/hold 0" {
				t.Errorf("terminating object: finalizer/grace %q, want %q", got, "e2e.terminus.dev/hold 0")
			}
			if got := jsonpath("get", "configmap", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"); got == "" {
				t.Errorf("terminating object has no deletionTimestamp")
			}
			select {
			case <-w.done:
				t.Fatalf("kubectl wait returned while the finalizer was still there: %v\nstdout:%s\nstderr:%s", w.err, w.all, w.stderr)
			default:
			}
			k.ok(with("patch", "configmap", "held", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)...)
			if code := w.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("kubectl wait exit %d\nstdout:%s\nstderr:%s", code, w.all, w.stderr)
			}
			if got := w.all.String(); got != "configmap/held condition met\n" {
				t.Errorf("kubectl wait output: got %q, want %q", got, "configmap/held condition met\n")
			}
		})

		t.Run("api-resources", func(t *testing.T) {
			k.t = t
			out := k.ok("api-resources")
			mustMatch(t, "api-resources", out, `^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND\n`)
			mustMatch(t, "api-resources", out, `(?m)^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$`)
			mustMatch(t, "api-resources", out, `(?m)^configmaps\s+cm\s+v1\s+true\s+ConfigMap$`)
			mustMatch(t, "api-resources", out, `(?m)^namespaces\s+ns\s+v1\s+false\s+Namespace$`)
			mustMatch(t, "api-resources", out, `(?m)^leases\s+coordination.k8s.io/v1\s+true\s+Lease$`)
			out = k.ok("api-resources", "--api-group=batch", "-o", "name")
			if out != "cronjobs.batch\njobs.batch\n" {
				t.Errorf("api-resources --api-group=batch: got %q", out)
			}
		})

		t.Run("get all", func(t *testing.T) {
			k.t = t
			out := k.ok(with("get", "all")...)
			mustMatch(t, "get all", out, `(?m)^pod/standalone\s+0/1\s`)
			mustMatch(t, "get all", out, `(?m)^service/web\s+ClusterIP\s`)
			mustMatch(t, "get all", out, `(?m)^deployment.apps/web\s+\d+/2\s`)
		})

		t.Run("explain", func(t *testing.T) {
			k.t = t
			out := k.ok("explain", "pod.spec.containers")
			mustMatch(t, "explain", out, `(?m)^KIND:\s+Pod$`)
			mustMatch(t, "explain", out, `(?m)^VERSION:\s+v1$`)
			mustMatch(t, "explain", out, `(?m)^(FIELD|RESOURCE):\s+containers\s+<\[\](Container|Object)>$`)
			mustMatch(t, "explain", out, `(?m)^  image\s+<string>`)
			mustMatch(t, "explain", out, `(?m)^  name\s+<string> -required-`)
		})

		t.Run("apply unknown field", func(t *testing.T) {
			k.t = t
			r := k.runIn(unknownFieldManifest, nil, with("apply", "-f", "-")...)
			if r.code == 0 {
				t.Errorf("apply with an unknown field succeeded: %s", r)
			}
			if !strings.Contains(r.stderr, `strict decoding error: unknown field "bogusField"`) {
				t.Errorf("apply with an unknown field: stderr lacks %q: %s", `strict decoding error: unknown field "bogusField"`, r)
			}
			r = k.runIn(unknownFieldManifest, nil, with("apply", "--validate=false", "-f", "-")...)
			if r.code != 0 || r.stdout != "configmap/strict created\n" {
				t.Errorf("apply --validate=false: %s", r)
			}
		})

		t.Run("get cm -A", func(t *testing.T) {
			k.t = t
			out := k.ok("get", "cm", "-A")
			mustMatch(t, "get cm -A", out, `^NAMESPACE\s+NAME\s+DATA\s+AGE\n`)
			mustMatch(t, "get cm -A", out, `(?m)^`+ns+`\s+app-config\s+2\s+\S+$`)
			mustMatch(t, "get cm -A", out, `(?m)^`+ns+`\s+strict\s+1\s+\S+$`)
		})

		t.Run("delete -f", func(t *testing.T) {
			k.t = t
			// --wait=false: with no node agent a bound pod stays Terminating
			// for its grace period (G12), as upstream.
			r := k.runIn(appManifest, nil, with("delete", "--wait=false", "-f", "-")...)
			if r.code != 0 {
				t.Fatalf("delete -f: %s", r)
			}
			want := "configmap \"app-config\" deleted\ndeployment.apps \"web\" deleted\nservice \"web\" deleted\npod \"standalone\" deleted\n"
			if r.stdout != want {
				t.Errorf("delete -f: got %q, want %q", r.stdout, want)
			}
			// A12: the server-side table shows Terminating.
			out := k.ok(with("get", "pod", "standalone")...)
			mustMatch(t, "get terminating pod", out, `(?m)^standalone\s+0/1\s+Terminating\s+0\s+\S+$`)
			for _, kind := range []string{"configmap/app-config", "deployment/web", "service/web"} {
				r := k.run(with("get", kind)...)
				if r.code != 1 || !strings.Contains(r.stderr, "(NotFound)") {
					t.Errorf("get %s after delete: %s", kind, r)
				}
			}
		})
	})
}

type errNotYet string

func (e errNotYet) Error() string { return string(e) }
