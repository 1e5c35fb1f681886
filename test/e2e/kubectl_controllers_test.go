package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKubectlControllers is the user's view of the controllers (spec D, E,
// F): the seed cases typed as kubectl commands against a server running all
// controllers (the default), once per installed kubectl version.
func TestKubectlControllers(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--storage=memory")
	kubectlControllers(t, s, "kc")
}

// TestKubectlControllersReference runs the same kubectl sessions against
// the external cluster named by $TERMINUS_REFERENCE_KUBECONFIG (real
// Kubernetes), to check the expectations themselves.
func TestKubectlControllersReference(t *testing.T) {
	path := os.Getenv(referenceKubeconfigEnv)
	if path == "" {
		t.Skipf("set %s to the kubeconfig of a real cluster to run the kubectl sessions against it", referenceKubeconfigEnv)
	}
	t.Parallel()
	kubectlControllers(t, &server{kubeconfig: path}, fmt.Sprintf("kcr%d", time.Now().Unix()%100000))
}

// controllerWait bounds the kubectl waits on controllers; see
// scenario.ControllerTimeout.
const controllerWait = 60 * time.Second

const kcOwnedConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  ownerReferences:
  - {apiVersion: %s, kind: %s, name: %s, uid: %s, blockOwnerDeletion: %t}
%s`

const kcReplicaSet = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: %s
spec:
  replicas: 0
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: c, image: busybox}]
`

