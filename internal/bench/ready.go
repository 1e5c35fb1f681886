package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// pollInterval is the /readyz polling period. Tight, because the
	// quantity measured is itself in the tens of milliseconds.
	pollInterval = 5 * time.Millisecond
	// probeTimeout bounds one /readyz request, so a server that accepts
	// connections before it can answer cannot stall the loop for long.
	probeTimeout = time.Second
	// termGrace is how long the server gets to exit after SIGTERM before
	// it is killed.
	termGrace = 10 * time.Second
	// outputTail is how much of the server's output is kept for error
	// messages.
	outputTail = 8 << 10
	// tmpdirToken is replaced by a fresh temporary directory per run.
	tmpdirToken = "{tmpdir}"
)

// runReady runs the ready scenario o.Runs times.
func runReady(ctx context.Context, o Options, out io.Writer) error {
	for run := 1; run <= o.Runs; run++ {
		res, err := readyOnce(ctx, o, run)
		if err != nil {
			return fmt.Errorf("run %d: %w", run, err)
		}
		if err := res.write(out); err != nil {
			return err
		}
	}
	return nil
}

// readyOnce launches the server once and measures it.
func readyOnce(ctx context.Context, o Options, run int) (res result, err error) {
	launch, kubeconfig := o.Launch, o.LaunchKubeconfig
	if strings.Contains(launch+kubeconfig, tmpdirToken) {
		dir, err := os.MkdirTemp("", "terminus-bench-ready-")
		if err != nil {
			return result{}, fmt.Errorf("create temporary directory: %w", err)
		}
		// Runs after the process has been stopped (defers run LIFO).
		defer func() {
			if rerr := os.RemoveAll(dir); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove %s: %w", dir, rerr))
			}
		}()
		launch = strings.ReplaceAll(launch, tmpdirToken, dir)
		kubeconfig = strings.ReplaceAll(kubeconfig, tmpdirToken, dir)
	}
	args, err := splitCommandLine(launch)
	if err != nil {
		return result{}, fmt.Errorf("--launch: %w", err)
	}

	probe := &readyProber{path: kubeconfig}
	defer probe.close()

	started := time.Now()
	proc, err := startProcess(args)
	if err != nil {
		return result{}, err
	}
	defer proc.stop() // no-op once stopped below

	// Poll until ready. The kubeconfig may not exist yet, may be stale from
	// an earlier start, or may be rewritten while we poll; the prober
	// reloads it whenever it changes.
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	deadline := time.NewTimer(o.ReadyTimeout)
	defer deadline.Stop()
	polls := 0
	for {
		polls++
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		ok := probe.poll(pctx)
		cancel()
		if ok {
			break
		}
		select {
		case <-ticker.C:
		case <-proc.exited:
			return result{}, fmt.Errorf("%s exited before it was ready (%v); last probe: %v; output:\n%s",
				args[0], proc.waitErr, probe.lastErr, proc.output.String())
		case <-deadline.C:
			return result{}, fmt.Errorf("not ready after %s; last probe: %v; output:\n%s",
				o.ReadyTimeout, probe.lastErr, proc.output.String())
		case <-ctx.Done():
			return result{}, ctx.Err()
		}
	}
	readyAfter := time.Since(started)
	pid := proc.cmd.Process.Pid
	readyRSS, rssErr := readRSS(pid)

	// Best effort: a server that is ready but has no /version is still
	// measured, just without a version string.
	version := ""
	if cs, err := kubernetes.NewForConfig(probe.cfg); err == nil {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			version = v.GitVersion
		}
	}

	settle := time.NewTimer(o.IdleSettle)
	defer settle.Stop()
	select {
	case <-settle.C:
	case <-proc.exited:
		return result{}, fmt.Errorf("%s exited %s after becoming ready (%v); output:\n%s",
			args[0], time.Since(started)-readyAfter, proc.waitErr, proc.output.String())
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	idleRSS, idleErr := readRSS(pid)

	shutdown, killed := proc.stop()

	m := []metric{
		{"ready_ms", ms(readyAfter)},
		{"readyz_polls", polls},
	}
	// RSS comes from /proc and is therefore Linux-only; elsewhere the keys
	// are left out rather than reported as a misleading zero.
	if rssErr == nil {
		m = append(m, metric{"ready_rss_bytes", readyRSS})
	}
	if idleErr == nil {
		m = append(m, metric{"idle_rss_bytes", idleRSS})
	}
	m = append(m, metric{"shutdown_ms", ms(shutdown)}, metric{"killed", killed})
	return result{
		Scenario:      ScenarioReady,
		Run:           run,
		Server:        hostOf(probe.cfg),
		ServerVersion: version,
		Metrics:       m,
		Time:          started,
	}, nil
}

