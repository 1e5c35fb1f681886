package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	agentprocess "github.com/terminus-project/terminus/internal/agent/process"
)

// helperEnv makes the test binary act as a tiny fake API server when it is
// launched by the ready scenario (see TestMain).
const (
	helperEnv   = "TERMINUS_BENCH_TEST_HELPER"
	helperToken = "helper-token"
	helperVer   = "v0.0.0-helper"
)

func TestMain(m *testing.M) {
	// The pod scenario tests run a server with an in-process agent, which
	// re-executes this binary as container shim and pause stand-in.
	agentprocess.MaybeRunShim()
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	// Exits of race-built shims would otherwise look a second late.
	_ = os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// runHelper serves /readyz over TLS, failing the first few probes and
// requiring the bearer token, writes a kubeconfig to args[0] once
// listening, and exits cleanly on SIGTERM.
func runHelper(mode string, args []string) int {
	if mode == "exit" {
		fmt.Fprintln(os.Stderr, "helper: refusing to start")
		return 3
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "helper: want kubeconfig path")
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	var probes atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+helperToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/readyz":
			if probes.Add(1) <= 3 { // not ready for the first probes
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok")
		case "/version":
			_ = json.NewEncoder(w).Encode(version.Info{GitVersion: helperVer})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	if err := writeTestKubeconfig(args[0], srv.URL, srv.Certificate().Raw, helperToken); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	<-term
	return 0
}

func writeTestKubeconfig(path, server string, caDER []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server}
	if caDER != nil {
		cfg.Clusters["c"].CertificateAuthorityData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	return clientcmd.WriteToFile(*cfg, path)
}

// readLines decodes the JSON lines Run wrote.
func readLines(t *testing.T, out *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func newFakeClient() *fake.Clientset {
	c := fake.NewClientset()
	c.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.99.0-fake"}
	return c
}

// assertClean checks nothing the benchmark created is left.
func assertClean(t *testing.T, c *fake.Clientset) {
	t.Helper()
	cms, err := c.CoreV1().ConfigMaps(metav1.NamespaceAll).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) != 0 {
		t.Errorf("%d ConfigMaps left behind", len(cms.Items))
	}
	nss, err := c.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		if strings.HasPrefix(ns.Name, namespacePref) {
			t.Errorf("namespace %s left behind", ns.Name)
		}
	}
}

func TestCreateScenario(t *testing.T) {
	c := newFakeClient()
	var out bytes.Buffer
	o := Options{Scenario: ScenarioCreate, Count: 60, Concurrency: 8, Runs: 2, PayloadBytes: 100}.withDefaults()
	if err := runAPI(context.Background(), o, &out, c, target{server: "fake:443"}); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, &out)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	for i, l := range lines {
		if l["scenario"] != "create" || l["run"] != float64(i+1) || l["count"] != 60.0 || l["concurrency"] != 8.0 ||
			l["server"] != "fake:443" || l["server_version"] != "v1.99.0-fake" || l["errors"] != 0.0 {
			t.Errorf("line %d = %v", i, l)
		}
		if l["objects_per_sec"].(float64) <= 0 || l["max_ms"].(float64) < l["p50_ms"].(float64) {
			t.Errorf("implausible metrics: %v", l)
		}
		if !strings.HasPrefix(l["namespace"].(string), namespacePref) {
			t.Errorf("namespace = %v", l["namespace"])
		}
		if _, err := time.Parse(time.RFC3339, l["time"].(string)); err != nil || l["go_version"] != runtime.Version() {
			t.Errorf("trailer = %v %v", l["time"], l["go_version"])
		}
	}
	// The action log shows every create carried the payload.
	creates := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "configmaps" {
			creates++
			cm := a.(k8stesting.CreateAction).GetObject().(*corev1.ConfigMap)
			if len(cm.Data["payload"]) != 100 || cm.Labels[labelRun] == "" {
				t.Fatalf("created %s with payload %d bytes, labels %v", cm.Name, len(cm.Data["payload"]), cm.Labels)
			}
		}
	}
	if creates != 120 {
		t.Errorf("%d creates, want 120", creates)
	}
	assertClean(t, c)
}

