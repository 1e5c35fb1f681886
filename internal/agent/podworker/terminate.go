package podworker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/terminus-project/terminus/internal/agent/grace"
	"github.com/terminus-project/terminus/internal/agent/process"
)

// terminate is SyncTerminatingPod then SyncTerminatedPod: it drives the
// pod's grace.Plan (G5, G6), then writes the terminal status (G7) and
// sends the final DELETE (G8), unless the pod is already gone (G9). It
// reports true once the pod is finished and its directory removed.
func (w *worker) terminate(ctx context.Context, pod *corev1.Pod, hooks []hookResult) (time.Time, bool) {
	now := w.a.clock.Now()
	spec := w.st.Pod
	req := grace.Request{DeletionGracePeriodSeconds: pod.DeletionGracePeriodSeconds, Removed: w.st.Removed,
		Override: w.st.NodeShutdown, Spec: spec.Spec.TerminationGracePeriodSeconds}
	if w.st.Plan == nil {
		running := func(name string) bool {
			s, ok := w.containerStatus(name)
			return ok && s.Running
		}
		g := grace.Effective(req)
		w.st.Plan = grace.NewPlan(g, grace.ContainersOf(spec, running, w.imageStopSignal), now)
		w.log.Info("terminating pod", "pod", klogKey(spec), "grace", g, "removed", w.st.Removed)
	} else {
		req.InUse = &w.st.Plan.GraceSeconds
		if w.st.Plan.Shorten(grace.Effective(req), now) { // G4, G5: a shorter grace counts at once
			w.log.Info("grace shortened", "pod", klogKey(spec), "grace", w.st.Plan.GraceSeconds)
		}
	}
	plan := w.st.Plan
	for _, h := range hooks {
		_ = plan.PreStopDone(h.name, h.at)
		if h.err != nil {
			w.log.Info("preStop hook failed", "pod", klogKey(spec), "container", h.name, "error", h.err)
			w.event(spec, corev1.EventTypeWarning, grace.ReasonFailedPreStopHook, grace.MessageFailedPreStop)
		}
	}
	for _, c := range plan.Containers {
		if !c.ExitedAt.IsZero() {
			continue
		}
		if s, ok := w.containerStatus(c.Name); !ok || !s.Running {
			at := s.FinishedAt
			if at.IsZero() {
				at = now
			}
			_ = plan.Exited(c.Name, at)
		}
	}
	actions, wake := plan.Next(now)
	w.save() // write-ahead: the plan records what is about to be done
	for _, act := range actions {
		w.act(ctx, spec, act, now)
	}

	if !plan.Done() {
		if !w.st.Removed {
			// G5: readiness probes go on while the pod terminates.
			wake = earliest(wake, w.runProbes(ctx, pod, now, true))
			w.writeStatus(ctx, pod, now)
		}
		return wake, false
	}
	if !w.st.Removed {
		if !w.terminalOK {
			w.terminalOK = w.patchStatus(ctx, pod, w.buildStatus(ctx, pod, now, true))
		}
		if !w.terminalOK {
			return now.Add(retryAfter), false
		}
		if pod.DeletionTimestamp == nil {
			// Stopped for activeDeadlineSeconds or a node shutdown, not
			// deleted: the pod stays Failed in the API until someone
			// deletes it; then this plan, done, leads straight to the
			// final DELETE.
			w.shutdownFinished()
			return time.Time{}, false
		}
		if !w.finalDelete(ctx, spec) {
			return now.Add(retryAfter), false
		}
	}
	for _, c := range w.conts {
		_ = c.Close()
	}
	w.conts = map[string]*process.Container{}
	if err := os.RemoveAll(w.dir); err != nil {
		w.log.Error("remove pod directory", "error", err)
	}
	w.releaseImages()
	w.log.Info("pod finished", "pod", klogKey(spec))
	w.shutdownFinished()
	return time.Time{}, true
}

// finalDelete is the status manager's DELETE once the pod is terminal
// (G8): grace 0 and the uid as precondition, so a same-name replacement
// answers 409 and is left alone.
func (w *worker) finalDelete(ctx context.Context, pod *corev1.Pod) bool {
	uid := pod.UID
	err := w.a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return true
	}
	if ctx.Err() == nil {
		w.log.Warn("delete terminated pod", "pod", klogKey(pod), "error", err)
	}
	return false
}

