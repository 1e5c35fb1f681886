package process

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"
)

func newRuntime(t testing.TB) *Runtime {
	t.Helper()
	r, err := New(Config{Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testExe(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startProgram starts a test program as a container and returns it with
// its record file. The container is killed and waited for at the end.
func start(t testing.TB, r *Runtime, program string, env ...string) (*Container, string) {
	t.Helper()
	rec := filepath.Join(t.TempDir(), "record")
	spec := Spec{
		Dir:     filepath.Join(t.TempDir(), "c"),
		Command: []string{testExe(t)},
		Env:     append([]string{programEnv + "=" + program, recordEnv + "=" + rec, raceEnv}, env...),
	}
	c, err := r.Start(testCtx(t), spec)
	if err != nil {
		t.Fatalf("Start %s: %v", program, err)
	}
	t.Cleanup(func() { stop(t, c) })
	return c, rec
}

// stop kills a container and waits for it, so no test leaves processes.
func stop(t testing.TB, c *Container) {
	if err := c.Kill(); err != nil && !errors.Is(err, ErrNotRunning) && !errors.Is(err, ErrClosed) {
		t.Errorf("cleanup kill: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Wait(ctx); err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("cleanup wait: %v", err)
	}
	_ = c.Close()
}

func wait(t testing.TB, c *Container) Status {
	t.Helper()
	s, err := c.Wait(testCtx(t))
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return s
}

func TestProcessGroupAndShim(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "sleep")
	waitEvent(t, rec, "ready", 1)
	pid := c.PID()
	st, err := readProcStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PGID != pid {
		t.Errorf("G6 the program's process group is %d, want its own (%d)", st.PGID, pid)
	}
	var s state
	if err := readJSON(c.Dir(), stateFile, &s); err != nil {
		t.Fatal(err)
	}
	if st.PPID != s.ShimPID {
		t.Errorf("the program's parent is %d, want the shim %d", st.PPID, s.ShimPID)
	}
	shim, err := readProcStat(s.ShimPID)
	if err != nil {
		t.Fatal(err)
	}
	if shim.PGID != s.ShimPID || shim.PPID != os.Getpid() {
		t.Errorf("shim: pgid %d ppid %d, want a session of its own (%d) started by us (%d)", shim.PGID, shim.PPID, s.ShimPID, os.Getpid())
	}
	if got := c.Status(); !got.Running || got.PID != pid || got.StartedAt.IsZero() {
		t.Errorf("Status = %+v, want running with pid %d and a start time", got, pid)
	}
}

func TestEnvWorkingDirAndStdin(t *testing.T) {
	r := newRuntime(t)
	wd := t.TempDir()
	dir := filepath.Join(t.TempDir(), "c")
	c, err := r.Start(testCtx(t), Spec{
		Dir: dir, Command: []string{testExe(t)}, Args: []string{"a", "b c"},
		Env: []string{programEnv + "=env", "FOO=bar", raceEnv}, WorkingDir: wd,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, c)
	if s := wait(t, c); s.ExitCode != 0 {
		t.Fatalf("exit %d, want 0", s.ExitCode)
	}
	var out strings.Builder
	if err := c.WriteLogs(testCtx(t), LogOptions{Tail: -1}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cwd=" + wd + "\n", "FOO=bar\n", "HOME=\n", "stdin=EOF\n", "args=a,b c\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		program string
		signal  syscall.Signal // sent once the program is ready; 0 = none
		code    int
		sig     syscall.Signal
		event   string // the program records it
	}{
		{name: "G7 exit 0", program: "exit:0", code: 0},
		{name: "G7 exit 3", program: "exit:3", code: 3},
		{name: "G7 unhandled SIGTERM gives 143", program: "sleep", signal: syscall.SIGTERM, code: 143, sig: syscall.SIGTERM},
		{name: "G7 SIGKILL gives 137", program: "sleep", signal: syscall.SIGKILL, code: 137, sig: syscall.SIGKILL},
		{name: "G6 a program that traps SIGTERM exits with its own code", program: "trap:7", signal: syscall.SIGTERM, code: 7, event: "TERM"},
		{name: "G6 an image's stop signal (SIGQUIT) reaches the program", program: "trap:0", signal: syscall.SIGQUIT, code: 0, event: "QUIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t)
			c, rec := start(t, r, tc.program)
			if tc.signal != 0 {
				waitEvent(t, rec, "ready", 1)
				if err := c.Signal(tc.signal); err != nil {
					t.Fatal(err)
				}
			}
			s := wait(t, c)
			if s.ExitCode != tc.code || s.Signal != tc.sig || s.Running || s.FinishedAt.Before(s.StartedAt) {
				t.Errorf("status %+v, want exit %d signal %v, finished after started", s, tc.code, tc.sig)
			}
			if tc.event != "" {
				waitEvent(t, rec, tc.event, 1)
			}
			if err := c.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
				t.Errorf("Signal after exit: %v, want ErrNotRunning", err)
			}
		})
	}
}

// G6 from the process's side: the stop signal arrives at once, the program
// (which ignores it) lives on until SIGKILL, and the exit is noticed
// promptly.
func TestStopSignalThenKill(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "ignore")
	waitEvent(t, rec, "ready", 1)
	sent := time.Now()
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	term := waitEvent(t, rec, "TERM", 1)
	if d := term.at.Sub(sent); d < 0 || d > 500*time.Millisecond {
		t.Errorf("TERM received %v after sending, want within 500ms", d)
	}
	// A short grace: the program, which ignores the stop signal, must
	// outlive it.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if s, err := c.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("G6 a program ignoring the stop signal must run until SIGKILL: %+v %v", s, err)
	}
	killed := time.Now()
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	s := wait(t, c)
	noticed := time.Since(killed)
	if s.ExitCode != 137 {
		t.Errorf("exit %d, want 137", s.ExitCode)
	}
	if noticed > 500*time.Millisecond {
		t.Errorf("exit noticed %v after SIGKILL, want well under 500ms", noticed)
	}
	if evs := readRecord(rec); len(evs) != 2 || evs[1].name != "TERM" {
		t.Errorf("the program recorded %v, want ready then TERM only", evs)
	}
}

func TestGrandchildrenGetTheGroupsSignals(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "grandchild")
	child := waitEvent(t, rec, "child", 1)
	gpid, _ := strconv.Atoi(child.detail)
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, rec, "TERM", 1)
	waitEvent(t, rec+".gc", "TERM", 1) // the grandchild got it too
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	if s := wait(t, c); s.ExitCode != 137 {
		t.Errorf("exit %d, want 137", s.ExitCode)
	}
	waitFor(t, "the grandchild to die with the group", func() bool { return gone(gpid) })
}

