package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TerminalSize is a terminal's size in characters (remotecommand's
// resize message).
type TerminalSize struct {
	Width  uint16
	Height uint16
}

// ExecStreamSpec is an interactive command (kubectl exec): its streams
// are connected while it runs, not collected.
type ExecStreamSpec struct {
	// Command is the argv; Command[0] is looked up in the container's PATH.
	Command []string
	// Env is added to the container's environment (later wins).
	Env []string
	// Stdin, if set, is copied to the command's standard input, which is
	// closed at Stdin's EOF (without TTY); nil means /dev/null.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; nil discards it.
	// With TTY everything comes on Stdout, as on a terminal.
	Stdout io.Writer
	Stderr io.Writer
	// TTY runs the command on a new pseudo-terminal, as its controlling
	// terminal (kubectl exec -t).
	TTY bool
	// Resize sets the terminal's size, the first one before the command
	// starts if it is already there (TTY only; may be nil).
	Resize <-chan TerminalSize
}

// ExecStream runs an interactive command in c's environment (kubectl
// exec), with the semantics of Exec — working directory and environment,
// a process group of its own that ctx's end kills, ErrNotRunning for an
// exited container — but with the spec's streams connected. It returns
// the exit code (128 + signal if a signal ended it) once the command has
// exited and its output is copied (for at most a second after the exit,
// as a background descendant may hold it); err is for not running it at
// all, or ctx ending.
//
// A read of Stdin in progress when the command exits cannot be
// interrupted: it ends when the caller closes Stdin, as the kubelet API
// does with the connection (upstream's stdin copy behaves alike).
func (r *Runtime) ExecStream(ctx context.Context, c *Container, spec ExecStreamSpec) (exitCode int, err error) {
	if len(spec.Command) == 0 {
		return 0, errors.New("process: ExecStreamSpec needs a Command")
	}
	if !c.Running() {
		return 0, fmt.Errorf("exec in %s: %w", c.dir, ErrNotRunning)
	}
	env := withDefaultPath(append(append([]string{}, c.cfg.Env...), spec.Env...))
	path, err := lookPath(spec.Command[0], c.cfg.WorkingDir, env)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", c.dir, err)
	}
	cmd := exec.CommandContext(ctx, path, spec.Command[1:]...)
	cmd.Args[0] = spec.Command[0]
	cmd.Env = env
	cmd.Dir = c.cfg.WorkingDir
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, unix.SIGKILL) }
	cmd.WaitDelay = execWaitDelay

	var runErr error
	if spec.TTY {
		runErr = runOnTerminal(ctx, cmd, spec)
	} else {
		runErr = runWithPipes(cmd, spec)
	}
	if cmd.ProcessState == nil {
		return 0, fmt.Errorf("exec %q in %s: %w", spec.Command[0], c.dir, runErr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		exitCode = waitExitCode(unix.WaitStatus(ws))
	}
	if ctx.Err() != nil && !cmd.ProcessState.Success() {
		return exitCode, fmt.Errorf("exec %q in %s: %w", spec.Command[0], c.dir, context.Cause(ctx))
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) && !errors.Is(runErr, exec.ErrWaitDelay) {
		return exitCode, fmt.Errorf("exec %q in %s: %w", spec.Command[0], c.dir, runErr)
	}
	return exitCode, nil
}

// waitExitCode is exitCode's code, named apart from ExecStream's result.
func waitExitCode(ws unix.WaitStatus) int {
	code, _ := exitCode(ws)
	return code
}