// act carries out one action of the plan.
func (w *worker) act(ctx context.Context, pod *corev1.Pod, act grace.Action, now time.Time) {
	c := w.conts[act.Container]
	switch act.Type {
	case grace.RecordKilling:
		w.event(pod, corev1.EventTypeNormal, grace.ReasonKilling, grace.KillingMessage(act.Container))
	case grace.RunPreStop:
		spec := findContainer(pod, act.Container)
		if spec == nil || spec.Lifecycle == nil || spec.Lifecycle.PreStop == nil || c == nil {
			w.hookDone(act.Container, nil)
			return
		}
		h := spec.Lifecycle.PreStop
		budget := act.Deadline.Sub(now)
		w.wg.Go(func() {
			w.hookDone(act.Container, w.runHook(ctx, pod, spec, c, h, budget))
		})
	case grace.SendStopSignal, grace.SendKill:
		if c == nil {
			return
		}
		sig, err := process.ParseSignal(string(act.Signal))
		if err != nil {
			w.log.Warn("stop signal", "container", act.Container, "error", err)
			sig = syscall.SIGTERM
		}
		w.a.metrics.kills.WithLabelValues(string(act.Signal)).Inc()
		if err := c.Signal(sig); err != nil && !errors.Is(err, process.ErrNotRunning) {
			w.log.Warn("signal container", "container", act.Container, "signal", sig, "error", err)
		}
	}
}

// hookDone reports a preStop hook's end to the worker.
func (w *worker) hookDone(name string, err error) {
	w.mu.Lock()
	w.hooks = append(w.hooks, hookResult{name: name, at: w.a.clock.Now(), err: err})
	w.mu.Unlock()
	w.poke()
}

// runHook runs a lifecycle hook (exec, httpGet or sleep); budget > 0 is
// a preStop hook's time (G6 step 2), 0 no limit (postStart). The plan
// goes on when the budget runs out whatever the hook does. An httpGet or
// sleep hook stops there; an exec hook still running is left running, as
// kubelet leaves it (G6 step 4), until its container has exited: with
// kubelet it runs inside the container and dies with it, here it is a
// process group of its own that is ended then.
func (w *worker) runHook(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *process.Container, h *corev1.LifecycleHandler, budget time.Duration) error {
	switch {
	case h.Exec != nil:
		if budget > 0 {
			var stop context.CancelFunc
			ctx, stop = untilExited(ctx, c)
			defer stop()
		}
		res, err := w.a.cfg.Runtime.Exec(ctx, c, process.ExecSpec{Command: h.Exec.Command})
		if err != nil {
			return fmt.Errorf("exec hook: %w", err)
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("exec hook %q exited with %d: %s", h.Exec.Command, res.ExitCode, res.Output)
		}
		return nil
	case h.HTTPGet != nil:
		if budget > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, budget)
			defer cancel()
		}
		return w.httpGet(ctx, spec, h.HTTPGet)
	case h.Sleep != nil:
		d := time.Duration(h.Sleep.Seconds) * time.Second
		if budget > 0 {
			d = min(d, budget)
		}
		t := w.a.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C():
		case <-ctx.Done():
		}
		return nil
	}
	return errors.New("hook has no handler")
}

// untilExited returns a context that ends when c has exited (or ctx
// ends); stop releases its watcher.
func untilExited(ctx context.Context, c *process.Container) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Wait(ctx) // returns at the exit, or once cancel is called
		cancel()
	}()
	return ctx, func() { cancel(); <-done }
}

// lifecycleUserAgent is what kubelet sends on httpGet hooks
// (NewRequestForHTTPGetAction with "lifecycle").
const lifecycleUserAgent = "kube-lifecycle/1.37"

// httpGet runs an httpGet hook against the pod's IP (the node's: every
// container shares the host's network) unless it names a host. Unlike
// kubelet's hook runner, which fails only on transport errors, a status
// outside 2xx and 3xx fails it too.
func (w *worker) httpGet(ctx context.Context, c *corev1.Container, g *corev1.HTTPGetAction) error {
	req, err := newHTTPGetRequest(ctx, g, c, w.a.nodeIP(ctx), lifecycleUserAgent)
	if err != nil {
		return fmt.Errorf("httpGet hook: %w", err)
	}
	resp, err := w.a.http.Do(req)
	if err != nil {
		return fmt.Errorf("httpGet hook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("httpGet hook %s: HTTP %d", req.URL, resp.StatusCode)
	}
	return nil
}

// resolvePort turns a number or a named container port into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q not found in container %s", p.StrVal, c.Name)
}
