package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/terminus-project/terminus/test/scenario"
)

// scenarioCluster adapts a running terminus server to scenario.Cluster.
type scenarioCluster struct {
	cfg *rest.Config
	cs  kubernetes.Interface
	seq atomic.Int64
	// prefix names the namespaces ("sc" when empty).
	prefix string
}

func (c *scenarioCluster) Config() *rest.Config { return rest.CopyConfig(c.cfg) }

func (c *scenarioCluster) Namespace(t *testing.T) string {
	t.Helper()
	prefix := c.prefix
	if prefix == "" {
		prefix = "sc"
	}
	name := fmt.Sprintf("%s-%d", prefix, c.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// TestScenarios runs every behaviour scenario of test/scenario against one
// terminus server on the memory store.
func TestScenarios(t *testing.T) {
	t.Parallel()
	// API-rule scenarios observe what the API server does on its own:
	// the garbage collector would act on orphan and foregroundDeletion
	// finalizers, and the root CA publisher adds objects to namespaces.
	s := startServer(t, "--storage=memory", "--controllers=-*")
	scenario.Run(t, &scenarioCluster{cfg: s.restConfig(t), cs: s.clientset(t)})
}

// TestScenariosWithControllers runs the scenarios that need controllers
// (garbage collector, namespace, pvc/pv protection, podgc: spec D, E9-E12,
// F) against one terminus server running all controllers, the default.
func TestScenariosWithControllers(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--storage=memory")
	scenario.RunSet(t, &scenarioCluster{cfg: s.restConfig(t), cs: s.clientset(t), prefix: "scc"}, scenario.WithControllers())
}

// scRaw is a small raw HTTPS client for the kubectl scenarios.
type scRaw struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newSCRaw(t *testing.T, s *server) *scRaw {
	t.Helper()
	cfg := s.restConfig(t)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &scRaw{t: t, base: strings.TrimSuffix(cfg.Host, "/"), hc: hc}
}

func (r *scRaw) do(method, path, contentType, body string) (int, map[string]any) {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			r.t.Fatalf("%s %s: HTTP %d, body not JSON: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, m
}

func scMeta(m map[string]any) map[string]any {
	md, _ := m["metadata"].(map[string]any)
	return md
}

func scFinalizers(m map[string]any) []string {
	l, _ := scMeta(m)["finalizers"].([]any)
	var out []string
	for _, v := range l {
		out = append(out, v.(string))
	}
	return out
}

const scDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  finalizers: [example.com/hold]
spec:
  replicas: 0
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: c, image: busybox}]
`

const scBoundPod = `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  nodeName: node-1
  containers: [{name: c, image: busybox}]
`

// TestScenarioKubectl checks the user's view of the deletion lifecycle with
// real kubectl binaries (B6/I12 --wait, B7 --cascade, B9 --dry-run=server,
// G9 --force, A12 Terminating).
func TestScenarioKubectl(t *testing.T) {
	t.Parallel()
	// API-rule scenarios observe what the API server does on its own:
	// the garbage collector would act on orphan and foregroundDeletion
	// finalizers, and the root CA publisher adds objects to namespaces.
	s := startServer(t, "--storage=memory", "--controllers=-*")
	forEachKubectl(t, func(t *testing.T, kv kubectl) {
		ns := "ksc-" + strings.ReplaceAll(kv.name, ".", "-")
		k := kv.on(t, s)
		k.ok("create", "namespace", ns)
		cm := func(name string) string { return "/api/v1/namespaces/" + ns + "/configmaps/" + name }

		t.Run("I12 B6 delete --wait returns once the last finalizer is removed", func(t *testing.T) {
			k := kv.on(t, s)
			raw := newSCRaw(t, s)
			k.ok("-n", ns, "create", "configmap", "waited", "--from-literal=k=v")
			if code, _ := raw.do("PATCH", cm("waited"), "application/merge-patch+json", `{"metadata":{"finalizers":["example.com/hold"]}}`); code != 200 {
				t.Fatalf("adding the finalizer: HTTP %d", code)
			}
			st := k.start("-n", ns, "delete", "configmap", "waited", "--wait=true", "--timeout=60s", "-v=6")
			eventually(t, 20*time.Second, func() error {
				code, o := raw.do("GET", cm("waited"), "", "")
				if code != 200 {
					return fmt.Errorf("GET: HTTP %d", code)
				}
				if scMeta(o)["deletionTimestamp"] == nil {
					return fmt.Errorf("no deletionTimestamp yet")
				}
				return nil
			})
			// kubectl is waiting once it watches the object (-v=6 logs each request).
			eventually(t, 20*time.Second, func() error {
				if !strings.Contains(st.stderr.String(), "watch=true") {
					return fmt.Errorf("kubectl has not started watching yet; stderr:\n%s", st.stderr)
				}
				return nil
			})
			select {
			case <-st.done:
				t.Fatalf("kubectl delete --wait returned while the finalizer was still there\nstdout:\n%s\nstderr:\n%s", st.all, st.stderr)
			default:
			}
			if code, o := raw.do("PATCH", cm("waited"), "application/merge-patch+json", `{"metadata":{"finalizers":null}}`); code != 200 {
				t.Fatalf("removing the finalizer: HTTP %d %v", code, o)
			}
			if code := st.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("kubectl delete --wait exited %d\nstdout:\n%s\nstderr:\n%s", code, st.all, st.stderr)
			}
			if out := st.all.String(); out != `configmap "waited" deleted`+"\n" {
				t.Errorf("kubectl delete output %q", out)
			}
			if code, _ := raw.do("GET", cm("waited"), "", ""); code != 404 {
				t.Errorf("GET after delete --wait: HTTP %d, want 404", code)
			}
		})

		t.Run("B7 delete --cascade sends the matching propagationPolicy", func(t *testing.T) {
			k := kv.on(t, s)
			raw := newSCRaw(t, s)
			for _, c := range []struct {
				cascade string
				want    []string
			}{
				{"orphan", []string{"example.com/hold", "orphan"}},
				{"foreground", []string{"example.com/hold", "foregroundDeletion"}},
				{"background", []string{"example.com/hold"}},
			} {
				name := "cascade-" + c.cascade
				scApply(t, k, ns, fmt.Sprintf(scDeployment, name))
				if code, _ := raw.do("GET", "/apis/apps/v1/namespaces/"+ns+"/deployments/"+name, "", ""); code != 200 {
					t.Fatalf("deployment %s not created: HTTP %d", name, code)
				}
				r := k.run("-n", ns, "delete", "deployment", name, "--cascade="+c.cascade, "--wait=false", "-v=8")
				if r.code != 0 || !strings.Contains(r.stdout, `deployment.apps "`+name+`" deleted`) {
					t.Errorf("kubectl delete --cascade=%s: %s", c.cascade, r)
					continue
				}
				policy := map[string]string{"orphan": "Orphan", "foreground": "Foreground", "background": "Background"}[c.cascade]
				if !strings.Contains(r.stderr, `"propagationPolicy":"`+policy+`"`) {
					t.Errorf("--cascade=%s: the -v=8 request body log does not show propagationPolicy %s", c.cascade, policy)
				}
				code, o := raw.do("GET", "/apis/apps/v1/namespaces/"+ns+"/deployments/"+name, "", "")
				if code != 200 {
					t.Errorf("--cascade=%s: GET HTTP %d", c.cascade, code)
					continue
				}
				if got := scFinalizers(o); !slices.Equal(got, c.want) {
					t.Errorf("--cascade=%s: finalizers %q, want %q", c.cascade, got, c.want)
				}
			}
		})

		t.Run("B9 delete --dry-run=server changes nothing", func(t *testing.T) {
			k := kv.on(t, s)
			raw := newSCRaw(t, s)
			k.ok("-n", ns, "create", "configmap", "dry", "--from-literal=k=v")
			_, before := raw.do("GET", cm("dry"), "", "")
			out := k.ok("-n", ns, "delete", "configmap", "dry", "--dry-run=server")
			if out != `configmap "dry" deleted (server dry run)`+"\n" {
				t.Errorf("output %q", out)
			}
			code, after := raw.do("GET", cm("dry"), "", "")
			if code != 200 || scMeta(after)["resourceVersion"] != scMeta(before)["resourceVersion"] || scMeta(after)["deletionTimestamp"] != nil {
				t.Errorf("after --dry-run=server: HTTP %d %v", code, scMeta(after))
			}
		})

		t.Run("G9 delete --grace-period=0 --force warns and removes a bound pod", func(t *testing.T) {
			k := kv.on(t, s)
			scApply(t, k, ns, fmt.Sprintf(scBoundPod, "forced"))
			r := k.run("-n", ns, "delete", "pod", "forced", "--grace-period=0", "--force")
			if r.code != 0 {
				t.Fatalf("kubectl delete --force: %s", r)
			}
			const warning = "Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely."
			if !strings.Contains(r.stderr, warning) {
				t.Errorf("stderr lacks the force-delete warning:\n%s", r.stderr)
			}
			if !strings.Contains(r.stdout, `pod "forced" force deleted`) {
				t.Errorf("stdout %q lacks `pod \"forced\" force deleted`", r.stdout)
			}
			cs := s.clientset(t)
			_, err := cs.CoreV1().Pods(ns).Get(context.Background(), "forced", metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("GET after force delete: %v, want NotFound", err)
			}
		})

		t.Run("A12 get pod shows Terminating for a bound pod after a graceful delete", func(t *testing.T) {
			k := kv.on(t, s)
			scApply(t, k, ns, fmt.Sprintf(scBoundPod, "graceful"))
			out := k.ok("-n", ns, "delete", "pod", "graceful", "--wait=false")
			if out != `pod "graceful" deleted`+"\n" {
				t.Errorf("delete output %q", out)
			}
			out = k.ok("-n", ns, "get", "pod", "graceful")
			if !regexp.MustCompile(`(?m)^graceful\s+0/1\s+Terminating\s+0\s+\S+$`).MatchString(out) {
				t.Errorf("kubectl get pod:\n%s\nwant a row with STATUS Terminating", out)
			}
		})
	})
}

func scApply(t *testing.T, k *kc, ns, manifest string) {
	t.Helper()
	if r := k.runIn(manifest, nil, "-n", ns, "apply", "-f", "-"); r.code != 0 {
		t.Fatalf("kubectl apply: %s", r)
	}
}
