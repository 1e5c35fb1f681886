package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/terminus-project/terminus/internal/app"
)

func TestParseProcStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{"plain", "1234 (terminus) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 500 1000000 2000", 325, false},
		// A command name may hold spaces and parentheses; fields count from
		// the last ')'.
		{"tricky comm", "42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 9 1 1", 10, false},
		{"no comm", "42 a R 1", 0, true},
		{"short", "42 (x) R 1 2 3", 0, true},
		{"not a number", "42 (x) R 1 42 42 0 -1 0 0 0 0 0 x 3 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStatCPU([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseProcStatCPU = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if d := ticksToDuration(325); d != 3250*time.Millisecond {
		t.Errorf("ticksToDuration(325) = %s", d)
	}
}

func TestReadCPUTicksSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := readCPUTicks(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := readCPUTicks(-1); err == nil || !strings.Contains(err.Error(), "--pid -1") {
		t.Errorf("readCPUTicks(-1) = %v", err)
	}
}

func TestParseMarks(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1795449712333533387\n", 1795449712333533387, false},
		{"  1795449712333533387  ", 1795449712333533387, false},
		{"1795449712\n", 0, true},  // seconds: a date without %N
		{"1795449712N\n", 0, true}, // busybox date printing %N literally
		{"", 0, true},
	} {
		got, err := parseExitMark([]byte(tt.in))
		if (err != nil) != tt.wantErr || (err == nil && got.UnixNano() != tt.want) {
			t.Errorf("parseExitMark(%q) = %v, %v", tt.in, got, err)
		}
	}
	dir := t.TempDir()
	for name, tt := range map[string]struct {
		content string
		want    int
	}{"ok": {"4242\n", 4242}, "zero": {"0", 0}, "junk": {"pid", 0}} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := readPidMark(path); got != tt.want || (err == nil) != (tt.want != 0) {
			t.Errorf("readPidMark(%q) = %d, %v", tt.content, got, err)
		}
	}
	if _, err := readPidMark(filepath.Join(dir, "missing")); err == nil {
		t.Error("readPidMark of a missing file succeeded")
	}
}

