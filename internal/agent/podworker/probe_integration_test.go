package podworker_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/terminus-project/terminus/internal/apptest"
)

// Probes, postStart hooks and activeDeadlineSeconds against real
// processes. Every container shares the host's network, so a server of
// the test process is the container's endpoint for httpGet probes.

// waitContainer returns the first container status of pod name once cond
// holds for it.
func (e *env) waitContainer(name, what string, cond func(p *corev1.Pod, cs corev1.ContainerStatus) bool) (*corev1.Pod, corev1.ContainerStatus) {
	e.t.Helper()
	var pod *corev1.Pod
	var cs corev1.ContainerStatus
	apptest.Eventually(e.t, name+": "+what, func() (bool, error) {
		p, err := e.get(name)
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, err
		}
		pod, cs = p, p.Status.ContainerStatuses[0]
		return cond(p, cs), nil
	})
	return pod, cs
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func started(cs corev1.ContainerStatus) bool { return cs.Started != nil && *cs.Started }

func execProbe(cmd ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}},
		PeriodSeconds: 1, TimeoutSeconds: 5, FailureThreshold: 1, SuccessThreshold: 1}
}

// TestReadinessProbeHTTP: an httpGet readiness probe keeps the pod
// unready while the endpoint answers 503 (with Unhealthy events), then
// Ready and ContainersReady follow it to True and back to False.
func TestReadinessProbeHTTP(t *testing.T) {
	e := setup(t)
	var healthy atomic.Bool
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.UserAgent() != "kube-probe/1.37" || !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	e.startAgent()
	p, rec := e.pod("ready", "trap", corev1.RestartPolicyAlways)
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
		PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 5,
	}
	e.create(p)
	recorded(t, rec, "ready")
	e.waitEvent("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")
	pod, cs := e.waitContainer("ready", "running, started, not ready", func(_ *corev1.Pod, cs corev1.ContainerStatus) bool {
		return cs.State.Running != nil && started(cs)
	})
	if cs.Ready || condition(pod, corev1.PodReady) != corev1.ConditionFalse || condition(pod, corev1.ContainersReady) != corev1.ConditionFalse {
		t.Fatalf("ready before the probe succeeded: %+v %+v", cs, pod.Status.Conditions)
	}

	healthy.Store(true)
	e.waitContainer("ready", "Ready and ContainersReady True", func(p *corev1.Pod, cs corev1.ContainerStatus) bool {
		return cs.Ready && condition(p, corev1.PodReady) == corev1.ConditionTrue && condition(p, corev1.ContainersReady) == corev1.ConditionTrue
	})
	healthy.Store(false)
	e.waitContainer("ready", "unready again", func(p *corev1.Pod, cs corev1.ContainerStatus) bool {
		return !cs.Ready && condition(p, corev1.PodReady) == corev1.ConditionFalse && cs.State.Running != nil
	})
	e.delete("ready", 0)
	e.waitGone("ready")
}

