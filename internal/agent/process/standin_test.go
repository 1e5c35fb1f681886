package process

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestStandIn: a StandIn container is its shim, alone in its process
// group, with an empty log; like pause it exits 0 on SIGTERM and SIGINT
// (G6: the stop signal ends it gracefully), any other terminating signal
// is recorded as the death it causes, and SIGKILL, which it cannot record,
// is 137, also when the handle was re-opened (as after an agent restart).
func TestStandIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		reopen bool
		code   int
	}{
		{"SIGTERM exits 0", syscall.SIGTERM, false, 0},
		{"SIGINT exits 0", syscall.SIGINT, false, 0},
		{"SIGUSR1 is 138", syscall.SIGUSR1, false, 128 + int(syscall.SIGUSR1)},
		{"SIGQUIT is 131", syscall.SIGQUIT, false, 128 + int(syscall.SIGQUIT)},
		{"SIGKILL is 137", syscall.SIGKILL, false, 137},
		{"SIGKILL after re-opening is 137", syscall.SIGKILL, true, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t)
			c, err := r.Start(testCtx(t), Spec{Dir: filepath.Join(t.TempDir(), "c"), StandIn: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stop(t, c) })
			var s state
			if err := readJSON(c.Dir(), stateFile, &s); err != nil {
				t.Fatal(err)
			}
			pid := c.PID()
			st, err := readProcStat(pid)
			if err != nil {
				t.Fatal(err)
			}
			if pid != s.ShimPID || st.PGID != pid || st.PPID != os.Getpid() {
				t.Errorf("pid %d (pgid %d, parent %d), shim %d: want the shim, leading its own group, our child", pid, st.PGID, st.PPID, s.ShimPID)
			}
			if fi, err := os.Stat(c.LogPath()); err != nil || fi.Size() != 0 {
				t.Errorf("log: %v %v, want an empty file", fi, err)
			}
			if tc.reopen {
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				if c, err = r.Open(c.Dir()); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
			}
			if err := c.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			got := wait(t, c)
			wantSig := syscall.Signal(0)
			if tc.code != 0 {
				wantSig = tc.sig
			}
			if got.ExitCode != tc.code || got.Signal != wantSig || got.Running || got.FinishedAt.IsZero() {
				t.Errorf("status %+v, want exit %d signal %v", got, tc.code, wantSig)
			}
		})
	}
}

func TestStandInSpecValidation(t *testing.T) {
	r := newRuntime(t)
	for _, spec := range []Spec{
		{Dir: filepath.Join(t.TempDir(), "c"), StandIn: true, Command: []string{"sleep"}},
		{Dir: filepath.Join(t.TempDir(), "c"), StandIn: true, Args: []string{"1"}},
		{Dir: filepath.Join(t.TempDir(), "c")},
		{StandIn: true},
	} {
		if c, err := r.Start(testCtx(t), spec); err == nil {
			stop(t, c)
			t.Errorf("Start(%+v) succeeded", spec)
		}
	}
}