// process is a launched server.
type process struct {
	cmd     *exec.Cmd
	output  *tailBuffer
	exited  chan struct{} // closed when Wait returned; waitErr is then set
	waitErr error

	stopOnce sync.Once
	stopDur  time.Duration
	killed   bool
}

func startProcess(args []string) (*process, error) {
	p := &process{output: &tailBuffer{max: outputTail}, exited: make(chan struct{})}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	// If the server leaves children holding its stdout open, Wait must
	// not block on them forever.
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM, waits up to termGrace, then kills. It returns how
// long shutdown took and whether a kill was needed. Safe to call repeatedly.
func (p *process) stop() (time.Duration, bool) {
	p.stopOnce.Do(func() {
		start := time.Now()
		select {
		case <-p.exited:
			return
		default:
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			// Not supported (Windows) or already gone: fall through to kill.
			_ = p.cmd.Process.Kill()
			p.killed = true
		}
		grace := time.NewTimer(termGrace)
		defer grace.Stop()
		select {
		case <-p.exited:
		case <-grace.C:
			_ = p.cmd.Process.Kill()
			p.killed = true
			<-p.exited
		}
		p.stopDur = time.Since(start)
	})
	return p.stopDur, p.killed
}

// readyProber polls /readyz using the credentials of a kubeconfig that
// may appear or change while polling.
type readyProber struct {
	path    string
	loaded  os.FileInfo // stat of the kubeconfig behind client
	cfg     *rest.Config
	client  *http.Client
	url     string
	lastErr error
}

// poll reports whether /readyz answered 200.
func (p *readyProber) poll(ctx context.Context) bool {
	fi, err := os.Stat(p.path)
	if err != nil {
		p.lastErr = fmt.Errorf("kubeconfig: %w", err)
		return false
	}
	if p.client == nil || !sameVersion(fi, p.loaded) {
		if err := p.load(fi); err != nil {
			p.lastErr = err
			return false
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		p.lastErr = err
		return false
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.lastErr = err
		return false
	}
	// Drain so the connection is reused for the next poll.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.lastErr = fmt.Errorf("GET %s: %s", p.url, resp.Status)
		return false
	}
	return true
}

func (p *readyProber) load(fi os.FileInfo) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", p.path)
	if err != nil {
		// Likely written non-atomically and caught half-way; retry.
		return fmt.Errorf("load kubeconfig %s: %w", p.path, err)
	}
	cfg.UserAgent = userAgent
	cfg.Timeout = probeTimeout
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: server URL: %w", p.path, err)
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", p.path, err)
	}
	p.close()
	p.cfg, p.client, p.loaded = cfg, client, fi
	p.url = u.JoinPath("readyz").String()
	return nil
}

func (p *readyProber) close() {
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// sameVersion reports whether two stats describe the same file contents,
// as far as cheaply knowable: atomic replacement changes the inode, an
// in-place rewrite changes size or mtime.
func sameVersion(a, b os.FileInfo) bool {
	return b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// readRSS returns the resident set size of pid in bytes, from
// /proc/<pid>/status (Linux only).
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS extracts VmRSS (reported by the kernel in kB) in bytes.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	return 0, errors.New("no VmRSS in status (zombie or kernel thread?)")
}

// splitCommandLine splits s into words the way a POSIX shell would for a
// simple command: whitespace separates words, single quotes preserve
// everything literally, double quotes preserve everything except \" and
// \\, and a backslash outside quotes escapes the next character. No
// variable, glob or tilde expansion happens; the command is exec'd
// directly so the measured PID is the server, not a shell.
func splitCommandLine(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if escaped {
		return nil, fmt.Errorf("trailing backslash in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// tailBuffer keeps the last max bytes written to it. The launched
// process's stdout/stderr go here: unbounded capture could grow without
// limit for a chatty server, and only the end matters for diagnosing a
// failed start.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
