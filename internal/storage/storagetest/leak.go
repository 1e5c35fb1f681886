package storagetest

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests of m and then fails the binary if goroutines started
// during the run are still alive once they have had time to stop. It is a
// small stand-in for go.uber.org/goleak, which is not in the module graph:
//
//	func TestMain(m *testing.M) { storagetest.Main(m) }
//
// Goroutines whose stacks contain one of ignore (substrings of function
// names) are allowed to outlive the tests: process-wide workers of
// libraries that are started once and never stopped.
func Main(m *testing.M, ignore ...string) {
	before := goroutineIDs(nil)
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(before, ignore, 10*time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func waitForLeaks(before map[string]bool, ignore []string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		var leaked []string
		goroutineIDs(func(id, stack string) {
			if before[id] || strings.Contains(stack, "storagetest.goroutineIDs") || strings.Contains(stack, "testing.(*M).") {
				return
			}
			for _, s := range ignore {
				if strings.Contains(stack, s) {
					return
				}
			}
			leaked = append(leaked, stack)
		})
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(delay) // polling for goroutines to exit; no event to wait on
	}
}

// goroutineIDs returns the ids of the live goroutines, calling each (if
// not nil) with every id and stack.
func goroutineIDs(each func(id, stack string)) map[string]bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	ids := map[string]bool{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		stack := string(g)
		id, _, _ := strings.Cut(strings.TrimPrefix(stack, "goroutine "), " ")
		ids[id] = true
		if each != nil {
			each(id, stack)
		}
	}
	return ids
}
