package process

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal turns a stop signal as a pod or an image names it (spec G6:
// lifecycle.stopSignal "SIGQUIT"; an image's STOPSIGNAL "SIGQUIT", "QUIT"
// or "3") into a signal number.
func ParseSignal(name string) (syscall.Signal, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal %q: out of range", name)
		}
		return syscall.Signal(n), nil
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig := unix.SignalNum(s); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: unknown", name)
}

// exitCode is how container runtimes report a process's end: its exit
// status, or 128 + the signal that killed it (137 for SIGKILL, 143 for
// SIGTERM; spec G7).
func exitCode(ws unix.WaitStatus) (code int, sig syscall.Signal) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return ws.ExitStatus(), 0
}
