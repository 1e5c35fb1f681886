package podworker_test

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/terminus-project/terminus/internal/agent/process"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The test binary is also the shim (and so the pause stand-in) and the container
// programs: TestMain dispatches on argv and on programEnv. A program
// appends "<event> <unix nanos>" lines to the file named by recordEnv, so
// tests assert from the process's side what it received and when.
const (
	programEnv = "TERMINUS_TEST_PROGRAM"
	recordEnv  = "TERMINUS_TEST_RECORD"
)

func TestMain(m *testing.M) {
	process.MaybeRunShim()
	if p := os.Getenv(programEnv); p != "" {
		os.Exit(runProgram(p))
	}
	// Exits of race-built children would look 1 s late (see the process
	// package's TestMain).
	_ = os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	// Shims of an agent stopped by a test are re-parented here, not to an
	// init that may not reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
	}
	storagetest.Main(m)
}

func record(event string) {
	path := os.Getenv(recordEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	_, _ = fmt.Fprintf(f, "%s %d\n", event, time.Now().UnixNano())
	_ = f.Close()
}

// runProgram is a container program: "trap" records TERM and exits 0;
// "ignore" records TERM and goes on (only SIGKILL ends it); "exit:N"
// exits with N at once.
func runProgram(name string) int {
	kind, arg, _ := strings.Cut(name, ":")
	switch kind {
	case "exit":
		n, _ := strconv.Atoi(arg)
		record("start")
		return n
	case "trap", "ignore":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		record("ready")
		for range sigs {
			record("term")
			if kind == "trap" {
				return 0
			}
		}
	}
	return 2
}