func TestCreateScenarioExistingNamespace(t *testing.T) {
	c := newFakeClient()
	var out bytes.Buffer
	// The user-supplied namespace must survive; a pre-existing object that
	// is not ours must survive too.
	o := Options{Scenario: ScenarioCreate, Count: 20, Concurrency: 4, Namespace: "mine"}.withDefaults()
	if _, err := c.CoreV1().ConfigMaps("mine").Create(context.Background(), testConfigMap("mine", "keep"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := runAPI(context.Background(), o, &out, c, target{server: "fake"}); err != nil {
		t.Fatal(err)
	}
	cms, _ := c.CoreV1().ConfigMaps("mine").List(context.Background(), metav1.ListOptions{})
	if len(cms.Items) != 1 || cms.Items[0].Name != "keep" {
		t.Errorf("namespace has %d ConfigMaps after run, want only %q", len(cms.Items), "keep")
	}
	for _, a := range c.Actions() {
		if a.GetResource().Resource == "namespaces" {
			t.Errorf("touched namespaces with --namespace set: %v", a)
		}
	}
}

func TestCreateScenarioCountsErrors(t *testing.T) {
	c := newFakeClient()
	var n atomic.Int64
	c.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if n.Add(1)%4 == 0 {
			return true, nil, errors.New("injected failure")
		}
		return false, nil, nil
	})
	var out bytes.Buffer
	o := Options{Scenario: ScenarioCreate, Count: 20, Concurrency: 2}.withDefaults()
	if err := runAPI(context.Background(), o, &out, c, target{server: "fake"}); err != nil {
		t.Fatal(err)
	}
	l := readLines(t, &out)[0]
	if l["errors"] != 5.0 || !strings.Contains(l["first_error"].(string), "injected failure") {
		t.Errorf("line = %v, want 5 errors", l)
	}
	assertClean(t, c)

	// When nothing succeeds the run is an error, not a measurement.
	c2 := newFakeClient()
	c2.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, errors.New("forbidden")
	})
	if err := runAPI(context.Background(), o, io.Discard, c2, target{server: "fake"}); err == nil || !strings.Contains(err.Error(), "every create failed") {
		t.Errorf("err = %v, want every-create-failed", err)
	}
	assertClean(t, c2)
}

func TestWatchLatencyScenario(t *testing.T) {
	c := newFakeClient()
	var out bytes.Buffer
	o := Options{Scenario: ScenarioWatchLatency, Count: 60, Concurrency: 2}.withDefaults()
	if err := runAPI(context.Background(), o, &out, c, target{server: "fake"}); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, &out)
	if len(lines) != 1 {
		t.Fatalf("got %d lines", len(lines))
	}
	l := lines[0]
	if l["scenario"] != "watch-latency" || l["count"] != 60.0 || l["missed_events"] != 0.0 || l["errors"] != 0.0 {
		t.Errorf("line = %v", l)
	}
	if l["max_ms"].(float64) < l["p99_ms"].(float64) || l["p99_ms"].(float64) < l["p50_ms"].(float64) {
		t.Errorf("percentiles out of order: %v", l)
	}
	assertClean(t, c)
}

func TestWatchLatencyDefaultsToSequential(t *testing.T) {
	o := Options{Scenario: ScenarioWatchLatency, Count: 20}.withDefaults()
	c := newFakeClient()
	var out bytes.Buffer
	if err := runAPI(context.Background(), o, &out, c, target{server: "fake"}); err != nil {
		t.Fatal(err)
	}
	if l := readLines(t, &out)[0]; l["concurrency"] != 1.0 {
		t.Errorf("concurrency = %v, want 1", l["concurrency"])
	}
}

func testConfigMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func helperLaunch(args ...string) string {
	quoted := []string{"'" + os.Args[0] + "'"}
	for _, a := range args {
		quoted = append(quoted, "'"+a+"'")
	}
	return strings.Join(quoted, " ")
}

func TestReadyScenario(t *testing.T) {
	t.Setenv(helperEnv, "serve")
	var out bytes.Buffer
	o := Options{
		Scenario:         ScenarioReady,
		Launch:           helperLaunch("{tmpdir}/kubeconfig"),
		LaunchKubeconfig: "{tmpdir}/kubeconfig",
		Runs:             2,
		IdleSettle:       time.Millisecond,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, &out)
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %s", len(lines), out.String())
	}
	for _, l := range lines {
		if l["scenario"] != "ready" || l["server_version"] != helperVer || l["killed"] != false {
			t.Errorf("line = %v", l)
		}
		if l["ready_ms"].(float64) <= 0 || l["readyz_polls"].(float64) < 4 {
			t.Errorf("want ready_ms > 0 and at least 4 polls (3 not-ready answers): %v", l)
		}
		if _, ok := l["count"]; ok {
			t.Errorf("ready line has count: %v", l)
		}
		if runtime.GOOS == "linux" && (l["ready_rss_bytes"].(float64) <= 0 || l["idle_rss_bytes"].(float64) <= 0) {
			t.Errorf("missing RSS: %v", l)
		}
	}
}

func TestReadyScenarioReloadsStaleKubeconfig(t *testing.T) {
	t.Setenv(helperEnv, "serve")
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	// A leftover kubeconfig from an earlier start, with a wrong token and
	// a dead server: the prober must pick up the rewritten file.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if err := writeTestKubeconfig(kc, dead.URL, nil, "stale"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := Options{Scenario: ScenarioReady, Launch: helperLaunch(kc), LaunchKubeconfig: kc, IdleSettle: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	if l := readLines(t, &out); len(l) != 1 || l[0]["server_version"] != helperVer {
		t.Errorf("lines = %v", l)
	}
}

func TestReadyScenarioProcessExits(t *testing.T) {
	t.Setenv(helperEnv, "exit")
	o := Options{Scenario: ScenarioReady, Launch: helperLaunch(), LaunchKubeconfig: filepath.Join(t.TempDir(), "kc")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Run(ctx, o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("err = %v, want early-exit error with output", err)
	}
}