func TestLeftoversDieWithTheMainProcess(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "spawnexit:5")
	s := wait(t, c)
	if s.ExitCode != 5 {
		t.Errorf("exit %d, want 5", s.ExitCode)
	}
	child := waitEvent(t, rec, "child", 1)
	gpid, _ := strconv.Atoi(child.detail)
	waitFor(t, "the TERM-ignoring grandchild to be killed once the main process exited", func() bool { return gone(gpid) })
}

func TestStartError(t *testing.T) {
	exe := testExe(t)
	for _, tc := range []struct {
		name string
		spec Spec
		msg  string
	}{
		{"StartError command not in PATH", Spec{Command: []string{"no-such-command-terminus"}}, "executable file not found in $PATH"},
		{"StartError path does not exist", Spec{Command: []string{"./missing"}}, "no such file"},
		{"StartError not executable", Spec{Command: []string{notExecutable(t)}}, "permission denied"},
		{"StartError working directory missing", Spec{Command: []string{exe}, WorkingDir: "/nonexistent/dir"}, "working directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t)
			tc.spec.Dir = filepath.Join(t.TempDir(), "c")
			c, err := r.Start(testCtx(t), tc.spec)
			var se *StartError
			if !errors.As(err, &se) || c != nil {
				t.Fatalf("Start = %v, %v; want a *StartError", c, err)
			}
			if se.ExitCode() != 128 || !strings.Contains(se.Message, tc.msg) {
				t.Errorf("StartError %q exit %d, want %q and 128", se.Message, se.ExitCode(), tc.msg)
			}
			o, err := r.Open(tc.spec.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if s := o.Status(); s.Running || s.ExitCode != 128 || s.Reason != ReasonStartError || s.PID != 0 {
				t.Errorf("reopened status %+v, want exit 128 StartError", s)
			}
			if _, err := r.Start(testCtx(t), tc.spec); !errors.Is(err, ErrExists) {
				t.Errorf("second Start in the same directory: %v, want ErrExists", err)
			}
		})
	}
}