const kcStorageClass = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: %s
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: %s, uid: %s}
provisioner: example.com/none
`

// randomUID is a fresh version-4 uid that no object has.
func randomUID(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func kubectlControllers(t *testing.T, s *server, prefix string) {
	forEachKubectl(t, func(t *testing.T, kv kubectl) {
		base := prefix + "-" + strings.ReplaceAll(strings.TrimPrefix(kv.name, "kubectl"), ".", "")
		if strings.HasSuffix(base, "-") {
			base += "cur"
		}
		// newNS creates a namespace for one subtest and deletes it (best
		// effort) at the end.
		newNS := func(t *testing.T, k *kc, suffix string) string {
			t.Helper()
			ns := base + "-" + suffix
			if out := k.ok("create", "namespace", ns); out != "namespace/"+ns+" created\n" {
				t.Errorf("create namespace: got %q", out)
			}
			t.Cleanup(func() { k.run("delete", "namespace", ns, "--wait=false", "--ignore-not-found") })
			return ns
		}
		uidOf := func(k *kc, args ...string) string {
			k.t.Helper()
			uid := k.ok(append(args, "-o", "jsonpath={.metadata.uid}")...)
			if uid == "" {
				k.t.Fatalf("kubectl get %s: empty uid", strings.Join(args, " "))
			}
			return uid
		}
		notFound := func(t *testing.T, k *kc, args ...string) {
			t.Helper()
			r := k.run(append([]string{"get"}, args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, "(NotFound)") {
				t.Errorf("kubectl get %s: want NotFound, got %s", strings.Join(args, " "), r)
			}
		}
		// startWait runs kubectl wait --for=delete in the background and
		// returns once it watches (its -v=6 log shows the watch request).
		startWait := func(t *testing.T, k *kc, args ...string) *stream {
			t.Helper()
			w := k.start(append([]string{"wait", "--for=delete", "--timeout=60s", "-v=6"}, args...)...)
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
			return w
		}

		t.Run("A11 C5 a ConfigMap finalized by kubernetes stays Terminating until kubectl patch removes the finalizer", func(t *testing.T) {
			t.Parallel()
			k := kv.on(t, s)
			ns := newNS(t, k, "fin")
			n := func(args ...string) []string { return append([]string{"-n", ns}, args...) }
			if out := k.ok(n("create", "configmap", "fin", "--from-literal=k=v")...); out != "configmap/fin created\n" {
				t.Errorf("create: got %q", out)
			}
			if out := k.ok(n("patch", "configmap", "fin", "-p", `{"metadata":{"finalizers":["kubernetes"]}}`)...); out != "configmap/fin patched\n" {
				t.Errorf("patch: got %q", out)
			}
			// A twin deleted with --cascade=orphan: the garbage collector
			// removes orphan from it, which shows it has been at work.
			k.ok(n("create", "configmap", "twin")...)
			k.ok(n("patch", "configmap", "twin", "-p", `{"metadata":{"finalizers":["kubernetes"]}}`)...)
			if out := k.ok(n("delete", "configmap", "fin", "--wait=false")...); out != `configmap "fin" deleted`+"\n" {
				t.Errorf("delete: got %q", out)
			}
			k.ok(n("delete", "configmap", "twin", "--wait=false", "--cascade=orphan")...)
			eventually(t, controllerWait, func() error {
				if got := k.ok(n("get", "configmap", "twin", "-o", "jsonpath={.metadata.finalizers}")...); got != `["kubernetes"]` {
					return fmt.Errorf("twin's finalizers %s, want the GC to leave only kubernetes", got)
				}
				return nil
			})
			out := k.ok(n("get", "configmap", "fin")...)
			if !regexp.MustCompile(`^NAME\s+DATA\s+AGE\nfin\s+1\s+\S+\n$`).MatchString(out) {
				t.Errorf("kubectl get configmap fin:\n%s", out)
			}
			if got := k.ok(n("get", "configmap", "fin", "-o", "jsonpath={.metadata.finalizers} {.metadata.deletionGracePeriodSeconds}")...); got != `["kubernetes"] 0` {
				t.Errorf("terminating ConfigMap: finalizers and grace %q, want %q", got, `["kubernetes"] 0`)
			}
			if got := k.ok(n("get", "configmap", "fin", "-o", "jsonpath={.metadata.deletionTimestamp}")...); got == "" {
				t.Errorf("terminating ConfigMap has no deletionTimestamp")
			}
			w := startWait(t, k, n("configmap/fin")...)
			select {
			case <-w.done:
				t.Fatalf("kubectl wait returned while the finalizer was there\nstdout:%s\nstderr:%s", w.all, w.stderr)
			default:
			}
			if out := k.ok(n("patch", "configmap", "fin", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)...); out != "configmap/fin patched\n" {
				t.Errorf("json patch: got %q", out)
			}
			if code := w.wait(t, controllerWait); code != 0 {
				t.Fatalf("kubectl wait exit %d\nstdout:%s\nstderr:%s", code, w.all, w.stderr)
			}
			if got := w.all.String(); got != "configmap/fin condition met\n" {
				t.Errorf("kubectl wait output %q", got)
			}
			notFound(t, k, n("configmap", "fin")...)
			k.ok(n("patch", "configmap", "twin", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)...)
		})

		t.Run("D7 D9 D10 delete --cascade=background|foreground|orphan of an owner with dependents", func(t *testing.T) {
			t.Parallel()
			k := kv.on(t, s)
			ns := newNS(t, k, "cascade")
			n := func(args ...string) []string { return append([]string{"-n", ns}, args...) }
			dep := func(name, apiVersion, kind, owner, uid string, block bool, extra string) {
				t.Helper()
				scApply(t, k, ns, fmt.Sprintf(kcOwnedConfigMap, name, apiVersion, kind, owner, uid, block, extra))
			}
			const held = "  finalizers: [example.com/hold]\n"
			// gcSynced lets the garbage collector observe the dependents
			// created so far before their owner is deleted (see
			// scenario.H.GCSynced): a sentinel with a dangling reference,
			// created after them, is collected.
			sentinels := 0
			gcSynced := func() {
				t.Helper()
				sentinels++
				name := fmt.Sprintf("sentinel-%d", sentinels)
				dep(name, "v1", "ConfigMap", "ghost", randomUID(t), false, "")
				if r := k.run(n("wait", "--for=delete", "configmap/"+name, "--timeout=60s")...); r.code != 0 {
					t.Fatalf("waiting for the GC to collect %s: %s", name, r)
				}
			}

			// Background: the owner goes at once, the GC takes the dependents.
			k.ok(n("create", "configmap", "bg")...)
			uid := uidOf(k, n("get", "configmap", "bg")...)
			dep("bg-1", "v1", "ConfigMap", "bg", uid, true, "")
			dep("bg-2", "v1", "ConfigMap", "bg", uid, false, "")
			if out := k.ok(n("delete", "configmap", "bg", "--cascade=background")...); out != `configmap "bg" deleted`+"\n" {
				t.Errorf("delete --cascade=background: got %q", out)
			}
			r := k.run(n("wait", "--for=delete", "configmap/bg-1", "configmap/bg-2", "--timeout=60s")...)
			if r.code != 0 {
				t.Errorf("waiting for the background dependents: %s", r)
			}
			notFound(t, k, n("configmap", "bg-1")...)

			// Foreground: the owner stays with foregroundDeletion until its
			// blocking dependents are gone, a held one included.
			scApply(t, k, ns, fmt.Sprintf(kcReplicaSet, "fg"))
			uid = uidOf(k, n("get", "replicaset", "fg")...)
			dep("fg-1", "apps/v1", "ReplicaSet", "fg", uid, true, "")
			dep("fg-held", "apps/v1", "ReplicaSet", "fg", uid, true, held)
			gcSynced()
			if out := k.ok(n("delete", "replicaset", "fg", "--cascade=foreground", "--wait=false")...); out != `replicaset.apps "fg" deleted`+"\n" {
				t.Errorf("delete --cascade=foreground: got %q", out)
			}
			eventually(t, controllerWait, func() error {
				if r := k.run(n("get", "configmap", "fg-1")...); r.code == 0 {
					return fmt.Errorf("fg-1 still there")
				}
				if got := k.ok(n("get", "configmap", "fg-held", "-o", "jsonpath={.metadata.deletionTimestamp}")...); got == "" {
					return fmt.Errorf("fg-held not deleted yet")
				}
				return nil
			})
			if got := k.ok(n("get", "replicaset", "fg", "-o", "jsonpath={.metadata.finalizers}")...); got != `["foregroundDeletion"]` {
				t.Errorf("owner finalizers %s while a blocking dependent exists, want [\"foregroundDeletion\"]", got)
			}
			if out := k.ok(n("get", "replicaset", "fg")...); !regexp.MustCompile(`(?m)^fg\s+0\s+0\s+0\s+\S+$`).MatchString(out) {
				t.Errorf("kubectl get replicaset fg:\n%s", out)
			}
			w := startWait(t, k, n("replicaset/fg")...)
			k.ok(n("patch", "configmap", "fg-held", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)...)
			if code := w.wait(t, controllerWait); code != 0 || w.all.String() != "replicaset.apps/fg condition met\n" {
				t.Errorf("kubectl wait for the foreground owner: exit %d\nstdout:%s\nstderr:%s", code, w.all, w.stderr)
			}
			// With the default --wait, kubectl returns once the owner is gone,
			// so its blocking dependent is gone already.
			k.ok(n("create", "configmap", "fg2")...)
			uid = uidOf(k, n("get", "configmap", "fg2")...)
			dep("fg2-1", "v1", "ConfigMap", "fg2", uid, true, "")
			gcSynced()
			if out := k.ok(n("delete", "configmap", "fg2", "--cascade=foreground")...); out != `configmap "fg2" deleted`+"\n" {
				t.Errorf("delete --cascade=foreground: got %q", out)
			}
			notFound(t, k, n("configmap", "fg2-1")...)

			// Orphan: the dependents stay, without the reference.
			k.ok(n("create", "configmap", "or")...)
			uid = uidOf(k, n("get", "configmap", "or")...)
			dep("or-1", "v1", "ConfigMap", "or", uid, true, "")
			dep("or-2", "v1", "ConfigMap", "or", uid, false, "")
			gcSynced()
			if out := k.ok(n("delete", "configmap", "or", "--cascade=orphan")...); out != `configmap "or" deleted`+"\n" {
				t.Errorf("delete --cascade=orphan: got %q", out)
			}
			for _, d := range []string{"or-1", "or-2"} {
				if got := k.ok(n("get", "configmap", d, "-o", "jsonpath={.metadata.ownerReferences}")...); got != "" {
					t.Errorf("orphaned %s: ownerReferences %s, want none", d, got)
				}
			}
		})

		t.Run("E9 E10 E11 delete namespace waits on a stuck finalizer with the five conditions", func(t *testing.T) {
			t.Parallel()
			k := kv.on(t, s)
			ns := newNS(t, k, "stuck")
			n := func(args ...string) []string { return append([]string{"-n", ns}, args...) }
			k.ok(n("create", "configmap", "c1", "--from-literal=a=b")...)
			k.ok(n("create", "secret", "generic", "s1", "--from-literal=a=b")...)
			scApply(t, k, ns, heldManifest)
			if out := k.ok("delete", "namespace", ns, "--wait=false"); out != `namespace "`+ns+`" deleted`+"\n" {
				t.Errorf("delete namespace: got %q", out)
			}
			want := "NamespaceDeletionDiscoveryFailure=False/ResourcesDiscovered/All resources successfully discovered\n" +
				"NamespaceDeletionGroupVersionParsingFailure=False/ParsedGroupVersions/All legacy kube types successfully parsed\n" +
				"NamespaceDeletionContentFailure=False/ContentDeleted/All content successfully deleted, may be waiting on finalization\n" +
				"NamespaceContentRemaining=True/SomeResourcesRemain/Some resources are remaining: configmaps. has 1 resource instances\n" +
				"NamespaceFinalizersRemaining=True/SomeFinalizersRemain/Some content in the namespace has finalizers remaining: e2e.terminus.dev/hold in 1 resource instances\n"
			eventually(t, controllerWait, func() error {
				got := k.ok("get", "namespace", ns, "-o", `jsonpath={range .status.conditions[*]}{.type}={.status}/{.reason}/{.message}{"\n"}{end}`)
				if got != want {
					return fmt.Errorf("conditions:\n%s\nwant:\n%s", got, want)
				}
				return nil
			})
			if got := k.ok("get", "namespace", ns, "-o", "jsonpath={.status.phase} {.spec.finalizers}"); got != `Terminating ["kubernetes"]` {
				t.Errorf("namespace phase and spec.finalizers %q", got)
			}
			if out := k.ok("get", "namespace", ns); !regexp.MustCompile(`^NAME\s+STATUS\s+AGE\n` + ns + `\s+Terminating\s+\S+\n$`).MatchString(out) {
				t.Errorf("kubectl get namespace:\n%s", out)
			}
			if out := k.ok(n("get", "configmaps,secrets", "-o", "name")...); out != "configmap/held\n" {
				t.Errorf("content left: %q, want only configmap/held", out)
			}
			r := k.run(n("create", "configmap", "late")...)
			if r.code == 0 || !strings.Contains(r.stderr, `configmaps "late" is forbidden: unable to create new content in namespace `+ns+` because it is being terminated`) {
				t.Errorf("create in the Terminating namespace (E5): %s", r)
			}
			k.ok(n("patch", "configmap", "held", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)...)
			if r := k.run("wait", "--for=delete", "namespace/"+ns, "--timeout=60s"); r.code != 0 {
				t.Fatalf("kubectl wait --for=delete namespace: %s", r)
			}
			notFound(t, k, "namespace", ns)
		})

		t.Run("D12 D13 kubectl get events and describe show the GC's OwnerRefInvalidNamespace events", func(t *testing.T) {
			t.Parallel()
			k := kv.on(t, s)
			ownerNS := newNS(t, k, "evowner")
			depNS := newNS(t, k, "evdep")
			k.ok("-n", ownerNS, "create", "configmap", "xowner")
			uid := uidOf(k, "-n", ownerNS, "get", "configmap", "xowner")
			// D12: a dependent in another namespace is collected, with a
			// Warning event in its namespace.
			scApply(t, k, depNS, fmt.Sprintf(kcOwnedConfigMap, "dep", "v1", "ConfigMap", "xowner", uid, false, ""))
			if r := k.run("-n", depNS, "wait", "--for=delete", "configmap/dep", "--timeout=60s"); r.code != 0 {
				t.Fatalf("waiting for the dependent to be collected: %s", r)
			}
			msg := regexp.QuoteMeta(fmt.Sprintf(`ownerRef [v1/ConfigMap, namespace: %s, name: xowner, uid: %s] does not exist in namespace "%s"`, depNS, uid, depNS))
			row := regexp.MustCompile(`(?m)^\S+\s+Warning\s+OwnerRefInvalidNamespace\s+configmap/dep\s+` + msg + `$`)
			eventually(t, controllerWait, func() error {
				out := k.ok("-n", depNS, "get", "events")
				if !row.MatchString(out) {
					return fmt.Errorf("kubectl get events:\n%s", out)
				}
				return nil
			})
			// D13: a cluster-scoped dependent survives; describe shows the
			// event (recorded in namespace default).
			sc := base + "-evsc"
			scApply(t, k, "default", fmt.Sprintf(kcStorageClass, sc, "xowner", uid))
			t.Cleanup(func() { k.run("delete", "storageclass", sc, "--ignore-not-found") })
			msg = regexp.QuoteMeta(fmt.Sprintf(`ownerRef [v1/ConfigMap, namespace: , name: xowner, uid: %s] does not exist in namespace ""`, uid))
			line := regexp.MustCompile(`(?m)^\s+Warning\s+OwnerRefInvalidNamespace\s+\S+\s+garbage-collector-controller\s+` + msg + `$`)
			eventually(t, controllerWait, func() error {
				r := k.run("describe", "storageclass", sc)
				if r.code != 0 || !line.MatchString(r.stdout) {
					return fmt.Errorf("kubectl describe storageclass: %s", r)
				}
				return nil
			})
			out := k.ok("-n", "default", "get", "events", "--field-selector", "involvedObject.name="+sc+",reason=OwnerRefInvalidNamespace",
				"-o", "jsonpath={.items[*].type}/{.items[*].involvedObject.kind}/{.items[*].source.component}")
			if out != "Warning/StorageClass/garbage-collector-controller" {
				t.Errorf("kubectl get events --field-selector: got %q", out)
			}
			if got := k.ok("get", "storageclass", sc, "-o", "jsonpath={.metadata.ownerReferences[0].uid}"); got != uid {
				t.Errorf("the cluster-scoped dependent: ownerReferences uid %q, want %q (never collected, D13)", got, uid)
			}
		})
	})
}
