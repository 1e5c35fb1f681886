package process

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestExecStream(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "follow:0")
	waitEvent(t, rec, "ready", 1)
	exe := testExe(t)

	t.Run("stdin is echoed, stderr apart, the exit code returned", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code, err := r.ExecStream(testCtx(t), c, ExecStreamSpec{
			Command: []string{exe}, Env: []string{programEnv + "=cat:5"},
			Stdin: strings.NewReader("hello\n"), Stdout: &stdout, Stderr: &stderr,
		})
		if err != nil || code != 5 {
			t.Errorf("exit %d, %v; want 5, nil", code, err)
		}
		if stdout.String() != "hello\n" || stderr.String() != "done" {
			t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
		}
	})

	t.Run("without a TTY stdin is no terminal", func(t *testing.T) {
		var stdout bytes.Buffer
		code, err := r.ExecStream(testCtx(t), c, ExecStreamSpec{
			Command: []string{exe}, Env: []string{programEnv + "=tty"},
			Stdin: strings.NewReader("q"), Stdout: &stdout,
		})
		if err != nil || code != 0 || !strings.HasPrefix(stdout.String(), "tty=false") {
			t.Errorf("exit %d, %v, output %q", code, err, stdout.String())
		}
	})

	t.Run("TTY: a terminal of the given size, resized", func(t *testing.T) {
		resize := make(chan TerminalSize, 1)
		resize <- TerminalSize{Width: 80, Height: 24}
		stdinR, stdinW := io.Pipe()
		defer func() { _ = stdinW.Close() }()
		outR, outW := io.Pipe()
		type result struct {
			code int
			err  error
		}
		done := make(chan result, 1)
		go func() {
			code, err := r.ExecStream(testCtx(t), c, ExecStreamSpec{
				Command: []string{exe}, Env: []string{programEnv + "=tty"},
				Stdin: stdinR, Stdout: outW, TTY: true, Resize: resize,
			})
			_ = outW.Close()
			done <- result{code, err}
		}()
		lines := bufio.NewScanner(outR)
		next := func() string {
			if !lines.Scan() {
				t.Fatalf("output ended: %v", lines.Err())
			}
			return strings.TrimRight(lines.Text(), "\r") // the terminal's ONLCR
		}
		if l := next(); l != "tty=true size=80x24" {
			t.Errorf("first report %q", l)
		}
		resize <- TerminalSize{Width: 100, Height: 40}
		if l := next(); l != "tty=true size=100x40" {
			t.Errorf("after resize %q", l)
		}
		// A newline: the terminal is in canonical mode, line by line.
		if _, err := io.WriteString(stdinW, "q\n"); err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, outR) }() // the echoed "q"
		if res := <-done; res.err != nil || res.code != 0 {
			t.Errorf("exit %d, %v", res.code, res.err)
		}
	})

	t.Run("TTY exec ends with its context, killed", func(t *testing.T) {
		ctx, cancel := testCtxCancel(t)
		stdinR, stdinW := io.Pipe()
		defer func() { _ = stdinW.Close() }()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := r.ExecStream(ctx, c, ExecStreamSpec{
				Command: []string{exe}, Env: []string{programEnv + "=tty"},
				Stdin: stdinR, Stdout: outW, TTY: true,
			})
			_ = outW.Close()
			done <- err
		}()
		if l, err := bufio.NewReader(outR).ReadString('\n'); err != nil || !strings.HasPrefix(l, "tty=true") {
			t.Fatalf("report %q, %v", l, err)
		}
		go func() { _, _ = io.Copy(io.Discard, outR) }()
		cancel()
		if err := <-done; err == nil {
			t.Error("ExecStream after cancel: nil error")
		}
	})

	t.Run("attach streams output from now on, per stream", func(t *testing.T) {
		a, arec := start(t, r, "tick:3")
		waitEvent(t, arec, "ready", 1)
		// The three lines are in the log before Attach: they are not sent.
		waitFor(t, "three lines logged", func() bool { return fileContains(a.LogPath(), "line 3") })
		var stdout, stderr lockedBuffer
		done := make(chan error, 1)
		go func() { done <- r.Attach(testCtx(t), a, nil, &stdout, &stderr) }()
		// Output from before Attach follows the log is lost, so tick
		// until a tick arrives.
		waitFor(t, "a tick attached", func() bool {
			_ = a.Signal(syscall.SIGUSR1)
			return strings.Contains(stdout.String(), "tick\n")
		})
		if err := a.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if out := stdout.String(); strings.Contains(out, "line") || strings.Trim(strings.ReplaceAll(out, "tick\n", ""), "\n") != "" {
			t.Errorf("stdout %q: want ticks only", out)
		}
		if stderr.String() != "bye\n" {
			t.Errorf("stderr %q", stderr.String())
		}
	})

	t.Run("attach refuses stdin", func(t *testing.T) {
		if err := r.Attach(testCtx(t), c, strings.NewReader(""), io.Discard, nil); !errors.Is(err, ErrAttachStdin) {
			t.Errorf("err %v, want ErrAttachStdin", err)
		}
	})

	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wait(t, c)
	if _, err := r.ExecStream(testCtx(t), c, ExecStreamSpec{Command: []string{exe}}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("ExecStream in an exited container: %v, want ErrNotRunning", err)
	}
	if err := r.Attach(testCtx(t), c, nil, io.Discard, io.Discard); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Attach to an exited container: %v, want ErrNotRunning", err)
	}
}

// lockedBuffer is written by Attach while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
