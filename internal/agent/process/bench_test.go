package process

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkStart measures start-to-running: from Start to the program
// running (the shim started, the program exec'd, state recorded).
func BenchmarkStart(b *testing.B) {
	r := newRuntime(b)
	exe := testExe(b)
	base := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		c, err := r.Start(b.Context(), Spec{
			Dir:     filepath.Join(base, strconv.Itoa(i)),
			Command: []string{exe},
			Env:     []string{programEnv + "=sleep"},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stop(b, c)
		b.StartTimer()
	}
}

// BenchmarkExitNoticed measures from SIGKILL to Wait returning the exit
// status (the shim notices, kills the group, records exit.json, exits; the
// pidfd wakes Wait). notify-ms is the part after the shim saw the exit.
func BenchmarkExitNoticed(b *testing.B) {
	r := newRuntime(b)
	exe := testExe(b)
	base := b.TempDir()
	var notify time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		c, err := r.Start(b.Context(), Spec{
			Dir:     filepath.Join(base, strconv.Itoa(i)),
			Command: []string{exe},
			Env:     []string{programEnv + "=sleep"},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := c.Kill(); err != nil {
			b.Fatal(err)
		}
		s, err := c.Wait(b.Context())
		noticed := time.Now()
		if err != nil || s.ExitCode != 137 {
			b.Fatalf("exit %d, %v", s.ExitCode, err)
		}
		b.StopTimer()
		notify += noticed.Sub(s.FinishedAt)
		_ = c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(notify.Microseconds())/1000/float64(i), "notify-ms/op")
}
