package process

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"
)

// The test binary is also the shim and the container programs: TestMain
// dispatches on argv (the shim) and on programEnv (a program), so tests
// run real processes and assert from the process's side what it received
// and when (it appends "<event> <unix nanos> [detail]" lines to the file
// named by recordEnv).
const (
	programEnv = "TERMINUS_TEST_PROGRAM"
	recordEnv  = "TERMINUS_TEST_RECORD"
	dirEnv     = "TERMINUS_TEST_DIR" // the "agent" program's container directory
	// raceEnv goes into the container programs' environments (which
	// inherit nothing): see TestMain.
	raceEnv = "GORACE=atexit_sleep_ms=0"
)

func TestMain(m *testing.M) {
	MaybeRunShim()
	if p := os.Getenv(programEnv); p != "" {
		os.Exit(runProgram(p))
	}
	// A race-enabled binary sleeps 1 s at exit (GORACE atexit_sleep_ms,
	// default 1000) to catch late races; the shims and programs are this
	// binary, and Wait notices a container's exit when its shim has
	// exited, so under -race every exit would look 1 s late. Children
	// inherit this; production binaries are not race-built.
	_ = os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	// Processes the tests orphan (grandchildren, the shim of an "agent"
	// killed by a test) are re-parented to this binary rather than to
	// init, which may not reap them (some sandboxes' pid 1 does not); they
	// are reaped at the end. TestShimReaped checks the runtime's own
	// reaping.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
	}
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if msg := leaks(before); msg != "" {
			fmt.Fprint(os.Stderr, msg)
			code = 1
		}
	}
	for _, pid := range zombies() {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
	os.Exit(code)
}

// leaks waits (bounded) for the goroutines the tests started to end.
func leaks(before int) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return ""
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Sprintf("goroutines: %d before the tests, %d after\n%s\n", before, n, buf)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline: no event to wait on
	}
}

// zombies lists this process's children that exited and were not reaped.
func zombies() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.PPID == os.Getpid() && st.State == 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// record appends an event to the record file.
func record(event string, detail ...string) {
	path := os.Getenv(recordEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	line := event + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
	if len(detail) > 0 {
		line += " " + strings.Join(detail, " ")
	}
	_, _ = f.WriteString(line + "\n")
	_ = f.Close()
}

func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// runProgram is a container program; name is "kind" or "kind:arg".
func runProgram(name string) int {
	kind, arg, _ := strings.Cut(name, ":")
	n, _ := strconv.Atoi(arg)
	switch kind {
	case "exit": // exit with code n
		return n
	case "sleep": // default signal handling: SIGTERM ends it (143)
		record("ready")
		sleepForever()
	case "trap": // on SIGTERM, record it and exit with code n
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGQUIT)
		record("ready")
		s := <-sigs
		record(strings.ToUpper(unixSignalName(s)))
		return n
	case "ignore": // record SIGTERM and go on; only SIGKILL ends it
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		record("ready", strconv.Itoa(os.Getpid()))
		for range sigs {
			record("TERM", strconv.Itoa(os.Getpid()))
		}
	case "grandchild", "spawnexit": // start a TERM-ignoring grandchild in our group, then ignore TERM (or exit n)
		gcRecord := os.Getenv(recordEnv) + ".gc"
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), programEnv+"=ignore", recordEnv+"="+gcRecord)
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for !fileContains(gcRecord, "ready") {
			time.Sleep(time.Millisecond)
		}
		record("child", strconv.Itoa(cmd.Process.Pid))
		if kind == "spawnexit" {
			return n
		}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		for range sigs {
			record("TERM")
		}
	case "print": // n lines to stdout and stderr each, then exit 0
		for i := 1; i <= n; i++ {
			fmt.Printf("out %d\n", i)
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
		return 0
	case "long": // one line of n bytes, then output without a newline
		w := bufio.NewWriter(os.Stdout)
		for i := range n {
			_ = w.WriteByte('a' + byte(i%26))
		}
		_, _ = w.WriteString("\nend")
		_ = w.Flush()
		return 0
	case "follow": // n lines, then wait for SIGTERM, print "bye" and exit 0
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		for i := 1; i <= n; i++ {
			fmt.Printf("line %d\n", i)
		}
		record("ready")
		<-sigs
		fmt.Println("bye")
		return 0
	case "env": // print what a container sees
		wd, _ := os.Getwd()
		_, err := os.Stdin.Read(make([]byte, 1))
		fmt.Printf("cwd=%s\nFOO=%s\nHOME=%s\nstdin=%v\nargs=%s\n", wd, os.Getenv("FOO"), os.Getenv("HOME"), err, strings.Join(os.Args[1:], ","))
		if n > 0 {
			fmt.Print(strings.Repeat("x", n))
		}
		return 0
	case "tick": // n lines, then "tick" on stdout per SIGUSR1 until SIGTERM, then "bye" on stderr and exit 0
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
		for i := 1; i <= n; i++ {
			fmt.Printf("line %d\n", i)
		}
		record("ready")
		for s := range sigs {
			if s == syscall.SIGTERM {
				fmt.Fprintln(os.Stderr, "bye")
				return 0
			}
			fmt.Println("tick")
		}
	case "cat": // stdin to stdout, "done" to stderr, exit n
		_, _ = io.Copy(os.Stdout, os.Stdin)
		fmt.Fprint(os.Stderr, "done")
		return n
	case "tty": // report whether stdin is a terminal and its size, again on SIGWINCH, until stdin says "q"
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		report := func() {
			_, err := unix.IoctlGetTermios(0, unix.TCGETS)
			ws, werr := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
			if werr != nil {
				ws = &unix.Winsize{}
			}
			fmt.Printf("tty=%v size=%dx%d\n", err == nil, ws.Col, ws.Row)
		}
		report()
		go func() {
			for range winch {
				report()
			}
		}()
		buf := make([]byte, 1)
		for {
			if _, err := os.Stdin.Read(buf); err != nil || buf[0] == 'q' {
				return 0
			}
		}
	case "agent": // an agent: start a container (the program in arg) and run until killed
		r, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.RealClock{}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		c, err := r.Start(context.Background(), Spec{
			Dir:     os.Getenv(dirEnv),
			Command: []string{os.Args[0]},
			Env:     []string{programEnv + "=" + arg, recordEnv + "=" + os.Getenv(recordEnv) + ".container", raceEnv},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		record("started", strconv.Itoa(c.PID()))
		sleepForever()
	}
	fmt.Fprintf(os.Stderr, "unknown test program %q\n", name)
	return 2
}

func unixSignalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGQUIT:
		return "QUIT"
	}
	return s.String()
}

func fileContains(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

// event is one line of a record file.
type event struct {
	name   string
	at     time.Time
	detail string
}

func readRecord(path string) []event {
	b, _ := os.ReadFile(path)
	var out []event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 2 {
			continue
		}
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		e := event{name: f[0], at: time.Unix(0, ns)}
		if len(f) == 3 {
			e.detail = f[2]
		}
		out = append(out, e)
	}
	return out
}

// waitEvent waits (bounded) until the record file holds the n-th (1-based)
// event of that name, and returns it.
func waitEvent(t testing.TB, path, name string, n int) event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		seen := 0
		for _, e := range readRecord(path) {
			if e.name == name {
				if seen++; seen == n {
					return e
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q event #%d in %s: %v", name, n, filepath.Base(path), readRecord(path))
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// waitFor polls cond with a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// gone reports whether pid no longer runs (exited, or a zombie).
func gone(pid int) bool {
	st, err := readProcStat(pid)
	return err != nil || st.State == 'Z' || st.State == 'X'
}
