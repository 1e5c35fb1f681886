package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"
)

// Reasons of a container that did not end by itself.
const (
	// ReasonStartError: the program could not be started (not found, not
	// executable, bad working directory); exit code 128, as kubelet
	// reports a containerd start failure.
	ReasonStartError = "StartError"
	// ReasonUnknown: the shim vanished without recording the exit; what
	// was left of the container was killed; exit code 255, as containerd
	// reports an unknown exit.
	ReasonUnknown = "Unknown"
)

// Errors of the runtime; match them with errors.Is.
var (
	// ErrNotRunning: the container has exited.
	ErrNotRunning = errors.New("container is not running")
	// ErrExists: the directory already holds a container.
	ErrExists = errors.New("container directory already used")
	// ErrClosed: the Container was closed.
	ErrClosed = errors.New("container closed")
	// ErrExecTimeout: an Exec ran out of time and was killed.
	ErrExecTimeout = errors.New("exec timed out")
)

// StartError is Start's error when the program could not be started; the
// container directory then records exit code 128 with ReasonStartError.
type StartError struct {
	Dir     string
	Message string
}

func (e *StartError) Error() string {
	return fmt.Sprintf("container %s cannot run: %s", e.Dir, e.Message)
}

// ExitCode is the code kubelet reports for a container that could not start.
func (e *StartError) ExitCode() int { return 128 }

// Config holds the runtime's dependencies.
type Config struct {
	Logger *slog.Logger
	// Clock times Exec timeouts and the finish time of a container whose
	// shim vanished. The shim, a process of its own, stamps log entries
	// and start and finish times with the wall clock.
	Clock clock.Clock
	// Executable is the program started as shim; it must call
	// MaybeRunShim first thing. Empty means os.Executable().
	Executable string
}

// Runtime starts containers and re-attaches to them. It holds no state of
// its own: everything is in the container directories, so a new Runtime
// after an agent restart sees what the old one left.
type Runtime struct {
	log   *slog.Logger
	clock clock.Clock
	exe   string
}

// New returns a Runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.Logger == nil {
		return nil, errors.New("process: Config.Logger is required")
	}
	if cfg.Clock == nil {
		return nil, errors.New("process: Config.Clock is required")
	}
	exe := cfg.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("process: shim executable: %w", err)
		}
	}
	return &Runtime{log: cfg.Logger, clock: cfg.Clock, exe: exe}, nil
}

// Spec is a container to start.
type Spec struct {
	// Dir is the container's directory (one per attempt, so the previous
	// attempt's log stays for kubectl logs --previous). It is created if
	// missing and must not hold a container yet.
	Dir string
	// Command and Args are the program's argv (kubelet has already merged
	// the image's entrypoint and cmd). Command[0] is looked up in the PATH
	// of Env (a default PATH if Env has none).
	Command []string
	Args    []string
	// Env is the program's whole environment, KEY=VALUE.
	Env []string
	// WorkingDir is the program's working directory; it must exist. Empty
	// means Dir.
	WorkingDir string
	// StandIn runs no program: the shim itself stands in for one, as the
	// pause container does (for a pod whose image is not in the local
	// store and that names no command). It stays up until a signal: SIGTERM
	// or SIGINT end it with exit code 0, as they end pause, any other
	// catchable terminating signal with 128+n, SIGKILL with 137. Command
	// and Args must be empty. Standing in costs no second start of the
	// executable, and the signal handlers are in place before Start
	// returns, so a stop signal can never find the stand-in unprepared.
	StandIn bool
}

