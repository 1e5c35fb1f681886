package podworker

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/agent/grace"
)

// This file schedules the probes of a pod's containers on the agent's
// clock and turns their results into readiness, started and liveness
// kills (upstream pkg/kubelet/prober/worker.go and prober_manager.go
// UpdatePodStatus; kuberuntime_manager.go computePodActions). The runners
// are in probe.go.
//
// Probe state is in memory, as upstream's results cache: after an agent
// restart every probe starts again from its initial result, and the
// initial delay counts from when this agent first saw the container
// running.

// containerProbes is the probe state of one container attempt: one
// prober worker per kind in upstream.
type containerProbes struct {
	id    string // the attempt (containerRecord.ID) it belongs to
	kinds [probeKinds]*probeState
}

// probeState is one probe of an attempt.
type probeState struct {
	next    time.Time // when the next run is due
	running bool
	counter probeCounter
	// result is the thresholded result: readiness starts as a failure
	// (not ready), liveness as a success, startup as unknown (not
	// started), as upstream's initialValue.
	result probeOutcome
	// onHold stops probing after a liveness or startup failure until
	// the container is restarted (a new attempt gets new state).
	onHold bool
}

// probeReport is a probe run's end, handed from its goroutine to the
// worker.
type probeReport struct {
	container, id string
	kind          probeKind
	run           probeRun
}

