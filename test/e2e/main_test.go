// Package e2e is terminus' end-to-end test suite. It builds the terminus
// binary once, runs it as a user would (terminus serve, terminus etcd) and
// drives it with kubectl, client-go and raw HTTPS. It deliberately imports no
// terminus internal package: everything it checks is observable from outside
// the process.
//
// Rule ids in subtest names ("A2", "I8", "J3", ...) refer to
// /work/shared/spec/lifecycle.md.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// terminusBin is the binary built by TestMain.
var terminusBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot find the module root:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "terminus-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	terminusBin = filepath.Join(dir, "terminus")
	build := exec.Command("go", "build", "-o", terminusBin, "./cmd/terminus")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building terminus failed:", err)
		return 1
	}
	return m.Run()
}

// moduleRoot is the directory of the go.mod governing this package, falling
// back to ../.. (test/e2e is two levels below the root).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", err
	}
	return root, nil
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

// process is a terminus child process whose stdout is scanned line by line.
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

func startProcess(t testing.TB, name string, args ...string) *process {
	t.Helper()
	p := &process{
		name:   name,
		cmd:    exec.Command(terminusBin, args...),
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
		for sc.Scan() {
			line := sc.Text()
			p.stdout.Write([]byte(line + "\n"))
			select {
			case p.lines <- line:
			default: // nobody is listening any more; keep draining
			}
		}
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
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

// stop sends SIGTERM and waits up to 15 s for a clean (zero) exit.
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

// kill stops the process with SIGKILL (a crash), without checking anything.
func (p *process) kill() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
}

// server is a running "terminus serve".
type server struct {
	*process
	dataDir    string
	url        string
	kubeconfig string
}

var servingRE = regexp.MustCompile(`^terminus is serving at (https://\S+)$`)
var kubeconfigRE = regexp.MustCompile(`^kubeconfig: (\S+)$`)

// startServer runs terminus serve on a fresh data directory; see
// startServerIn.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), args...)
}

// startServerIn runs "terminus serve --data-dir dir --secure-port 0 args..."
// and waits until it says it is serving. A cleanup stops it with SIGTERM
// and fails the test unless it exits with status 0 within 15 s.
//
// Without a --node-agent argument the server runs no node agent, so pods
// stay unscheduled (or Terminating, G12) as the API-level tests expect;
// the tests of running pods ask for one (startServerWithAgent).
func startServerIn(t testing.TB, dir string, args ...string) *server {
	t.Helper()
	all := []string{"serve", "--data-dir", dir, "--secure-port", "0"}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--node-agent") }) {
		all = append(all, "--node-agent=false")
	}
	all = append(all, args...)
	p := startProcess(t, "terminus serve", all...)
	s := &server{process: p, dataDir: dir}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	s.url = p.waitLine(t, servingRE, 60*time.Second)[1]
	s.kubeconfig = p.waitLine(t, kubeconfigRE, 5*time.Second)[1]
	if want := filepath.Join(dir, "kubeconfig"); s.kubeconfig != want {
		t.Errorf("kubeconfig line: got %q, want %q", s.kubeconfig, want)
	}
	return s
}

// restConfig is the admin client configuration from the server's kubeconfig.
func (s *server) restConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", s.kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	return cfg
}

func (s *server) clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(s.restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// kubectl is one kubectl binary.
type kubectl struct {
	name string // "kubectl" or "kubectl.1.27"
	path string
}

// kubectlVersions lists the kubectl binaries the suite runs against: kubectl
// on PATH and kubectl.1.27 next to the file it resolves to. Missing ones are
// returned with an empty path, so that callers skip them.
func kubectlVersions() []kubectl {
	ks := []kubectl{{name: "kubectl"}, {name: "kubectl.1.27"}}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		return ks
	}
	ks[0].path = p
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return ks
	}
	old := filepath.Join(filepath.Dir(real), "kubectl.1.27")
	if fi, err := os.Stat(old); err == nil && !fi.IsDir() {
		ks[1].path = old
	}
	return ks
}