// TestLivenessProbeRestarts: a failing liveness probe kills the container
// by the stop path (Killing event with kubelet's message, the stop
// signal) and restartPolicy Always starts it again.
func TestLivenessProbeRestarts(t *testing.T) {
	e := setup(t)
	e.startAgent()
	sick := filepath.Join(t.TempDir(), "sick")
	p, rec := e.pod("live", "trap", corev1.RestartPolicyAlways)
	// The probe fails exactly once: it removes the file it finds. Were it
	// to go on failing, the restarted container could be killed before
	// its TERM handler is in place and lastState would show 143.
	p.Spec.Containers[0].LivenessProbe = execProbe("sh", "-c", "! rm "+sick+" 2>/dev/null")
	pod := e.create(p)
	e.waitRunning("live")
	recorded(t, rec, "ready") // its TERM handler is in place
	if err := os.WriteFile(sick, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.waitEvent("Unhealthy", "Liveness probe failed: ")
	e.waitEvent("Killing", "Container c failed liveness probe, will be restarted")
	recorded(t, rec, "term") // the stop signal, as in G6
	_, cs := e.waitContainer("live", "restarted", func(_ *corev1.Pod, cs corev1.ContainerStatus) bool {
		return cs.RestartCount >= 1 && cs.LastTerminationState.Terminated != nil
	})
	if lt := cs.LastTerminationState.Terminated; cs.RestartCount != 1 || lt.ExitCode != 0 {
		// The trap program exits 0 on TERM.
		t.Errorf("restartCount %d, lastState: %+v", cs.RestartCount, lt)
	}
	e.delete("live", 0)
	apptest.Eventually(t, "directory removed", func() (bool, error) {
		_, err := os.Stat(filepath.Join(e.root, "pods", string(pod.UID)))
		return os.IsNotExist(err), nil
	})
}

// TestStartupProbeGates: until the startup probe succeeds the container
// is running but not started, its readiness probe does not run and it is
// not ready; then it is started and ready.
func TestStartupProbeGates(t *testing.T) {
	e := setup(t)
	e.startAgent()
	flag := filepath.Join(t.TempDir(), "started")
	p, rec := e.pod("startup", "trap", corev1.RestartPolicyAlways)
	startup := execProbe("test", "-e", flag)
	startup.FailureThreshold = 1000
	p.Spec.Containers[0].StartupProbe = startup
	p.Spec.Containers[0].ReadinessProbe = execProbe("true")
	p.Spec.Containers[0].LivenessProbe = execProbe("false") // would kill it if it ran before startup
	e.create(p)
	recorded(t, rec, "ready")
	e.waitEvent("Unhealthy", "Startup probe failed: ")
	_, cs := e.waitContainer("startup", "running, not started", func(_ *corev1.Pod, cs corev1.ContainerStatus) bool {
		return cs.State.Running != nil
	})
	if started(cs) || cs.Ready {
		t.Fatalf("started or ready before the startup probe succeeded: %+v", cs)
	}
	// The liveness probe always fails: had it run before the startup
	// probe succeeded, the container would have been killed by now.
	if e.hasEvent("Killing", "Container c failed liveness probe") {
		t.Fatal("liveness probe ran before the startup probe succeeded")
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.waitContainer("startup", "started", func(_ *corev1.Pod, cs corev1.ContainerStatus) bool {
		return started(cs)
	})
	e.waitEvent("Killing", "Container c failed liveness probe, will be restarted")
	e.delete("startup", 0)
	e.waitGone("startup")
}

// hasEvent reports whether an event with reason and a message starting
// with msg exists now.
func (e *env) hasEvent(reason, msg string) bool {
	e.t.Helper()
	found := false
	apptest.Eventually(e.t, "list events", func() (bool, error) {
		l, err := e.client.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, ev := range l.Items {
			if ev.Reason == reason && strings.HasPrefix(ev.Message, msg) {
				found = true
			}
		}
		return true, nil
	})
	return found
}

// TestPostStartHook: the container is not running in the status until
// its postStart hook returns; a failing hook records FailedPostStartHook,
// kills the container and restartPolicy restarts it.
func TestPostStartHook(t *testing.T) {
	e := setup(t)
	e.startAgent()
	gate := filepath.Join(t.TempDir(), "gate")
	p, rec := e.pod("hooked", "trap", corev1.RestartPolicyAlways)
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
		Command: []string{"sh", "-c", "while [ ! -e " + gate + " ]; do sleep 0.05; done"},
	}}}
	e.create(p)
	recorded(t, rec, "ready") // the program runs, the hook waits
	_, cs := e.waitContainer("hooked", "status written", func(*corev1.Pod, corev1.ContainerStatus) bool { return true })
	if cs.State.Running != nil || started(cs) || cs.Ready {
		t.Fatalf("running before postStart returned: %+v", cs)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.waitRunning("hooked")
	e.delete("hooked", 0)
	e.waitGone("hooked")

	p, _ = e.pod("badhook", "trap", corev1.RestartPolicyAlways)
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}}
	e.create(p)
	e.waitEvent("FailedPostStartHook", "PostStartHook failed")
	e.waitEvent("Killing", "FailedPostStartHook")
	e.waitContainer("badhook", "restarted", func(_ *corev1.Pod, cs corev1.ContainerStatus) bool {
		return cs.RestartCount >= 1
	})
	e.delete("badhook", 0)
	e.waitGone("badhook")
}

// TestActiveDeadline: a pod running longer than activeDeadlineSeconds
// fails with DeadlineExceeded, its containers get the stop signal, and it
// stays in the API (it is not deleted) until deleted.
func TestActiveDeadline(t *testing.T) {
	e := setup(t)
	e.startAgent()
	p, rec := e.pod("deadline", "trap", corev1.RestartPolicyAlways)
	p.Spec.ActiveDeadlineSeconds = new(int64(3))
	e.create(p)
	recorded(t, rec, "ready")
	recorded(t, rec, "term")
	pod, cs := e.waitContainer("deadline", "Failed and stopped", func(p *corev1.Pod, cs corev1.ContainerStatus) bool {
		return p.Status.Phase == corev1.PodFailed && cs.State.Terminated != nil
	})
	if pod.Status.Reason != "DeadlineExceeded" || pod.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("reason %q message %q", pod.Status.Reason, pod.Status.Message)
	}
	if cs.RestartCount != 0 || condition(pod, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("restarted or ready: %+v %+v", cs, pod.Status.Conditions)
	}
	e.waitEvent("DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
	if _, err := e.get("deadline"); err != nil {
		t.Fatalf("the pod must stay: %v", err)
	}
	e.delete("deadline", 30)
	e.waitGone("deadline")
}
