package podworker_test

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/agent/images"
	"github.com/terminus-project/terminus/internal/agent/podworker"
	"github.com/terminus-project/terminus/internal/agent/process"
	"github.com/terminus-project/terminus/internal/apptest"
)

const nodeName = "node-1"

type env struct {
	t      *testing.T
	client kubernetes.Interface
	root   string
	ns     string
	exe    string
	images *images.Store
	pull   bool // the agent pulls images (Config.PullImages)
}

func setup(t *testing.T) *env {
	t.Helper()
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "test"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, client: client, root: t.TempDir(), ns: "test", exe: exe}
	if e.images, err = images.Open(filepath.Join(e.root, "images"), images.Options{Clock: clock.RealClock{}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.killLeftovers)
	return e
}

// startAgent runs an agent until the returned stop is called (or the
// test ends); stop waits for Run to return.
func (e *env) startAgent() (stop func()) {
	e.t.Helper()
	stop, _ = e.runAgent()
	return stop
}

// startAgentReturning runs an agent until the test ends and returns it.
func (e *env) startAgentReturning() *podworker.Agent {
	e.t.Helper()
	_, a := e.runAgent()
	return a
}

func (e *env) runAgent() (stop func(), agent *podworker.Agent) {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rt, err := process.New(process.Config{Logger: log, Clock: clock.RealClock{}})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := podworker.New(podworker.Config{Client: e.client, NodeName: nodeName, Runtime: rt, RootDir: e.root, Images: e.images, PullImages: e.pull, Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}
	e.t.Cleanup(stop)
	return stop, a
}

// killLeftovers ends the containers a failed test left behind.
func (e *env) killLeftovers() {
	rt, err := process.New(process.Config{Logger: slog.New(slog.DiscardHandler), Clock: clock.RealClock{}})
	if err != nil {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(e.root, "pods", "*", "containers", "*", "*"))
	for _, d := range dirs {
		if c, err := rt.Open(d); err == nil {
			_ = c.Kill()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = c.Wait(ctx)
			cancel()
			_ = c.Close()
		}
	}
}

// pod is a pod on the node running the test program prog.
func (e *env) pod(name, prog string, policy corev1.RestartPolicy) (*corev1.Pod, string) {
	rec := filepath.Join(e.t.TempDir(), "record")
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: corev1.PodSpec{
			NodeName:      nodeName,
			RestartPolicy: policy,
			Containers: []corev1.Container{{
				Name: "c", Image: "busybox", Command: []string{e.exe},
				Env: []corev1.EnvVar{
					{Name: programEnv, Value: prog},
					{Name: recordEnv, Value: rec},
					{Name: "GORACE", Value: "atexit_sleep_ms=0"},
				},
			}},
		},
	}, rec
}

func (e *env) create(p *corev1.Pod) *corev1.Pod {
	e.t.Helper()
	p, err := e.client.CoreV1().Pods(e.ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) get(name string) (*corev1.Pod, error) {
	return e.client.CoreV1().Pods(e.ns).Get(context.Background(), name, metav1.GetOptions{})
}

func (e *env) waitRunning(name string) *corev1.Pod {
	e.t.Helper()
	var pod *corev1.Pod
	apptest.Eventually(e.t, name+" Running and Ready", func() (bool, error) {
		p, err := e.get(name)
		if err != nil {
			return false, err
		}
		pod = p
		return p.Status.Phase == corev1.PodRunning && ready(p), nil
	})
	return pod
}

func (e *env) waitGone(name string) time.Time {
	e.t.Helper()
	apptest.Eventually(e.t, name+" deleted", func() (bool, error) {
		_, err := e.get(name)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	return time.Now()
}

func (e *env) delete(name string, graceSeconds int64) {
	e.t.Helper()
	if err := e.client.CoreV1().Pods(e.ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &graceSeconds}); err != nil {
		e.t.Fatal(err)
	}
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// recorded returns the time of the program's first event ev, waiting for
// it.
func recorded(t *testing.T, path, ev string) time.Time {
	t.Helper()
	var at time.Time
	apptest.Eventually(t, "program records "+ev, func() (bool, error) {
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		defer func() { _ = f.Close() }()
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) >= 2 && fields[0] == ev {
				n, _ := strconv.ParseInt(fields[1], 10, 64)
				at = time.Unix(0, n)
				return true, nil
			}
		}
		return false, nil
	})
	return at
}

// watchFinal watches the pod and returns the last status seen before it
// was deleted (G7 then G8).
func (e *env) watchFinal(ctx context.Context, p *corev1.Pod) <-chan *corev1.Pod {
	e.t.Helper()
	w, err := e.client.CoreV1().Pods(e.ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + p.Name, ResourceVersion: p.ResourceVersion,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(chan *corev1.Pod, 1)
	go func() {
		defer w.Stop()
		var last *corev1.Pod
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
					last = p
				}
			}
			if ev.Type == "DELETED" {
				break
			}
		}
		out <- last
	}()
	return out
}

