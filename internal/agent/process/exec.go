package process

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultExecOutputLimit is how much output an Exec keeps: kubelet reads
// at most 10 KiB of an exec probe's output.
const DefaultExecOutputLimit = 10 * 1024

// execWaitDelay bounds how long Exec waits for the output pipes once the
// command has exited or been killed (a background descendant may hold
// them).
const execWaitDelay = time.Second

// ExecSpec is a command to run in a container's environment: a preStop or
// postStart exec hook, or an exec probe.
type ExecSpec struct {
	// Command is the argv; Command[0] is looked up in the container's PATH.
	Command []string
	// Env is added to the container's environment (later wins).
	Env []string
	// Timeout kills the command (its whole process group) when it runs
	// longer; 0 means only ctx bounds it. Measured on the runtime's clock.
	Timeout time.Duration
	// OutputLimit caps the combined stdout and stderr kept; 0 means
	// DefaultExecOutputLimit.
	OutputLimit int
}

// ExecResult is how an Exec ended.
type ExecResult struct {
	// ExitCode is the command's exit status, 128 + signal if a signal
	// ended it.
	ExitCode int
	// Output is the command's stdout and stderr interleaved, cut at the
	// limit (Truncated then).
	Output    []byte
	Truncated bool
}

// Exec runs a command in c's environment: its working directory and
// environment, with stdin closed, in a process group of its own so a
// timeout or ctx's end kills the command and its descendants. It returns
// the result when the command exits; an error matching ErrExecTimeout (and
// the partial result) when Timeout ran out; ctx's error when ctx ended; an
// error matching ErrNotRunning if the container has exited. The command
// is the agent's child, not the shim's: an agent killed meanwhile leaves
// it running, as kubelet leaves a preStop hook (spec G6 step 4).
func (r *Runtime) Exec(ctx context.Context, c *Container, spec ExecSpec) (ExecResult, error) {
	if len(spec.Command) == 0 {
		return ExecResult{}, errors.New("process: ExecSpec needs a Command")
	}
	if !c.Running() {
		return ExecResult{}, fmt.Errorf("exec in %s: %w", c.dir, ErrNotRunning)
	}
	env := withDefaultPath(append(append([]string{}, c.cfg.Env...), spec.Env...))
	path, err := lookPath(spec.Command[0], c.cfg.WorkingDir, env)
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec in %s: %w", c.dir, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	var timers sync.WaitGroup
	defer func() { cancel(); timers.Wait() }() // the timer goroutine ends with ctx
	if spec.Timeout > 0 {
		t := r.clock.NewTimer(spec.Timeout)
		timers.Go(func() {
			defer t.Stop()
			select {
			case <-t.C():
				timedOut.Store(true)
				cancel()
			case <-ctx.Done():
			}
		})
	}

	limit := spec.OutputLimit
	if limit <= 0 {
		limit = DefaultExecOutputLimit
	}
	out := &limitedBuffer{limit: limit}
	cmd := exec.CommandContext(ctx, path, spec.Command[1:]...)
	cmd.Args[0] = spec.Command[0]
	cmd.Env = env
	cmd.Dir = c.cfg.WorkingDir
	cmd.Stdout, cmd.Stderr = out, out // the same writer: one Write at a time
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, unix.SIGKILL) }
	cmd.WaitDelay = execWaitDelay
	runErr := cmd.Run()

	res := ExecResult{Output: out.bytes(), Truncated: out.truncated()}
	if cmd.ProcessState != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			res.ExitCode, _ = exitCode(unix.WaitStatus(ws))
		}
	}
	switch {
	case timedOut.Load():
		return res, fmt.Errorf("exec %q in %s after %v: %w", spec.Command[0], c.dir, spec.Timeout, ErrExecTimeout)
	case ctx.Err() != nil && cmd.ProcessState != nil && !cmd.ProcessState.Success():
		return res, fmt.Errorf("exec %q in %s: %w", spec.Command[0], c.dir, context.Cause(ctx))
	case cmd.ProcessState == nil:
		return res, fmt.Errorf("exec %q in %s: %w", spec.Command[0], c.dir, runErr)
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) && !errors.Is(runErr, exec.ErrWaitDelay) {
		return res, fmt.Errorf("exec %q in %s: %w", spec.Command[0], c.dir, runErr)
	}
	return res, nil
}

// limitedBuffer keeps the first limit bytes written and drops the rest
// (still reporting them written, so the command never blocks on output).
type limitedBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - len(b.buf)
	if len(p) > room {
		b.buf = append(b.buf, p[:max(room, 0)]...)
		b.over = true
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *limitedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

func (b *limitedBuffer) truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}
