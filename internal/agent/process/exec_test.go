package process

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExec(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "sleep", "FOO=from-container")
	waitEvent(t, rec, "ready", 1)
	exe := testExe(t)

	t.Run("G6 exec hook runs in the container's environment and working directory", func(t *testing.T) {
		res, err := r.Exec(testCtx(t), c, ExecSpec{Command: []string{exe, "x"}, Env: []string{programEnv + "=env"}})
		if err != nil {
			t.Fatal(err)
		}
		out := string(res.Output)
		for _, want := range []string{"cwd=" + c.Dir() + "\n", "FOO=from-container\n", "stdin=EOF\n", "args=x\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if res.ExitCode != 0 || res.Truncated {
			t.Errorf("exit %d truncated %v", res.ExitCode, res.Truncated)
		}
	})
	t.Run("exec exit code", func(t *testing.T) {
		res, err := r.Exec(testCtx(t), c, ExecSpec{Command: []string{exe}, Env: []string{programEnv + "=exit:4"}})
		if err != nil || res.ExitCode != 4 {
			t.Errorf("exit %d, %v; want 4, nil", res.ExitCode, err)
		}
	})
	t.Run("exec timeout kills the command's group", func(t *testing.T) {
		begin := time.Now()
		res, err := r.Exec(testCtx(t), c, ExecSpec{Command: []string{exe}, Env: []string{programEnv + "=ignore"}, Timeout: 100 * time.Millisecond})
		if !errors.Is(err, ErrExecTimeout) || res.ExitCode != 137 {
			t.Errorf("exit %d, %v; want 137 and ErrExecTimeout", res.ExitCode, err)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("exec output is limited", func(t *testing.T) {
		res, err := r.Exec(testCtx(t), c, ExecSpec{Command: []string{exe}, Env: []string{programEnv + "=env:50000"}, OutputLimit: 100})
		if err != nil || len(res.Output) != 100 || !res.Truncated {
			t.Errorf("%d bytes truncated %v, %v; want 100 bytes truncated", len(res.Output), res.Truncated, err)
		}
	})
	t.Run("exec of a missing command", func(t *testing.T) {
		if _, err := r.Exec(testCtx(t), c, ExecSpec{Command: []string{"no-such-command-terminus"}}); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("err = %v, want not found", err)
		}
	})
	t.Run("exec ends with its context", func(t *testing.T) {
		ctx, cancel := testCtxCancel(t)
		done := make(chan error, 1)
		go func() {
			_, err := r.Exec(ctx, c, ExecSpec{Command: []string{exe}, Env: []string{programEnv + "=ignore"}})
			done <- err
		}()
		cancel()
		if err := <-done; err == nil {
			t.Error("Exec after cancel: nil error")
		}
	})

	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wait(t, c)
	if _, err := r.Exec(testCtx(t), c, ExecSpec{Command: []string{exe}}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Exec in an exited container: %v, want ErrNotRunning", err)
	}
}