// Start starts a container: it writes the spec to Dir, starts a shim
// there and returns once the program runs. A program that cannot start
// gives a *StartError (and the directory records exit code 128).
func (r *Runtime) Start(ctx context.Context, spec Spec) (*Container, error) {
	switch {
	case spec.Dir == "":
		return nil, errors.New("process: Spec needs Dir")
	case spec.StandIn && (len(spec.Command) > 0 || len(spec.Args) > 0):
		return nil, errors.New("process: a StandIn Spec has no Command or Args")
	case !spec.StandIn && len(spec.Command) == 0:
		return nil, errors.New("process: Spec needs Command (or StandIn)")
	}
	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, fmt.Errorf("container directory: %w", err)
	}
	cfg := config{Command: spec.Command, Args: spec.Args, Env: spec.Env, WorkingDir: spec.WorkingDir, StandIn: spec.StandIn}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = dir
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("container directory: %w", err)
	}
	for _, name := range []string{configFile, stateFile, exitFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("%s: %w", dir, ErrExists)
		}
	}
	if err := writeJSON(dir, configFile, cfg); err != nil {
		return nil, err
	}

	shimLog, err := os.OpenFile(filepath.Join(dir, shimLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("shim log: %w", err)
	}
	defer func() { _ = shimLog.Close() }()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("shim sync pipe: %w", err)
	}
	defer func() { _ = syncR.Close() }()
	null, err := os.Open(os.DevNull)
	if err != nil {
		_ = syncW.Close()
		return nil, fmt.Errorf("shim stdin: %w", err)
	}
	defer func() { _ = null.Close() }()
	proc, err := os.StartProcess(r.exe, []string{r.exe, shimArg, dir}, &os.ProcAttr{
		Dir:   dir,
		Env:   os.Environ(),
		Files: []*os.File{null, shimLog, shimLog, syncW}, // syncW is the shim's syncFD
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	_ = syncW.Close()
	if err != nil {
		return nil, fmt.Errorf("start shim: %w", err)
	}
	// The shim is our child and not yet reaped, so its pid cannot have
	// been reused: the pidfd is the shim's.
	// Release sets proc.Pid to -1, and kill(-1, SIGKILL) would end every
	// process the agent may signal: keep the pid. Until the pidfd reaps
	// the shim it stays a zombie at worst, so the pid cannot be reused.
	shimPID := proc.Pid
	pidfd, err := openPidfd(shimPID)
	_ = proc.Release() // reaped through the pidfd (see Container.finish)
	if err != nil {
		_ = killPID(shimPID, unix.SIGKILL)
		return nil, err
	}
	c := &Container{r: r, dir: dir, cfg: cfg, shim: pidfd}

	rep, err := readReport(ctx, syncR)
	if err != nil {
		// Cancelled or the shim died early: end what may have started.
		_ = killPID(shimPID, unix.SIGKILL)
		var st state
		if readJSON(dir, stateFile, &st) == nil && sameProcess(st.PID, st.StartTicks) {
			_ = killGroup(st.PID, unix.SIGKILL)
		}
		c.waitShimGone()
		return nil, fmt.Errorf("start container %s: %w", dir, err)
	}
	if rep.Error != "" {
		c.waitShimGone()
		r.log.Info("container cannot run", "dir", dir, "error", rep.Error)
		return nil, &StartError{Dir: dir, Message: rep.Error}
	}
	c.st = *rep.State
	r.log.Debug("container started", "dir", dir, "pid", c.st.PID, "shim", c.st.ShimPID)
	return c, nil
}

// readReport reads the shim's start report, until ctx ends.
func readReport(ctx context.Context, r *os.File) (startReport, error) {
	stop := context.AfterFunc(ctx, func() { _ = r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var rep startReport
	err := json.NewDecoder(r).Decode(&rep)
	if ctx.Err() != nil {
		return startReport{}, ctx.Err()
	}
	if errors.Is(err, io.EOF) || (err == nil && rep.State == nil && rep.Error == "") {
		return startReport{}, fmt.Errorf("shim exited without reporting (see %s)", shimLogFile)
	}
	if err != nil {
		return startReport{}, fmt.Errorf("shim report: %w", err)
	}
	return rep, nil
}

// Open re-attaches to the container in dir, started by this or an earlier
// agent: running, or exited with its recorded status (an exit while no
// agent was attached is kept by the shim in exit.json). A directory
// without a container gives an error matching fs.ErrNotExist.
func (r *Runtime) Open(dir string) (*Container, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("container directory: %w", err)
	}
	c := &Container{r: r, dir: dir}
	if err := readJSON(dir, configFile, &c.cfg); err != nil {
		return nil, err
	}
	if c.exit, err = readExit(dir); err != nil {
		return nil, err
	}
	stErr := readJSON(dir, stateFile, &c.st)
	switch {
	case c.exit != nil:
		return c, nil // exited, or never started (StartError)
	case errors.Is(stErr, fs.ErrNotExist):
		// A shim is starting, or died before starting the program.
		return nil, fmt.Errorf("container %s: no program started: %w", dir, stErr)
	case stErr != nil:
		return nil, stErr
	}
	// Open the pidfd first, then check the start time: if it matches, the
	// pidfd is the shim's and stays so, whatever happens to the pid.
	pidfd, err := openPidfd(c.st.ShimPID)
	if err == nil && !sameProcess(c.st.ShimPID, c.st.ShimStartTicks) {
		_ = pidfd.Close()
		err = fmt.Errorf("pid %d is no longer the shim", c.st.ShimPID)
	}
	if err != nil {
		// The shim is gone: it recorded the exit just now, or it died.
		c.mu.Lock()
		c.finish()
		c.mu.Unlock()
		return c, nil
	}
	c.shim = pidfd
	r.log.Debug("container re-attached", "dir", dir, "pid", c.st.PID, "shim", c.st.ShimPID)
	return c, nil
}
