package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podWait bounds how long a pod may take to reach a state on a busy CI
// machine (2 cores, tests in parallel, -race).
const podWait = 60 * time.Second

// startServerWithAgent runs terminus serve with its in-process node agent.
// Pods' processes outlive the agent by design (their shims are processes
// of their own), so a cleanup that runs after the server has stopped kills
// whatever the test left running under the data directory.
func startServerWithAgent(t *testing.T, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { killContainers(t, dir) })
	return startServerIn(t, dir, append([]string{"--node-agent=true"}, args...)...)
}

// killContainers kills every container shim whose directory is under dir
// and the process group of the program each one runs.
func killContainers(t testing.TB, dir string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	shims := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
		for _, a := range args {
			if strings.HasPrefix(string(a), dir+string(filepath.Separator)) {
				shims[pid] = true
			}
		}
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentPID(pid); err == nil && shims[ppid] && pid > 1 {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // the program's process group
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for pid := range shims {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// parentPID reads the parent pid from /proc/<pid>/stat (the field after
// the parenthesised command name, which may itself hold spaces).
func parentPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, errors.New("malformed stat")
	}
	return strconv.Atoi(f[1])
}

// alive reports whether pid names a process that has not been reaped.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// readPID waits for a pod's program to write its pid to path.
func readPID(t testing.TB, path string) int {
	t.Helper()
	var pid int
	eventually(t, podWait, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return pid
}

// waitGone waits for the process to end.
func waitGone(t testing.TB, pid int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		if alive(pid) {
			return errNotYet(fmt.Sprintf("process %d still runs", pid))
		}
		return nil
	})
}

// pathKubectl is the kubectl on PATH; the test is skipped without one.
func pathKubectl(t *testing.T) kubectl {
	t.Helper()
	for _, k := range kubectlVersions() {
		if k.name == "kubectl" && k.path != "" {
			return k
		}
	}
	t.Skip("kubectl is not installed")
	return kubectl{}
}
