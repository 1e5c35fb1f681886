package podworker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/terminus-project/terminus/internal/agent/process"
)

func TestProbeCounter(t *testing.T) {
	const (
		S = probeSuccess
		F = probeFailure
		W = probeWarning
		U = probeUnknown
	)
	for _, tc := range []struct {
		name             string
		success, failure int
		runs             []probeOutcome
		want             []probeOutcome // U: unchanged
	}{
		{"thresholds 1", 1, 1, []probeOutcome{S, F, S}, []probeOutcome{S, F, S}},
		{"three failures", 1, 3, []probeOutcome{F, F, F, F}, []probeOutcome{U, U, F, F}},
		{"failures interrupted", 1, 3, []probeOutcome{F, F, S, F, F, F}, []probeOutcome{U, U, S, U, U, F}},
		{"two successes", 2, 1, []probeOutcome{S, F, S, S, S}, []probeOutcome{U, F, U, S, S}},
		{"warning is a success", 1, 1, []probeOutcome{F, W}, []probeOutcome{F, S}},
		{"unknown not counted", 1, 2, []probeOutcome{F, U, F}, []probeOutcome{U, U, F}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pc probeCounter
			p := probeParams{successThreshold: tc.success, failureThreshold: tc.failure}
			for i, o := range tc.runs {
				got, changed := pc.observe(o, p)
				if !changed {
					got = U
				}
				if got != tc.want[i] {
					t.Fatalf("run %d (%v): got %v, want %v", i, o, got, tc.want[i])
				}
			}
		})
	}
}

func TestParamsDefaults(t *testing.T) {
	got := paramsOf(&corev1.Probe{})
	want := probeParams{period: 10 * time.Second, timeout: time.Second, successThreshold: 1, failureThreshold: 3}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	got = paramsOf(&corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 2, FailureThreshold: 7})
	want = probeParams{initialDelay: 5 * time.Second, period: 2 * time.Second, timeout: 3 * time.Second, successThreshold: 2, failureThreshold: 7}
	if got != want {
		t.Fatalf("set %+v, want %+v", got, want)
	}
}

func TestHTTPGetProbe(t *testing.T) {
	var mu sync.Mutex // the handler runs on the server's goroutines
	var lastUA, lastHeader string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastUA, lastHeader = r.UserAgent(), r.Header.Get("X-Probe")
		mu.Unlock()
		_, _ = fmt.Fprint(w, "fine")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+portStr+"/ok", http.StatusFound)
	})
	c := &corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	pr := newProber(nil)

	// A port nothing listens on: bind one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	for _, tc := range []struct {
		name    string
		path    string
		port    intstr.IntOrString
		want    probeOutcome
		output  string // prefix
		wantErr bool
	}{
		{"ok by number", "/ok", intstr.FromInt32(int32(port)), probeSuccess, "fine", false},
		{"ok by name", "/ok", intstr.FromString("web"), probeSuccess, "fine", false},
		{"503", "/fail", intstr.FromInt32(int32(port)), probeFailure, "HTTP probe failed with statuscode: 503", false},
		{"same-host redirect followed", "/redirect", intstr.FromInt32(int32(port)), probeSuccess, "fine", false},
		{"other-host redirect not followed", "/elsewhere", intstr.FromInt32(int32(port)), probeWarning, "Probe terminated redirects", false},
		{"refused", "/ok", intstr.FromInt(closedPort), probeFailure, "Get ", false},
		{"unknown port name", "/ok", intstr.FromString("nope"), probeUnknown, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: tc.path, Port: tc.port,
				HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}},
			}}, TimeoutSeconds: 5}
			run := pr.run(context.Background(), p, c, nil, "127.0.0.1")
			if (run.err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", run.err, tc.wantErr)
			}
			if run.outcome != tc.want || !strings.HasPrefix(run.output, tc.output) {
				t.Fatalf("got %v %q, want %v %q…", run.outcome, run.output, tc.want, tc.output)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if lastUA != probeUserAgent || lastHeader != "yes" {
		t.Errorf("User-Agent %q, X-Probe %q", lastUA, lastHeader)
	}
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := l.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l2.Addr().(*net.TCPAddr).Port
	_ = l2.Close()
	defer func() { _ = l.Close() }()

	pr := newProber(nil)
	for _, tc := range []struct {
		port int
		want probeOutcome
	}{{open, probeSuccess}, {closed, probeFailure}} {
		p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(tc.port)}}}
		if run := pr.run(context.Background(), p, &corev1.Container{}, nil, "127.0.0.1"); run.outcome != tc.want || run.err != nil {
			t.Errorf("port %d: %+v, want %v", tc.port, run, tc.want)
		}
	}
	grpc := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(open)}}}
	if run := pr.run(context.Background(), grpc, &corev1.Container{}, nil, "127.0.0.1"); run.err == nil {
		t.Errorf("gRPC: %+v, want an error (not supported)", run)
	}
}

// execRuntime is a Runtime whose Exec answers from a table and records
// the command it got.
type execRuntime struct {
	Runtime
	res  process.ExecResult
	err  error
	got  []string
	tout time.Duration
}

func (r *execRuntime) Exec(_ context.Context, _ *process.Container, spec process.ExecSpec) (process.ExecResult, error) {
	r.got, r.tout = spec.Command, spec.Timeout
	return r.res, r.err
}

func TestExecProbe(t *testing.T) {
	c := &corev1.Container{Env: []corev1.EnvVar{
		{Name: "FILE", Value: "/tmp/healthy"},
		{Name: "FROM", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}}
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "$(FILE)", "$(FROM)"}}}, TimeoutSeconds: 4}
	for _, tc := range []struct {
		name    string
		res     process.ExecResult
		err     error
		want    probeOutcome
		output  string
		wantErr bool
	}{
		{"exit 0", process.ExecResult{Output: []byte("ok")}, nil, probeSuccess, "ok", false},
		{"exit 1", process.ExecResult{ExitCode: 1, Output: []byte("no such file")}, nil, probeFailure, "no such file", false},
		{"timeout", process.ExecResult{}, fmt.Errorf("x: %w", process.ErrExecTimeout), probeFailure, `command "cat /tmp/healthy $(FROM)" timed out`, false},
		{"not running", process.ExecResult{}, fmt.Errorf("x: %w", process.ErrNotRunning), probeUnknown, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &execRuntime{res: tc.res, err: tc.err}
			run := newProber(rt).run(context.Background(), p, c, nil, "127.0.0.1")
			if (run.err != nil) != tc.wantErr || run.outcome != tc.want || run.output != tc.output {
				t.Fatalf("got %+v, want %v %q (error %v)", run, tc.want, tc.output, tc.wantErr)
			}
			// Only literal env values are expanded
			// (ExpandContainerCommandOnlyStatic); the timeout is the
			// probe's.
			if strings.Join(rt.got, " ") != "cat /tmp/healthy $(FROM)" || rt.tout != 4*time.Second {
				t.Fatalf("command %q timeout %v", rt.got, rt.tout)
			}
		})
	}
}