func TestRunningStatus(t *testing.T) {
	e := setup(t)
	e.startAgent()
	p, rec := e.pod("web", "trap", corev1.RestartPolicyAlways)
	start := time.Now()
	e.create(p)
	pod := e.waitRunning("web")
	t.Logf("create → Running and Ready: %v", time.Since(start))
	recorded(t, rec, "ready")
	if len(pod.Status.ContainerStatuses) != 1 {
		t.Fatalf("containerStatuses: %+v", pod.Status.ContainerStatuses)
	}
	cs := pod.Status.ContainerStatuses[0]
	if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || !strings.HasPrefix(cs.ContainerID, "terminus://") || cs.RestartCount != 0 {
		t.Errorf("container status: %+v", cs)
	}
	if pod.Status.PodIP == "" || pod.Status.HostIP == "" || pod.Status.StartTime == nil {
		t.Errorf("IPs and start time: %+v", pod.Status)
	}
	want := map[corev1.PodConditionType]bool{corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true,
		corev1.ContainersReady: true, corev1.PodReady: true, corev1.PodScheduled: true}
	for _, c := range pod.Status.Conditions {
		if want[c.Type] && c.Status == corev1.ConditionTrue {
			delete(want, c.Type)
		}
	}
	if len(want) != 0 {
		t.Errorf("conditions not True: %v in %+v", want, pod.Status.Conditions)
	}
	e.waitEvent(podworker.ReasonHostCommand, `Image "busybox" is not in the local image store: running command`)

	// G7, G8: a graceful DELETE sends TERM; the program exits 0, the pod
	// becomes Succeeded and the agent deletes it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	final := e.watchFinal(ctx, pod)
	e.delete("web", 5)
	recorded(t, rec, "term")
	e.waitGone("web")
	last := <-final
	if last == nil || last.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("final status: %+v", last)
	}
	if cs := last.Status.ContainerStatuses[0]; cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 || cs.Ready {
		t.Errorf("final container status: %+v", cs)
	}
	if ready(last) {
		t.Error("G7: Ready must be False")
	}
	apptest.Eventually(t, "pod directory removed", func() (bool, error) {
		_, err := os.Stat(filepath.Join(e.root, "pods", string(pod.UID)))
		return os.IsNotExist(err), nil
	})
}

func TestKillAfterGrace(t *testing.T) {
	e := setup(t)
	e.startAgent()
	p, rec := e.pod("stubborn", "ignore", corev1.RestartPolicyAlways)
	pod := e.create(p)
	e.waitRunning("stubborn")
	recorded(t, rec, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	final := e.watchFinal(ctx, pod)
	e.delete("stubborn", 3)
	term := recorded(t, rec, "term")
	gone := e.waitGone("stubborn")
	// G6: SIGKILL 3 s after the stop signal (generous bounds).
	if d := gone.Sub(term); d < 2500*time.Millisecond || d > 10*time.Second {
		t.Errorf("TERM → gone: %v, want about 3s", d)
	}
	e.waitEvent("Killing", "Stopping container c")
	last := <-final
	if last == nil || last.Status.Phase != corev1.PodFailed {
		t.Fatalf("final status: %+v", last)
	}
	if ts := last.Status.ContainerStatuses[0].State.Terminated; ts == nil || ts.ExitCode != 137 {
		t.Errorf("G7: want exit code 137, got %+v", ts)
	}
}

func TestForceDelete(t *testing.T) {
	e := setup(t)
	e.startAgent()
	p, rec := e.pod("forced", "trap", corev1.RestartPolicyAlways)
	pod := e.create(p)
	e.waitRunning("forced")
	recorded(t, rec, "ready")
	e.delete("forced", 0) // G9: gone from the API at once
	recorded(t, rec, "term")
	apptest.Eventually(t, "G9: processes ended and directory removed", func() (bool, error) {
		_, err := os.Stat(filepath.Join(e.root, "pods", string(pod.UID)))
		return os.IsNotExist(err), nil
	})
}

func TestRestartOnFailure(t *testing.T) {
	e := setup(t)
	e.startAgent()
	p, _ := e.pod("crash", "exit:1", corev1.RestartPolicyOnFailure)
	pod := e.create(p)
	var cs corev1.ContainerStatus
	apptest.Eventually(t, "restarted once, then CrashLoopBackOff", func() (bool, error) {
		p, err := e.get("crash")
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, err
		}
		cs = p.Status.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff", nil
	})
	want := "back-off 10s restarting failed container=c pod=crash_test(" + string(pod.UID) + ")"
	if cs.State.Waiting.Message != want {
		t.Errorf("waiting message %q, want %q", cs.State.Waiting.Message, want)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" {
		t.Errorf("lastState: %+v", cs.LastTerminationState)
	}
	e.delete("crash", 0)
	apptest.Eventually(t, "directory removed", func() (bool, error) {
		_, err := os.Stat(filepath.Join(e.root, "pods", string(pod.UID)))
		return os.IsNotExist(err), nil
	})
}