// probedContainers lists the containers that may have probes: the
// regular ones and the sidecars (validation forbids probes on other init
// containers).
func probedContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			out = append(out, &pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

// running reports whether c's current attempt runs and its postStart
// hook, if any, has returned: only then is it "running" in the status
// and probed (kubelet's startContainer returns after postStart).
func (w *worker) running(name string) bool {
	s, ok := w.containerStatus(name)
	if !ok || !s.Running {
		return false
	}
	rec := w.st.Containers[name]
	return rec != nil && w.postStarts[name] != rec.ID
}

// probesOf returns the probe state of c's running attempt, creating it on
// first sight; nil if c is not running or has no probes.
func (w *worker) probesOf(c *corev1.Container, now time.Time) *containerProbes {
	if !w.running(c.Name) {
		return nil
	}
	rec := w.st.Containers[c.Name]
	if cp := w.probes[c.Name]; cp != nil && cp.id == rec.ID {
		return cp
	}
	cp := &containerProbes{id: rec.ID}
	initial := [probeKinds]probeOutcome{readinessProbe: probeFailure, livenessProbe: probeSuccess, startupProbe: probeUnknown}
	has := false
	for k := range probeKinds {
		if p := probeOf(c, k); p != nil {
			cp.kinds[k] = &probeState{result: initial[k], next: now.Add(paramsOf(p).initialDelay)}
			has = true
		}
	}
	if !has {
		delete(w.probes, c.Name)
		return nil
	}
	w.probes[c.Name] = cp
	return cp
}

// isStarted is the container status's started: running (postStart done)
// and, with a startup probe, that probe has succeeded (prober_manager
// isContainerStarted).
func (w *worker) isStarted(c *corev1.Container) bool {
	if !w.running(c.Name) {
		return false
	}
	if c.StartupProbe == nil {
		return true
	}
	cp := w.probes[c.Name]
	return cp != nil && cp.id == w.st.Containers[c.Name].ID && cp.kinds[startupProbe] != nil &&
		cp.kinds[startupProbe].result == probeSuccess
}

// isReady is the container status's ready: started and, with a readiness
// probe, that probe's result is a success; without one a started
// container is ready (prober_manager UpdatePodStatus).
func (w *worker) isReady(c *corev1.Container) bool {
	if !w.isStarted(c) {
		return false
	}
	if c.ReadinessProbe == nil {
		return true
	}
	cp := w.probes[c.Name]
	return cp != nil && cp.id == w.st.Containers[c.Name].ID && cp.kinds[readinessProbe] != nil &&
		cp.kinds[readinessProbe].result == probeSuccess
}

// runProbes starts the probes that are due and returns when the next one
// is. Liveness and readiness wait for the startup probe; a pod being
// terminated runs only readiness probes (G5).
func (w *worker) runProbes(ctx context.Context, pod *corev1.Pod, now time.Time, terminating bool) time.Time {
	var wake time.Time
	for _, c := range probedContainers(pod) {
		cp := w.probesOf(c, now)
		if cp == nil {
			continue
		}
		started := w.isStarted(c)
		for k := range probeKinds {
			ps := cp.kinds[k]
			switch {
			case ps == nil, ps.running, ps.onHold:
				continue
			case k == startupProbe && started:
				continue // a started container is not probed for startup again
			case k != startupProbe && !started:
				continue // startup gates liveness and readiness
			case terminating && k != readinessProbe:
				continue
			}
			if now.Before(ps.next) {
				wake = earliest(wake, ps.next)
				continue
			}
			p := probeOf(c, k)
			ps.running = true
			// Runs are due every period from the last start, as
			// upstream's ticker; a run longer than the period delays
			// the next one until it returns.
			ps.next = now.Add(paramsOf(p).period)
			w.launchProbe(ctx, pod, c, cp.id, k, p)
		}
	}
	return wake
}

// launchProbe runs one probe in a goroutine and reports its end to the
// worker.
func (w *worker) launchProbe(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, k probeKind, p *corev1.Probe) {
	cont := w.conts[c.Name]
	ip := w.a.nodeIP(ctx)
	w.wg.Go(func() {
		run := w.a.prober.run(ctx, p, c, cont, ip)
		w.mu.Lock()
		w.probeReports = append(w.probeReports, probeReport{container: c.Name, id: id, kind: k, run: run})
		w.mu.Unlock()
		w.poke()
	})
}

// applyProbeReports counts the finished runs: Unhealthy events for every
// failed run (prober.go), thresholds (worker.go doProbe), and a kill of a
// container whose liveness or startup probe failed (computePodActions).
func (w *worker) applyProbeReports(pod *corev1.Pod, reports []probeReport, terminating bool, now time.Time) {
	for _, r := range reports {
		cp := w.probes[r.container]
		c := findContainer(pod, r.container)
		if cp == nil || cp.id != r.id || c == nil || cp.kinds[r.kind] == nil {
			continue // an earlier attempt's run
		}
		ps := cp.kinds[r.kind]
		ps.running = false
		if terminating && r.kind != readinessProbe {
			continue // G5: liveness and startup stopped
		}
		switch {
		case r.run.err != nil:
			w.log.Info("probe errored", "pod", klogKey(pod), "container", r.container, "probe", r.kind, "error", r.run.err)
			w.eventf(pod, corev1.EventTypeWarning, reasonUnhealthy, "%s probe errored: %v", r.kind, r.run.err)
			continue // thrown away, not counted
		case r.run.outcome == probeFailure:
			w.eventf(pod, corev1.EventTypeWarning, reasonUnhealthy, "%s probe failed: %s", r.kind, r.run.output)
		case r.run.outcome == probeWarning:
			w.eventf(pod, corev1.EventTypeWarning, reasonProbeWarning, "%s probe warning: %s", r.kind, r.run.output)
		}
		result, changed := ps.counter.observe(r.run.outcome, paramsOf(probeOf(c, r.kind)))
		if !changed {
			continue
		}
		ps.result = result
		if result == probeFailure && r.kind != readinessProbe {
			ps.onHold = true
			ps.counter.reset()
			w.killForProbe(pod, c, r.kind, now)
		}
	}
}

// killForProbe starts killing a container whose liveness or startup
// probe failed, by the stop path of G6 with the probe's
// terminationGracePeriodSeconds, else the pod's; the Killing event says
// why and whether it will be restarted (kuberuntime_manager.go
// computePodActions, kuberuntime_container.go killContainer).
func (w *worker) killForProbe(pod *corev1.Pod, c *corev1.Container, k probeKind, now time.Time) {
	rec := w.st.Containers[c.Name]
	if rec == nil || rec.Kill != nil {
		return
	}
	msg := fmt.Sprintf("Container %s failed %s probe", c.Name, strings.ToLower(k.String()))
	restart := pod.Spec.RestartPolicy != corev1.RestartPolicyNever
	if restart {
		msg += ", will be restarted"
	}
	g := pod.Spec.TerminationGracePeriodSeconds
	if p := probeOf(c, k); p != nil && p.TerminationGracePeriodSeconds != nil {
		g = p.TerminationGracePeriodSeconds
	}
	w.beginKill(pod, c, msg, g, restart, now)
}

// beginKill records a kill of one running container by a grace.Plan of
// its own (persisted with the record, so an agent restart keeps its
// deadlines); syncPod drives it (driveKills). restart: the container
// restarts once it exited whatever its exit code (see restartsAfterKill).
func (w *worker) beginKill(pod *corev1.Pod, c *corev1.Container, msg string, graceSeconds *int64, restart bool, now time.Time) {
	rec := w.st.Containers[c.Name]
	if rec == nil {
		return
	}
	g := grace.Effective(grace.Request{Spec: graceSeconds})
	only := func(name string) bool { return name == c.Name }
	rec.Kill = &containerKill{Message: msg, Restart: restart, Plan: grace.NewPlan(g, grace.ContainersOf(pod, only, w.imageStopSignal), now)}
	w.log.Info("killing container", "pod", klogKey(pod), "container", c.Name, "reason", msg, "grace", g)
	w.save()
}

// restartsAfterKill reports that the container's attempt was killed for
// a failed probe and the next one starts whatever its exit code: upstream
// restarts it unless restartPolicy is Never (computePodActions), also
// under OnFailure after a clean exit on the stop signal. The start still
// goes through the crash-loop back-off (doBackOff looks at the last
// exited attempt), so the first restart is at once and later ones wait.
func (w *worker) restartsAfterKill(name string) bool {
	rec := w.st.Containers[name]
	return rec != nil && rec.Kill != nil && rec.Kill.Restart
}

// driveKills moves the containers' own kill plans on: preStop hook ends,
// exits, then the plan's actions (G6 for one container). It returns when
// a plan needs to run again.
func (w *worker) driveKills(ctx context.Context, pod *corev1.Pod, hooks []hookResult, now time.Time) time.Time {
	var wake time.Time
	for name, rec := range w.st.Containers {
		k := rec.Kill
		if k == nil || k.Plan.Done() {
			continue
		}
		for _, h := range hooks {
			if h.name != name {
				continue
			}
			_ = k.Plan.PreStopDone(name, h.at)
			if h.err != nil {
				w.log.Info("preStop hook failed", "pod", klogKey(pod), "container", name, "error", h.err)
				w.event(pod, corev1.EventTypeWarning, grace.ReasonFailedPreStopHook, grace.MessageFailedPreStop)
			}
		}
		if s, ok := w.containerStatus(name); !ok || !s.Running {
			at := s.FinishedAt
			if at.IsZero() {
				at = now
			}
			_ = k.Plan.Exited(name, at)
			w.save()
			continue
		}
		acts, next := k.Plan.Next(now)
		w.save() // write-ahead, as terminate
		for _, act := range acts {
			if act.Type == grace.RecordKilling {
				w.event(pod, corev1.EventTypeNormal, grace.ReasonKilling, k.Message)
				continue
			}
			w.act(ctx, pod, act, now)
		}
		if !next.IsZero() {
			wake = earliest(wake, next)
		}
	}
	return wake
}

// earliest is the earlier of two wake times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