func TestWaitMarksGivesUpWhenNoneAppear(t *testing.T) {
	dir := t.TempDir()
	path := func(i int) string { return filepath.Join(dir, []string{"0", "1"}[i]) }
	// A mark the shell has created but not yet written does not count.
	if err := os.WriteFile(filepath.Join(dir, "0.pid"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if got := waitMarks(done, []bool{true, false}, path, ".pid"); got != 0 {
		t.Errorf("waitMarks with an empty mark = %d, want 0", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "0.pid"), []byte("42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Pod 1 is not selected, so pod 0's mark is all there is to wait for.
	if got := waitMarks(context.Background(), []bool{true, false}, path, ".pid"); got != 1 {
		t.Errorf("waitMarks = %d, want 1", got)
	}
	// With a mark that never comes, a cancelled wait returns what it found.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := waitMarks(ctx, []bool{true, true}, path, ".pid"); got != 1 {
		t.Errorf("cancelled waitMarks = %d, want 1", got)
	}
}

func TestSpans(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	selected := []bool{true, true, false, true}
	start := []time.Time{at(0), at(1), at(2), at(3)}
	end := []time.Time{at(10), {}, at(50), at(8)}
	lat, last, missing := spans(selected, start, end, base)
	if len(lat) != 2 || lat[0] != 10*time.Millisecond || lat[1] != 5*time.Millisecond || !last.Equal(at(10)) || missing != 1 {
		t.Errorf("spans = %v, %v, %d", lat, last, missing)
	}
}

func TestValidatePods(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"pod-start", Options{Scenario: ScenarioPodStart}, ""},
		{"pod-start command", Options{Scenario: ScenarioPodStart, PodCommand: "sleep 3600"}, ""},
		{"bad command", Options{Scenario: ScenarioPodStart, PodCommand: `sh -c "x`}, "--pod-command"},
		{"empty command", Options{Scenario: ScenarioPodStart, PodCommand: "  "}, "--pod-command is empty"},
		{"command on pod-delete", Options{Scenario: ScenarioPodDelete, PodCommand: "sleep 1"}, "only apply to pod-start and pods-idle"},
		{"marks on pod-start", Options{Scenario: ScenarioPodStart, MarksDir: "/tmp"}, "--marks-dir only applies"},
		{"marks on pod-kill", Options{Scenario: ScenarioPodKill, MarksDir: "/tmp"}, ""},
		{"negative grace", Options{Scenario: ScenarioPodKill, GracePeriod: -1}, "--grace-period"},
		{"idle needs pid", Options{Scenario: ScenarioPodsIdle}, "--pid is required"},
		{"idle", Options{Scenario: ScenarioPodsIdle, PID: 1}, ""},
		{"pid elsewhere", Options{Scenario: ScenarioPodStart, PID: 1}, "--pid only applies"},
		{"negative duration", Options{Scenario: ScenarioPodsIdle, PID: 1, Duration: -time.Second}, "--duration"},
		{"launch", Options{Scenario: ScenarioPodKill, Launch: "x"}, "only apply to the ready scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPodDefaultsAndContainer(t *testing.T) {
	if d := (Options{Scenario: ScenarioPodStart}).withDefaults(); d.Count != DefaultPodCount || d.Concurrency != DefaultCreateConcurrency {
		t.Errorf("pod-start defaults = %+v", d)
	}
	if d := (Options{Scenario: ScenarioPodsIdle, PID: 1}).withDefaults(); d.Count != DefaultIdlePodCount || d.Duration != DefaultIdleDuration {
		t.Errorf("pods-idle defaults = %+v", d)
	}
	if d := (Options{Scenario: ScenarioPodKill}).withDefaults(); d.GracePeriod != DefaultKillGrace {
		t.Errorf("pod-kill defaults = %+v", d)
	}
	for _, tt := range []struct {
		o       Options
		image   string
		command string
	}{
		{Options{}, pauseImage, ""},
		{Options{PodCommand: "sleep 3600"}, busyboxImage, "sleep 3600"},
		{Options{PodImage: "alpine", PodCommand: `sh -c "sleep 1"`}, "alpine", "sh -c sleep 1"},
	} {
		image, command := tt.o.podContainer()
		if image != tt.image || strings.Join(command, " ") != tt.command {
			t.Errorf("%+v: image %q, command %q", tt.o, image, command)
		}
	}
}

// startAgentServer runs a server on memory storage with an in-process
// node agent and returns its kubeconfig.
func startAgentServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Info, 1)
	done := make(chan error, 1)
	cfg := app.Config{
		DataDir: t.TempDir(), BindAddress: "127.0.0.1", Storage: app.StorageMemory,
		Agent: &app.AgentConfig{NodeName: "bench-node", NodeIP: net.ParseIP("127.0.0.1")},
	}
	go func() { done <- app.Run(ctx, cfg, func(i app.Info) { started <- i }) }()
	var info app.Info
	select {
	case info = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server stopped with %v", err)
		}
	})
	return info.Kubeconfig
}