// forEachKubectl runs f in a parallel subtest per kubectl version, skipping
// versions that are not installed.
func forEachKubectl(t *testing.T, f func(t *testing.T, k kubectl)) {
	for _, k := range kubectlVersions() {
		t.Run(k.name, func(t *testing.T) {
			if k.path == "" {
				t.Skipf("%s is not installed", k.name)
			}
			t.Parallel()
			f(t, k)
		})
	}
}

// kc is a kubectl bound to one server and one test (its own cache dir).
type kc struct {
	kubectl
	t        *testing.T
	s        *server
	cacheDir string
}

func (k kubectl) on(t *testing.T, s *server) *kc {
	return &kc{kubectl: k, t: t, s: s, cacheDir: t.TempDir()}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cmd prepares a kubectl command; env entries are added to the environment.
func (k *kc) cmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	all := append([]string{"--cache-dir", k.cacheDir}, args...)
	c := exec.CommandContext(ctx, k.path, all...)
	c.Env = append(os.Environ(), "KUBECONFIG="+k.s.kubeconfig, "HOME="+k.cacheDir)
	c.Env = append(c.Env, env...)
	c.WaitDelay = 5 * time.Second
	return c
}

// runIn runs kubectl with stdin and extra environment, with a 60 s bound.
func (k *kc) runIn(stdin string, env []string, args ...string) result {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := k.cmd(ctx, env, args...)
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		k.t.Fatalf("kubectl %s did not finish within 60s\n%s", strings.Join(args, " "), r)
	}
	return r
}

// run runs kubectl and returns its result, whatever the exit code.
func (k *kc) run(args ...string) result {
	k.t.Helper()
	return k.runIn("", nil, args...)
}

// ok runs kubectl and fails the test unless it exits 0; it returns stdout.
func (k *kc) ok(args ...string) string {
	k.t.Helper()
	r := k.run(args...)
	if r.code != 0 {
		k.t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// stream is a background kubectl whose stdout is read line by line.
type stream struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	lines  chan string
	stderr *syncBuffer
	all    *syncBuffer
	done   chan struct{}
	err    error
}

// start runs kubectl in the background; a cleanup kills it if still running.
func (k *kc) start(args ...string) *stream {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	st := &stream{cancel: cancel, lines: make(chan string, 256), stderr: &syncBuffer{}, all: &syncBuffer{}, done: make(chan struct{})}
	st.cmd = k.cmd(ctx, nil, args...)
	st.cmd.Stderr = st.stderr
	out, err := st.cmd.StdoutPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	if err := st.cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			st.all.Write([]byte(sc.Text() + "\n"))
			st.lines <- sc.Text()
		}
		close(st.lines)
		st.err = st.cmd.Wait()
		close(st.done)
	}()
	k.t.Cleanup(func() {
		cancel()
		<-st.done
	})
	return st
}

// expect reads lines until one matches re (within timeout) and returns it.
func (st *stream) expect(t testing.TB, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-st.lines:
			if !ok {
				<-st.done
				t.Fatalf("kubectl ended (%v) without a line matching %q\nstdout:\n%s\nstderr:\n%s", st.err, re, st.all, st.stderr)
			}
			if re.MatchString(line) {
				return line
			}
		case <-deadline:
			t.Fatalf("no line matching %q within %v\nstdout:\n%s\nstderr:\n%s", re, timeout, st.all, st.stderr)
		}
	}
}

// wait waits (bounded) for the command to exit and returns its exit code.
func (st *stream) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	go func() {
		for range st.lines { // keep draining
		}
	}()
	select {
	case <-st.done:
	case <-time.After(timeout):
		t.Fatalf("kubectl did not exit within %v\nstdout:\n%s\nstderr:\n%s", timeout, st.all, st.stderr)
	}
	var ee *exec.ExitError
	if errors.As(st.err, &ee) {
		return ee.ExitCode()
	}
	if st.err != nil {
		t.Fatalf("kubectl: %v", st.err)
	}
	return 0
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls cond every 50 ms until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
