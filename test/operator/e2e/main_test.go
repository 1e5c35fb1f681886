// Package e2e runs the widget operator against the real terminus binary: it
// builds terminus (from the repository root, ../..) and cmd/widget-operator
// once, starts a fresh "terminus serve --storage=memory" per test, installs
// the embedded widgets.example.com CRD through the API and drives the
// operator with controller-runtime managers (in-process) or as a process.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/terminus-project/terminus/test/operator/config/crd"
	"github.com/terminus-project/terminus/test/operator/controller"
)

var (
	terminusBin string // built by TestMain from the repository root
	operatorBin string // cmd/widget-operator, built by TestMain
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// controller-runtime logs go to stderr, which go test shows for failing
	// packages (or with -v).
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))

	opRoot, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "operator e2e:", err)
		return 1
	}
	repoRoot := filepath.Join(opRoot, "..", "..")
	dir, err := os.MkdirTemp("", "terminus-operator-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "operator e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	terminusBin = filepath.Join(dir, "terminus")
	operatorBin = filepath.Join(dir, "widget-operator")
	builds := []struct{ dir, out, pkg string }{
		{repoRoot, terminusBin, "./cmd/terminus"},
		{opRoot, operatorBin, "./cmd/widget-operator"},
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "operator e2e: building %s in %s failed: %v\n", b.pkg, b.dir, err)
			return 1
		}
	}
	return m.Run()
}

// eventually calls f every 100 ms until it returns nil, failing the test
// with f's last error when timeout passes first.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is an io.Writer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a child process whose stdout is scanned line by line.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	lines  chan string   // stdout lines, closed at EOF
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts bin with args. A cleanup stops it with SIGTERM and
// fails the test unless it exits with status 0 within 15 s.
func startProcess(t testing.TB, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{
		name:   name,
		cmd:    exec.Command(bin, args...),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		lines:  make(chan string, 1024),
		done:   make(chan struct{}),
	}
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			p.stdout.Write([]byte(line + "\n"))
			select {
			case p.lines <- line:
			default: // nobody is listening any more; keep draining
			}
		}
		_, _ = io.Copy(io.Discard, out)
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// waitLine reads stdout until a line matches re, and returns its submatches.
func (p *process) waitLine(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.done
				t.Fatalf("%s exited (%v) before printing a line matching %q\nstdout:\n%s\nstderr:\n%s",
					p.name, p.err, re, p.stdout, p.stderr)
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("%s printed no line matching %q within %v\nstdout:\n%s\nstderr:\n%s",
				p.name, re, timeout, p.stdout, p.stderr)
		}
	}
}

// stop sends SIGTERM and waits up to 15 s for a clean (zero) exit; past that
// it kills the process.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-p.done:
			if p.err != nil {
				p.stopErr = fmt.Errorf("%s did not exit cleanly after SIGTERM: %v\nstderr:\n%s", p.name, p.err, p.stderr)
			}
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			p.stopErr = fmt.Errorf("%s did not exit within 15s of SIGTERM\nstderr:\n%s", p.name, p.stderr)
		}
	})
	return p.stopErr
}

var (
	servingRE    = regexp.MustCompile(`^terminus is serving at (https://\S+)$`)
	kubeconfigRE = regexp.MustCompile(`^kubeconfig: (\S+)$`)
)

// server is a running "terminus serve".
type server struct {
	*process
	url        string
	kubeconfig string
}

// startServer runs "terminus serve --storage=memory" on a fresh data
// directory, without a node agent, and waits until it says it is serving.
func startServer(t testing.TB) *server {
	t.Helper()
	dir := t.TempDir()
	p := startProcess(t, "terminus serve", terminusBin, "serve", "--storage=memory",
		"--data-dir", dir, "--secure-port", "0", "--node-agent=false")
	s := &server{process: p}
	s.url = p.waitLine(t, servingRE, 60*time.Second)[1]
	s.kubeconfig = p.waitLine(t, kubeconfigRE, 5*time.Second)[1]
	return s
}

// env is one test's server with the Widget CRD installed and a namespace
// to work in.
type env struct {
	srv *server
	cfg *rest.Config
	c   client.Client        // controller-runtime client (no cache)
	cs  kubernetes.Interface // client-go clientset
	ext apiextensionsclient.Interface
	ns  string
}

// newEnv starts a server, creates the embedded CRD, waits for it to be
// Established and creates a namespace.
func newEnv(t *testing.T) *env {
	t.Helper()
	s := startServer(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", s.kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	e := &env{srv: s, cfg: cfg, ns: "widgets"}
	if e.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if e.ext, err = apiextensionsclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	def, err := crd.Widgets()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, def, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating CRD %s: %v", crd.Name, err)
	}
	eventually(t, 30*time.Second, func() error {
		got, err := e.ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("CRD %s not Established; conditions: %+v", crd.Name, got.Status.Conditions)
	})

	// The client is made after the CRD is served, so its REST mapper finds
	// example.com/v1 at once.
	if e.c, err = client.New(cfg, client.Options{Scheme: controller.Scheme()}); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}
	if err := e.c.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace %s: %v", e.ns, err)
	}
	return e
}

// runningManager is a controller-runtime manager started in a goroutine.
type runningManager struct {
	name   string
	mgr    ctrl.Manager
	cancel context.CancelFunc
	done   chan struct{}
	err    error // mgr.Start's result, valid after done
}

// startManager builds a manager with controller.NewManager and starts it
// with its own context. A cleanup stops it (if the test has not) and fails
// the test if it does not stop within 30 s or stops with an error.
func startManager(t *testing.T, e *env, name string, opts controller.Options) *runningManager {
	t.Helper()
	opts.SkipNameValidation = true // several managers may run in this process
	mgr, err := controller.NewManager(rest.CopyConfig(e.cfg), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rm := &runningManager{name: name, mgr: mgr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rm.done)
		rm.err = mgr.Start(ctx)
	}()
	t.Cleanup(func() {
		if err := rm.stop(); err != nil {
			t.Error(err)
		}
	})
	return rm
}

// stop cancels the manager's context and waits for Start to return.
func (rm *runningManager) stop() error {
	rm.cancel()
	select {
	case <-rm.done:
		if rm.err != nil {
			return fmt.Errorf("manager %s stopped with an error: %w", rm.name, rm.err)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("manager %s did not stop within 30s of its context being cancelled", rm.name)
	}
}

// elected reports whether the manager has won leader election.
func (rm *runningManager) elected() bool {
	select {
	case <-rm.mgr.Elected():
		return true
	default:
		return false
	}
}

// rawRequest sends an authenticated request to the server and returns the
// status code and body.
func rawRequest(t testing.TB, cfg *rest.Config, method, path, accept string, body []byte) (int, []byte) {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(cfg.Host, "/")+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, b
}