// An agent killed with SIGKILL leaves its containers running; a new agent
// finds them again, signals them and gets their exit code.
func TestAgentKilledContainerSurvives(t *testing.T) {
	for _, tc := range []struct {
		name    string
		program string
		signal  syscall.Signal
		code    int
	}{
		{"G6 restart: SIGTERM after re-attaching gives 143", "sleep", syscall.SIGTERM, 143},
		{"G6 restart: SIGKILL after re-attaching gives 137", "ignore", syscall.SIGKILL, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			rec := filepath.Join(t.TempDir(), "record")
			agent := exec.Command(testExe(t))
			agent.Env = append(os.Environ(), programEnv+"=agent:"+tc.program, recordEnv+"="+rec, dirEnv+"="+dir)
			if err := agent.Start(); err != nil {
				t.Fatal(err)
			}
			started := waitEvent(t, rec, "started", 1)
			waitEvent(t, rec+".container", "ready", 1)
			if err := agent.Process.Kill(); err != nil { // kill -9 the agent
				t.Fatal(err)
			}
			_ = agent.Wait()

			r := newRuntime(t)
			c, err := r.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stop(t, c) })
			if !c.Running() || strconv.Itoa(c.PID()) != started.detail {
				t.Fatalf("after the agent's death: running %v pid %d, want running pid %s", c.Running(), c.PID(), started.detail)
			}
			var s state
			if err := readJSON(dir, stateFile, &s); err != nil {
				t.Fatal(err)
			}
			if st, err := readProcStat(s.ShimPID); err != nil || st.PPID == agent.Process.Pid {
				t.Fatalf("shim %d: %+v %v; want it alive and re-parented", s.ShimPID, st, err)
			}
			if err := c.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			if got := wait(t, c); got.ExitCode != tc.code {
				t.Errorf("exit %d, want %d", got.ExitCode, tc.code)
			}
		})
	}
}

func TestExitWhileNoAgentAttached(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	rec := filepath.Join(t.TempDir(), "record")
	agent := exec.Command(testExe(t))
	agent.Env = append(os.Environ(), programEnv+"=agent:trap:9", recordEnv+"="+rec, dirEnv+"="+dir)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	started := waitEvent(t, rec, "started", 1)
	waitEvent(t, rec+".container", "ready", 1)
	if err := agent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = agent.Wait()
	pid, _ := strconv.Atoi(started.detail)
	if err := unix.Kill(-pid, unix.SIGTERM); err != nil { // nobody attached: the program exits 9
		t.Fatal(err)
	}
	waitFor(t, "the shim to record the exit", func() bool { e, _ := readExit(dir); return e != nil })

	c, err := newRuntime(t).Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if s := c.Status(); s.Running || s.ExitCode != 9 || s.PID != pid {
		t.Errorf("status %+v, want exited 9 with pid %d", s, pid)
	}
	if s := wait(t, c); s.ExitCode != 9 {
		t.Errorf("Wait: exit %d, want 9", s.ExitCode)
	}
}