// TestPodScenariosAgainstAgent runs every pod scenario with a few pods
// against a server whose in-process agent runs them as processes here, so
// the marks, pidfds and --pid all work. It checks the lines' shape, not
// the figures.
func TestPodScenariosAgainstAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server with a node agent")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs Linux")
	}
	kubeconfig := startAgentServer(t)
	const count = 3
	tests := []struct {
		o    Options
		keys []string // percentile families that must be present and ordered
		more func(t *testing.T, l map[string]any)
	}{
		{Options{Scenario: ScenarioPodStart}, []string{""}, func(t *testing.T, l map[string]any) {
			if l["not_ready"] != 0.0 || l["pods_per_sec"].(float64) <= 0 || l["image"] != pauseImage {
				t.Errorf("pod-start line %v", l)
			}
		}},
		{Options{Scenario: ScenarioPodStart, PodCommand: "sleep 3600"}, []string{""}, func(t *testing.T, l map[string]any) {
			if l["not_ready"] != 0.0 || l["image"] != busyboxImage || l["command"] != "sleep 3600" {
				t.Errorf("pod-start busybox line %v", l)
			}
		}},
		{Options{Scenario: ScenarioPodDelete}, []string{"", "exit_to_gone_", "delete_to_exit_"}, func(t *testing.T, l map[string]any) {
			if l["marks"] != float64(count) || l["armed"] != float64(count) || l["not_gone"] != 0.0 {
				t.Errorf("pod-delete line %v", l)
			}
		}},
		{Options{Scenario: ScenarioPodKill}, []string{"kill_lateness_", "exit_to_gone_", "delete_to_gone_"}, func(t *testing.T, l map[string]any) {
			if l["observed"] != float64(count) || l["not_gone"] != 0.0 || l["grace_period_s"] != float64(DefaultKillGrace) {
				t.Errorf("pod-kill line %v", l)
			}
		}},
		{Options{Scenario: ScenarioPodsIdle, PID: os.Getpid(), Duration: 200 * time.Millisecond, IdleSettle: time.Millisecond}, nil, func(t *testing.T, l map[string]any) {
			if l["running"] != float64(count) || l["unschedulable"] != 0.0 || l["cpu_percent"].(float64) < 0 || l["sample_s"].(float64) <= 0 {
				t.Errorf("pods-idle line %v", l)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.o.Scenario, func(t *testing.T) {
			o := tt.o
			o.Kubeconfig, o.Count, o.Concurrency, o.Timeout = kubeconfig, count, 2, 2*time.Minute
			var out bytes.Buffer
			if err := Run(context.Background(), o, &out); err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			lines := readLines(t, &out)
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1", len(lines))
			}
			l := lines[0]
			if l["scenario"] != o.Scenario || l["count"] != float64(count) || l["errors"] != 0.0 || l["timed_out"] == true {
				t.Errorf("line %v", l)
			}
			for _, k := range tt.keys {
				p50, p99, maxV := l[k+"p50_ms"], l[k+"p99_ms"], l[k+"max_ms"]
				if p50 == nil || p99 == nil || maxV == nil || p50.(float64) > p99.(float64) || p99.(float64) > maxV.(float64) {
					t.Errorf("%s percentiles missing or out of order: %v %v %v", k, p50, p99, maxV)
				}
			}
			tt.more(t, l)
		})
	}
}

// TestCreatePodsClosedLoop: with an after callback a worker creates its
// next pod only once after has returned for its last, so --concurrency is
// the number of pods in flight (pod-start); without one the creates run
// back to back.
func TestCreatePodsClosedLoop(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			client := fake.NewClientset()
			var mu sync.Mutex
			inFlight, most := 0, 0
			client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				mu.Lock()
				defer mu.Unlock()
				inFlight++
				most = max(most, inFlight)
				return false, nil, nil
			})
			rc := runConfig{client: client, ns: "bench", runID: "x", count: 12, workers: workers}
			var errs errorCounter
			after := func(int) {
				mu.Lock()
				defer mu.Unlock()
				inFlight--
			}
			created := createPods(context.Background(), rc, func(i int) *corev1.Pod { return rc.pod(i, pauseImage, nil, nil, nil) }, nil, &errs, after)
			if n := countTrue(created); n != rc.count || errs.n != 0 {
				t.Fatalf("created %d of %d, errors %v", n, rc.count, errs.metrics())
			}
			if most > workers {
				t.Errorf("%d pods in flight at once, want at most %d", most, workers)
			}
		})
	}
}
