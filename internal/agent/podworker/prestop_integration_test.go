package podworker_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/terminus-project/terminus/internal/apptest"
)

// TestPreStopLeftRunning: G6 step 4. A preStop exec hook still running
// when its budget (the grace period) is used up is left running while
// termination goes on: the stop signal comes at the budget's end with at
// least 2 s before SIGKILL (step 5), the hook runs on meanwhile, and it
// ends with the container (with kubelet it runs inside it).
func TestPreStopLeftRunning(t *testing.T) {
	e := setup(t)
	e.startAgent()
	hookPID := filepath.Join(t.TempDir(), "hook.pid")
	p, rec := e.pod("slowstop", "ignore", corev1.RestartPolicyAlways)
	p.Spec.TerminationGracePeriodSeconds = new(int64(1))
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
		Command: []string{"sh", "-c", `echo $$ > ` + hookPID + `.tmp && mv ` + hookPID + `.tmp ` + hookPID + ` && exec sleep 60`},
	}}}
	e.create(p)
	e.waitRunning("slowstop")
	recorded(t, rec, "ready")
	e.delete("slowstop", 1)
	var pid int
	apptest.Eventually(t, "the hook runs", func() (bool, error) {
		b, err := os.ReadFile(hookPID)
		if os.IsNotExist(err) {
			return false, nil
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil, err
	})
	term := recorded(t, rec, "term")
	// The budget is over (the stop signal came), the hook still runs: the
	// program ignores TERM, so the container lives 2 s more.
	if !sleeping(pid) {
		t.Errorf("G6 step 4: hook %d gone when the stop signal came, want it left running", pid)
	}
	gone := e.waitGone("slowstop")
	if d := gone.Sub(term); d < 1500*time.Millisecond {
		t.Errorf("G6 step 5: TERM → gone %v, want at least about 2 s", d)
	}
	apptest.Eventually(t, "the hook ends with its container", func() (bool, error) {
		return !sleeping(pid), nil
	})
}

// sleeping reports whether pid is a live (not zombie) sleep process.
func sleeping(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && strings.HasPrefix(string(b), "sleep\x00")
}

// TestPreStopHTTPGet: an httpGet preStop hook (G6 step 2) is called, with
// kubelet's lifecycle user agent, on the pod's IP and named port, before
// the stop signal.
func TestPreStopHTTPGet(t *testing.T) {
	e := setup(t)
	called := make(chan time.Time, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/drain" && r.UserAgent() == "kube-lifecycle/1.37" {
			select {
			case called <- time.Now():
			default:
			}
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	e.startAgent()
	p, rec := e.pod("hooked", "trap", corev1.RestartPolicyAlways)
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "admin", ContainerPort: int32(l.Addr().(*net.TCPAddr).Port)}}
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromString("admin")},
	}}
	e.create(p)
	e.waitRunning("hooked")
	recorded(t, rec, "ready")
	e.delete("hooked", 30)
	term := recorded(t, rec, "term")
	e.waitGone("hooked")
	select {
	case at := <-called:
		if at.After(term) {
			t.Errorf("G6: preStop called at %v, after the stop signal at %v", at, term)
		}
	default:
		t.Fatal("the preStop hook was not called (or not with path /drain and kube-lifecycle/1.37)")
	}
}