// In process: dropping the handle (Close) leaves the container running
// and Open finds it; the shim, our child, is reaped by the new handle.
func TestReopenInProcess(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "trap:0")
	waitEvent(t, rec, "ready", 1)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGTERM); !errors.Is(err, ErrClosed) {
		t.Errorf("Signal on a closed handle: %v, want ErrClosed", err)
	}
	c2, err := newRuntime(t).Open(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, c2)
	if !c2.Running() {
		t.Fatal("not running after re-open")
	}
	if err := c2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if s := wait(t, c2); s.ExitCode != 0 {
		t.Errorf("exit %d, want 0", s.ExitCode)
	}
}

func TestOpenRejectsReusedPID(t *testing.T) {
	// A live process that is not our shim: its pid with another start time
	// must not be taken for the shim, nor its group killed.
	other := exec.Command(testExe(t))
	other.Env = append(os.Environ(), programEnv+"=sleep")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	st, err := readProcStat(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeJSON(dir, configFile, config{Command: []string{"x"}, WorkingDir: dir}); err != nil {
		t.Fatal(err)
	}
	pid := other.Process.Pid
	if err := writeJSON(dir, stateFile, state{PID: pid, StartTicks: st.StartTicks + 1, ShimPID: pid, ShimStartTicks: st.StartTicks + 1}); err != nil {
		t.Fatal(err)
	}
	c, err := newRuntime(t).Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if s := c.Status(); s.Running || s.ExitCode != 255 || s.Reason != ReasonUnknown {
		t.Errorf("status %+v, want exited 255 Unknown", s)
	}
	if gone(pid) {
		t.Fatal("the unrelated process with the reused pid was killed")
	}
}

func TestShimVanished(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "ignore")
	waitEvent(t, rec, "ready", 1)
	var s state
	if err := readJSON(c.Dir(), stateFile, &s); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(s.ShimPID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := wait(t, c)
	if got.ExitCode != 255 || got.Reason != ReasonUnknown {
		t.Errorf("status %+v, want 255 Unknown", got)
	}
	waitFor(t, "the orphaned program to be killed", func() bool { return gone(s.PID) })
	if e, _ := readExit(c.Dir()); e == nil || e.Reason != ReasonUnknown {
		t.Errorf("exit.json %+v, want the unknown exit recorded", e)
	}
}

func TestWaitContextAndConcurrentWaiters(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "sleep")
	waitEvent(t, rec, "ready", 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := c.Wait(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel: %v, want context.Canceled", err)
	}
	if !c.Running() {
		t.Fatal("a cancelled Wait must not end the container")
	}
	var wg sync.WaitGroup
	codes := make([]int, 5)
	for i := range codes {
		wg.Go(func() {
			s, err := c.Wait(testCtx(t))
			if err != nil {
				t.Error(err)
			}
			codes[i] = s.ExitCode
		})
	}
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, code := range codes {
		if code != 143 {
			t.Errorf("waiter %d: exit %d, want 143", i, code)
		}
	}
}

func notExecutable(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The agent reaps the shims it started: once Wait has returned, the shim
// is no zombie child of ours.
func TestShimReaped(t *testing.T) {
	r := newRuntime(t)
	c, _ := start(t, r, "exit:0")
	var s state
	if err := readJSON(c.Dir(), stateFile, &s); err != nil {
		t.Fatal(err)
	}
	wait(t, c)
	if st, err := readProcStat(s.ShimPID); err == nil && st.PPID == os.Getpid() {
		t.Errorf("shim %d is still our child (state %c) after Wait", s.ShimPID, st.State)
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := newRuntime(t).Open(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of an empty directory: %v, want fs.ErrNotExist", err)
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want syscall.Signal
		ok   bool
	}{
		{"SIGTERM", syscall.SIGTERM, true},
		{"TERM", syscall.SIGTERM, true},
		{"sigquit", syscall.SIGQUIT, true},
		{"9", syscall.SIGKILL, true},
		{"SIGRTMIN", 0, false},
		{"0", 0, false},
		{"NOPE", 0, false},
	} {
		t.Run("G6 "+tc.in, func(t *testing.T) {
			got, err := ParseSignal(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseSignal(%q) = %v, %v; want %v ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func testCtxCancel(t testing.TB) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx, cancel
}
