package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// shimArg marks a process started as a shim: argv is
// [executable, shimArg, container directory].
const shimArg = "terminus-process-shim"

// syncFD is the shim's descriptor on which it reports the start (the
// runtime passes the pipe as its first extra file).
const syncFD = 3

// defaultPath is the PATH a container gets when its environment has none,
// as containerd's default OCI spec gives one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// drainTimeout bounds how long the shim reads a program's output after
// the program and its process group are gone: a descendant that left the
// group (setsid) may still hold the pipes.
const drainTimeout = 2 * time.Second

// startReport is the shim's one message on the sync pipe.
type startReport struct {
	State *state `json:"state,omitempty"`
	Error string `json:"error,omitempty"`
}

// MaybeRunShim runs the container shim when this process was started as
// one, and then exits; otherwise it returns at once. main, and TestMain
// of tests that start containers, must call it first: the runtime starts
// shims by re-executing its own executable (os.Executable).
func MaybeRunShim() {
	if len(os.Args) != 3 || os.Args[1] != shimArg {
		return
	}
	os.Exit(runShim(os.Args[2]))
}

// runShim is the shim: it starts the program in dir's config.json in a
// process group of its own, reports the start on the sync pipe, copies
// the program's output into the CRI log, waits for it, records how it
// ended in exit.json and returns. Its stdout and stderr are shim.log.
//
// The shim runs in a session of its own (the runtime starts it with
// setsid), so neither the agent's death nor a terminal's signals reach it:
// the container outlives the agent, as with containerd's shim.
func runShim(dir string) int {
	// Descriptors passed to a child arrive without close-on-exec: set it,
	// or the program would inherit the sync pipe.
	syscall.CloseOnExec(syncFD)
	report := os.NewFile(syncFD, "sync")
	fail := func(reason string, err error) int {
		fmt.Fprintf(os.Stderr, "shim %s: %v\n", dir, err)
		rec := exitRecord{ExitCode: 128, FinishedAt: time.Now(), Reason: reason, Message: err.Error()}
		if werr := writeJSON(dir, exitFile, rec); werr != nil {
			fmt.Fprintf(os.Stderr, "shim %s: %v\n", dir, werr)
		}
		_ = json.NewEncoder(report).Encode(startReport{Error: err.Error()})
		_ = report.Close()
		return 1
	}

	// Signals sent to the shim itself (a stray kill, a service manager)
	// must not end it and orphan the program. They are caught, not
	// ignored: an ignored signal would stay ignored in the program after
	// exec, a caught one is reset to its default.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)

	var cfg config
	if err := readJSON(dir, configFile, &cfg); err != nil {
		return fail(ReasonStartError, err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fail(ReasonStartError, fmt.Errorf("open log: %w", err))
	}
	if cfg.StandIn {
		_ = logf.Close() // the stand-in writes nothing; the empty log is for kubectl logs
		return standIn(dir, sigs, report, fail)
	}
	go func() {
		for range sigs {
		}
	}()
	proc, pipes, err := startProgram(cfg)
	if err != nil {
		return fail(ReasonStartError, err)
	}
	startedAt := time.Now()
	pid := proc.Pid
	self, err1 := readProcStat(os.Getpid())
	child, err2 := readProcStat(pid)
	if err := errors.Join(err1, err2); err != nil {
		// Without start times the pid cannot be told from a reused one
		// later; better not to run than to signal a stranger.
		_ = killGroup(pid, unix.SIGKILL)
		_, _ = proc.Wait()
		return fail(ReasonStartError, err)
	}
	st := state{PID: pid, StartTicks: child.StartTicks, StartedAt: startedAt, ShimPID: os.Getpid(), ShimStartTicks: self.StartTicks}
	if err := writeJSON(dir, stateFile, st); err != nil {
		_ = killGroup(pid, unix.SIGKILL)
		_, _ = proc.Wait()
		return fail(ReasonStartError, err)
	}
	_ = json.NewEncoder(report).Encode(startReport{State: &st})
	_ = report.Close() // the runtime may be gone (EPIPE): nothing to do
	// The shim is the whole agent binary: give back what its packages'
	// initialisation allocated, since it lives as long as the container.
	// A moment later, so it delays neither the start nor the noticing of
	// a container that ends at once.
	time.AfterFunc(time.Second, debug.FreeOSMemory)

	lw := &logWriter{f: logf, now: time.Now}
	var copying sync.WaitGroup
	for i, stream := range []string{Stdout, Stderr} {
		copying.Go(func() {
			if err := lw.copy(pipes[i], stream); err != nil {
				fmt.Fprintf(os.Stderr, "shim %s: copy %s: %v\n", dir, stream, err)
			}
		})
	}

	// Wait for the program without reaping it (WNOWAIT): while it is a
	// zombie its pid, which is the group id, cannot be reused, so the
	// SIGKILL to the group below reaches only what is left of the
	// container: its descendants die with it, as when the init process of
	// a container's pid namespace exits.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	finishedAt := time.Now()
	_ = killGroup(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	_ = proc.Release()

	drained := make(chan struct{})
	go func() { copying.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		for _, p := range pipes {
			_ = p.Close() // ends the copies' reads
		}
		<-drained
	}
	for _, p := range pipes {
		_ = p.Close()
	}
	_ = logf.Close()

	code, sig := exitCode(ws)
	rec := exitRecord{ExitCode: code, Signal: int(sig), FinishedAt: finishedAt}
	if err := writeJSON(dir, exitFile, rec); err != nil {
		fmt.Fprintf(os.Stderr, "shim %s: %v\n", dir, err)
		return 1
	}
	return 0
}

// standInSignals are the catchable signals whose default action ends a
// process: the stand-in catches them all, so only SIGKILL (or a fault)
// ends it without an exit record (see Container.finish).
var standInSignals = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGABRT, syscall.SIGUSR1,
	syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTERM, syscall.SIGXCPU,
	syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGPROF, syscall.SIGSYS,
}

// standIn is the shim standing in for a program (Spec.StandIn): its own
// process, a session and group leader since the runtime starts it with
// setsid, is the container's, so the stop signal sent to the group
// reaches it. Like pause it exits 0 on SIGTERM or SIGINT; any other
// terminating signal is recorded as the death it would have caused.
func standIn(dir string, sigs chan os.Signal, report *os.File, fail func(string, error) int) int {
	signal.Notify(sigs, standInSignals...)
	pid := os.Getpid()
	self, err := readProcStat(pid)
	if err != nil {
		return fail(ReasonStartError, err)
	}
	st := state{PID: pid, StartTicks: self.StartTicks, StartedAt: time.Now(), ShimPID: pid, ShimStartTicks: self.StartTicks}
	if err := writeJSON(dir, stateFile, st); err != nil {
		return fail(ReasonStartError, err)
	}
	_ = json.NewEncoder(report).Encode(startReport{State: &st})
	_ = report.Close()
	time.AfterFunc(time.Second, debug.FreeOSMemory)

	sig, _ := (<-sigs).(syscall.Signal)
	rec := exitRecord{FinishedAt: time.Now()}
	if sig != syscall.SIGTERM && sig != syscall.SIGINT {
		rec.ExitCode, rec.Signal = 128+int(sig), int(sig)
	}
	if err := writeJSON(dir, exitFile, rec); err != nil {
		fmt.Fprintf(os.Stderr, "shim %s: %v\n", dir, err)
		return 1
	}
	return 0
}

// startProgram starts the program of cfg in a new process group with
// stdin from /dev/null and stdout and stderr on pipes, returning the read
// ends. All other descriptors of the shim are close-on-exec (Go opens
// them so), so none leaks into the program.
func startProgram(cfg config) (*os.Process, [2]*os.File, error) {
	var pipes [2]*os.File
	env := withDefaultPath(cfg.Env)
	path, err := lookPath(cfg.Command[0], cfg.WorkingDir, env)
	if err != nil {
		return nil, pipes, err
	}
	if fi, err := os.Stat(cfg.WorkingDir); err != nil {
		return nil, pipes, fmt.Errorf("working directory: %w", err)
	} else if !fi.IsDir() {
		return nil, pipes, fmt.Errorf("working directory %s: not a directory", cfg.WorkingDir)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, pipes, fmt.Errorf("stdin: %w", err)
	}
	defer func() { _ = null.Close() }()
	var writers [2]*os.File
	for i := range pipes {
		if pipes[i], writers[i], err = os.Pipe(); err != nil {
			return nil, pipes, fmt.Errorf("output pipe: %w", err)
		}
	}
	argv := append(append([]string{}, cfg.Command...), cfg.Args...)
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Dir:   cfg.WorkingDir,
		Env:   env,
		Files: []*os.File{null, writers[0], writers[1]},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	for _, w := range writers {
		_ = w.Close() // the program holds them now; EOF comes when it (and its group) closes them
	}
	if err != nil {
		for _, p := range pipes {
			_ = p.Close()
		}
		return nil, pipes, fmt.Errorf("exec %q: %w", cfg.Command[0], err)
	}
	return proc, pipes, nil
}

func withDefaultPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append(append([]string{}, env...), "PATH="+defaultPath)
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// lookPath resolves a command as a container runtime does: a name with a
// slash is a path (relative to the working directory), any other is looked
// up in the container's PATH, not the agent's. The error message is the
// one kubelet shows for a missing command.
func lookPath(name, wd string, env []string) (string, error) {
	if name == "" {
		return "", errors.New("exec: no command")
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(envValue(env, "PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH: %w", name, fs.ErrNotExist)
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}