// runWithPipes runs cmd with its streams on pipes, os/exec copying the
// output (bounded by WaitDelay once the command exited).
func runWithPipes(cmd *exec.Cmd, spec ExecStreamSpec) error {
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdin io.WriteCloser
	if spec.Stdin != nil {
		// Our own copy rather than cmd.Stdin: os/exec would make Wait
		// wait for the reader, that is for the client, after the exit.
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return fmt.Errorf("stdin pipe: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	if stdin != nil {
		go func() {
			// Wait closes the pipe when the command exits, which ends
			// this copy at its next write.
			_, _ = io.Copy(stdin, spec.Stdin)
			_ = stdin.Close()
		}()
	}
	return cmd.Wait()
}

// runOnTerminal runs cmd on a new pseudo-terminal as its controlling
// terminal, in a session of its own (so it is also its process group's
// leader, and Cancel's kill(-pid) reaches its descendants), copying the
// terminal's output to Stdout and Stdin to the terminal, and applying
// Resize.
func runOnTerminal(ctx context.Context, cmd *exec.Cmd, spec ExecStreamSpec) error {
	ptm, pts, err := openPTY()
	if err != nil {
		return err
	}
	defer func() { _ = ptm.Close() }()
	// The first size before the start, so the command sees it at once.
	select {
	case size, ok := <-spec.Resize:
		if ok {
			_ = setWinsize(ptm, size)
		}
	default:
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	// The child has its copy; ours would keep the terminal open after
	// the command exits, and reading the master would never end.
	_ = pts.Close()
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	outDone := make(chan struct{})
	wg.Go(func() {
		defer close(outDone)
		out := spec.Stdout
		if out == nil {
			out = io.Discard
		}
		// Reading the master fails with EIO once no process has the
		// terminal open any more: that is its EOF.
		_, _ = io.Copy(out, ptm)
	})
	if spec.Resize != nil {
		wg.Go(func() {
			for {
				select {
				case size, ok := <-spec.Resize:
					if !ok {
						return
					}
					_ = setWinsize(ptm, size)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	if spec.Stdin != nil {
		// Not in wg: a pending read of Stdin cannot be interrupted (see
		// ExecStream); closing the master ends it at its next write. At
		// Stdin's EOF the terminal stays open, as a terminal does.
		go func() { _, _ = io.Copy(ptm, spec.Stdin) }()
	}
	waitErr := cmd.Wait()
	// Output still buffered in the terminal is read before the EIO; a
	// background descendant holding the terminal gets WaitDelay's grace.
	t := time.NewTimer(cmd.WaitDelay)
	defer t.Stop()
	select {
	case <-outDone:
	case <-t.C:
		_ = ptm.Close() // ends the copy
	}
	return waitErr
}

// openPTY opens a new pseudo-terminal pair, as posix_openpt, unlockpt and
// ptsname do (/dev/ptmx; TIOCSPTLCK; TIOCGPTN), without a dependency.
// Neither end becomes the agent's controlling terminal (O_NOCTTY).
func openPTY() (ptm, pts *os.File, err error) {
	ptm, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pseudo-terminal: %w", err)
	}
	fail := func(err error) (*os.File, *os.File, error) {
		_ = ptm.Close()
		return nil, nil, err
	}
	rc, err := ptm.SyscallConn()
	if err != nil {
		return fail(fmt.Errorf("pseudo-terminal: %w", err))
	}
	var n int
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr != nil {
			return
		}
		n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
	}); err != nil {
		return fail(fmt.Errorf("pseudo-terminal: %w", err))
	}
	if ioctlErr != nil {
		return fail(fmt.Errorf("unlock pseudo-terminal: %w", ioctlErr))
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	pts, err = os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open %s: %w", name, err))
	}
	return ptm, pts, nil
}

// setWinsize sets the terminal's size (TIOCSWINSZ on the master); the
// foreground process group gets SIGWINCH from the kernel.
func setWinsize(ptm *os.File, size TerminalSize) error {
	rc, err := ptm.SyscallConn()
	if err != nil {
		return fmt.Errorf("terminal size: %w", err)
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Height, Col: size.Width})
	}); err != nil {
		return fmt.Errorf("terminal size: %w", err)
	}
	if ioctlErr != nil {
		return fmt.Errorf("terminal size: %w", ioctlErr)
	}
	return nil
}

// ErrAttachStdin is Attach's answer to a stdin: a container's stdin is
// /dev/null (the shim starts every program so), so there is nothing to
// attach it to. Callers map it to a client-facing Status.
var ErrAttachStdin = errors.New("attaching to a container's stdin is not supported: containers run with stdin closed")

// Attach streams c's output from now on (kubectl attach), each stream to
// its writer (nil drops it), by following its CRI log from its current
// end, as WriteLogs follows it; it returns once the container has exited
// and its output is written, or when ctx ends (nil: the client detached).
// A non-nil stdin gets ErrAttachStdin before anything is written: the
// program's stdin is /dev/null, not a pipe the runtime could feed.
func (r *Runtime) Attach(ctx context.Context, c *Container, stdin io.Reader, stdout, stderr io.Writer) error {
	if stdin != nil {
		return fmt.Errorf("attach to %s: %w", c.dir, ErrAttachStdin)
	}
	if !c.Running() {
		return fmt.Errorf("attach to %s: %w", c.dir, ErrNotRunning)
	}
	// Tail 0: start after the last complete entry, so only output from
	// now on is sent, as attaching to a process's live output does.
	opts := LogOptions{Tail: 0, Follow: true}
	split := map[string]io.Writer{}
	if stdout != nil {
		split[Stdout] = stdout
	}
	if stderr != nil {
		split[Stderr] = stderr
	}
	if err := writeLogs(ctx, c.dir, &logOutput{opts: opts, split: split}); err != nil {
		return fmt.Errorf("attach to %s: %w", c.dir, err)
	}
	return nil
}