// TestAgentRestartKeepsDeadline: an agent stopped during the grace period
// and a new one started keep the SIGKILL deadline (issue 6).
func TestAgentRestartKeepsDeadline(t *testing.T) {
	e := setup(t)
	stop := e.startAgent()
	p, rec := e.pod("resume", "ignore", corev1.RestartPolicyAlways)
	e.create(p)
	e.waitRunning("resume")
	recorded(t, rec, "ready")
	const grace = 6
	e.delete("resume", grace)
	term := recorded(t, rec, "term")
	stop()
	// The agent stays down for 3 s of the 6 s grace: a new agent that
	// restarted the grace would kill at about term+9s.
	down := time.NewTimer(time.Until(term.Add(3 * time.Second)))
	<-down.C
	e.startAgent()
	gone := e.waitGone("resume")
	if d := gone.Sub(term); d < (grace-1)*time.Second || d > (grace+2)*time.Second+500*time.Millisecond {
		t.Errorf("TERM → gone: %v, want about %ds (the deadline kept)", d, grace)
	}
}

// waitEvent waits for an event with reason whose message starts with msg.
func (e *env) waitEvent(reason, msg string) {
	e.t.Helper()
	apptest.Eventually(e.t, "event "+reason, func() (bool, error) {
		l, err := e.client.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, ev := range l.Items {
			if ev.Reason == reason && strings.HasPrefix(ev.Message, msg) {
				return true, nil
			}
		}
		return false, nil
	})
}

// TestPauseStandIn: a container without command runs the built-in
// stand-in, which exits 0 on TERM (Succeeded after a graceful delete),
// even when deleted at once.
func TestPauseStandIn(t *testing.T) {
	e := setup(t)
	e.startAgent()
	pod := e.create(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pause", Namespace: e.ns},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{
			Name: "pause", Image: "registry.k8s.io/pause:3.10",
		}}},
	})
	e.waitRunning("pause")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	final := e.watchFinal(ctx, pod)
	e.delete("pause", 30)
	e.waitGone("pause")
	e.waitEvent(podworker.ReasonStandIn, `Image "registry.k8s.io/pause:3.10" is not in the local image store`)
	// G6: the stop signal ends the stand-in gracefully, exit 0 as pause;
	// its handler is in place before the container is reported running.
	last := <-final
	if last == nil {
		t.Fatal("no terminal status seen")
	}
	if ts := last.Status.ContainerStatuses[0].State.Terminated; ts == nil || ts.ExitCode != 0 || last.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("final container status: %+v", last.Status.ContainerStatuses[0])
	}
}

// TestNodeShutdown: a graceful node shutdown stops the agent's pods with
// the stop signal and the shutdown's grace, and leaves them Failed with
// reason Terminated and a DisruptionTarget condition, not deleted (the
// kubelet's node shutdown manager).
func TestNodeShutdown(t *testing.T) {
	e := setup(t)
	a := e.startAgentReturning()
	p, rec := e.pod("web", "trap", corev1.RestartPolicyAlways)
	e.create(p)
	e.waitRunning("web")
	recorded(t, rec, "ready")
	start := time.Now()
	a.Shutdown(context.Background(), 10*time.Second, 0)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Shutdown took %v: it should return once the pod is stopped", d)
	}
	recorded(t, rec, "term")
	pod, err := e.get("web")
	if err != nil {
		t.Fatalf("the pod should stay in the API: %v", err)
	}
	if pod.Status.Phase != corev1.PodFailed || pod.Status.Reason != "Terminated" || pod.Status.Message != "Pod was terminated in response to imminent node shutdown." {
		t.Errorf("status %s %q %q", pod.Status.Phase, pod.Status.Reason, pod.Status.Message)
	}
	found := false
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "TerminationByKubelet" {
			found = true
		}
	}
	if !found {
		t.Errorf("no DisruptionTarget condition: %+v", pod.Status.Conditions)
	}
	if ts := pod.Status.ContainerStatuses[0].State.Terminated; ts == nil || ts.ExitCode != 0 {
		t.Errorf("container: %+v", pod.Status.ContainerStatuses[0].State)
	}
}
