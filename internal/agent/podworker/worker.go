package podworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/terminus-project/terminus/internal/agent/process"
)

// retryAfter is when a sync that failed on the API or the filesystem runs
// again.
const retryAfter = 2 * time.Second

// worker is one pod's state machine (pod_workers.go podSyncStatus). Its
// fields below the mutex belong to its goroutine alone.
type worker struct {
	a   *Agent
	uid types.UID
	dir string
	log *slog.Logger

	mu           sync.Mutex
	latest       *corev1.Pod
	gone         bool
	hooks        []hookResult
	postStarted  []postStartResult
	probeReports []probeReport
	kick         chan struct{}
	// shutdownGrace is a node shutdown's request (Agent.Shutdown), and
	// shutdownDone closes once the pod's terminal status is written.
	shutdownGrace *int64
	shutdownDone  chan struct{}

	wg      sync.WaitGroup // exit watchers and hooks
	st      *podState
	saved   []byte // the state as last written (see saveState)
	conts   map[string]*process.Container
	blocked map[string]*blocked // containers that cannot be created yet
	// pullBackOff holds failed pulls by image reference (ImagePullBackOff).
	pullBackOff map[string]*pullBackOff
	backOffAt   map[string]time.Time
	volumesOK   bool
	sent        *corev1.PodStatus // the last status written
	sentBytes   []byte
	terminalOK  bool
	// postStarts maps a container to its attempt whose postStart hook
	// is running: until it returns the container is not running in the
	// status, nor probed (kubelet's startContainer).
	postStarts map[string]string
	probes     map[string]*containerProbes
}

// hookResult is a preStop hook's end.
type hookResult struct {
	name string
	at   time.Time
	err  error
}

// postStartResult is a postStart hook's end for attempt id.
type postStartResult struct {
	name, id string
	err      error
}

func newWorker(a *Agent, uid types.UID, dir string) *worker {
	return &worker{
		a: a, uid: uid, dir: dir, log: a.log.With("uid", uid),
		kick:        make(chan struct{}, 1),
		conts:       map[string]*process.Container{},
		blocked:     map[string]*blocked{},
		pullBackOff: map[string]*pullBackOff{},
		backOffAt:   map[string]time.Time{},
		postStarts:  map[string]string{}, probes: map[string]*containerProbes{},
	}
}

// update hands the worker the pod's latest state (removed: gone from the
// API) and wakes it.
func (w *worker) update(pod *corev1.Pod, removed bool) {
	w.mu.Lock()
	w.latest = pod
	if removed {
		w.gone = true
	}
	w.mu.Unlock()
	w.poke()
}

func (w *worker) removed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gone
}

func (w *worker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run syncs the pod until it is finished (true: containers stopped, the
// pod deleted or gone, its directory removed) or ctx ends (false: the
// containers go on, the state is on disk for the next agent).
func (w *worker) run(ctx context.Context) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		w.wg.Wait()
		for _, c := range w.conts {
			_ = c.Close()
		}
	}()
	if err := w.load(ctx); err != nil {
		w.log.Error("load pod state", "error", err)
	}
	for {
		wake, done := w.sync(ctx)
		if done {
			return true
		}
		var timeout <-chan time.Time
		stop := func() {}
		if !wake.IsZero() {
			t := w.a.clock.NewTimer(max(wake.Sub(w.a.clock.Now()), 0))
			timeout, stop = t.C(), func() { t.Stop() }
		}
		select {
		case <-ctx.Done():
			stop()
			return false
		case <-w.kick:
		case <-timeout:
		}
		stop()
	}
}

// load reads the pod directory left by an earlier agent (or this one) and
// re-attaches the containers (issue 6: containers outlive the agent).
func (w *worker) load(ctx context.Context) error {
	st, err := loadState(w.dir)
	if err != nil {
		return err
	}
	if st == nil {
		st = &podState{Containers: map[string]*containerRecord{}}
	}
	w.st = st
	for name, rec := range st.Containers {
		c, err := w.a.cfg.Runtime.Open(rec.Dir)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				w.log.Warn("re-attach container", "container", name, "error", err)
			}
			continue
		}
		w.conts[name] = c
		w.watch(ctx, c)
	}
	return nil
}

// watch wakes the worker when c exits.
func (w *worker) watch(ctx context.Context, c *process.Container) {
	w.wg.Go(func() {
		if _, err := c.Wait(ctx); err == nil {
			w.poke()
		}
	})
}

// sync is one pass of the state machine; it returns when it wants to run
// again (zero: on the next event) or that the pod is finished.
func (w *worker) sync(ctx context.Context) (time.Time, bool) {
	w.mu.Lock()
	pod, gone, hooks, started, probed := w.latest, w.gone, w.hooks, w.postStarted, w.probeReports
	w.hooks, w.postStarted, w.probeReports = nil, nil, nil
	shutdown := w.shutdownGrace
	w.mu.Unlock()
	if pod == nil {
		return time.Time{}, false
	}
	if w.st.Pod == nil || pod.ResourceVersion != "" {
		w.st.Pod = trimmed(pod)
	}
	if gone {
		w.st.Removed = true
	}
	if shutdown != nil && w.st.NodeShutdown == nil {
		w.st.NodeShutdown = shutdown
		w.save()
	}
	now := w.a.clock.Now()
	terminating := w.st.Plan != nil || w.st.Removed || pod.DeletionTimestamp != nil || w.st.DeadlineExceeded || w.st.NodeShutdown != nil
	w.postStartsDone(pod, started, terminating, now)
	w.applyProbeReports(pod, probed, terminating, now)
	var deadline time.Time
	if !terminating {
		deadline, terminating = w.activeDeadline(pod, now)
	}
	if terminating {
		return w.terminate(ctx, pod, hooks)
	}
	return earliest(w.syncPod(ctx, pod, hooks), deadline), false
}

// trimmed is the part of a pod the state keeps: metadata without
// managedFields, and the spec.
func trimmed(pod *corev1.Pod) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: *pod.ObjectMeta.DeepCopy(), Spec: *pod.Spec.DeepCopy()}
	p.ManagedFields = nil
	return p
}

// containerStatus is the runtime's view of a container's current attempt.
func (w *worker) containerStatus(name string) (process.Status, bool) {
	c := w.conts[name]
	if c == nil {
		return process.Status{}, false
	}
	return c.Status(), true
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// shouldRestart is kubelet's ShouldContainerBeRestarted for an exited
// container of a pod that is not terminating.
func shouldRestart(pod *corev1.Pod, c *corev1.Container, init bool, exitCode int) bool {
	if init && isSidecar(c) {
		return true
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	if init {
		return exitCode != 0 // an init container that succeeded is done
	}
	return true
}

// syncPod is SyncPod for a pod that is not terminating: volumes, then
// init containers one at a time, each to completion, then the regular
// containers, restarting per restartPolicy with back-off; then status.
func (w *worker) syncPod(ctx context.Context, pod *corev1.Pod, hooks []hookResult) time.Time {
	now := w.a.clock.Now()
	var wake time.Time
	wakeAt := func(t time.Time) { wake = earliest(wake, t) }
	wakeAt(w.driveKills(ctx, pod, hooks, now))
	if !w.volumesOK {
		if err := w.setUpVolumes(ctx, pod); err != nil {
			w.event(pod, corev1.EventTypeWarning, "FailedMount", err.Error())
			w.log.Warn("volumes", "error", err)
			w.writeStatus(ctx, pod, now)
			return now.Add(retryAfter)
		}
		w.volumesOK = true
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	initDone := !w.st.InitFailed
	for i := range pod.Spec.InitContainers {
		if terminal || !initDone {
			break
		}
		c := &pod.Spec.InitContainers[i]
		sidecar := isSidecar(c)
		s, ok := w.containerStatus(c.Name)
		switch {
		case !ok:
			wakeAt(w.start(ctx, pod, c, true))
			initDone = sidecar && w.isStarted(c)
		case s.Running:
			// A sidecar lets the next container start once started:
			// postStart returned and its startup probe succeeded
			// (kuberuntime_manager computeInitContainerActions).
			initDone = sidecar && w.isStarted(c)
		case !sidecar && s.ExitCode == 0:
		case !shouldRestart(pod, c, true, s.ExitCode):
			w.st.InitFailed = true // restartPolicy Never: the pod fails
			initDone = false
			w.save()
		default:
			wakeAt(w.restart(ctx, pod, c, true, s, now))
			initDone = sidecar && w.isStarted(c)
		}
	}
	if initDone && !terminal {
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			s, ok := w.containerStatus(c.Name)
			switch {
			case !ok:
				wakeAt(w.start(ctx, pod, c, false))
			case s.Running:
			case shouldRestart(pod, c, false, s.ExitCode) || w.restartsAfterKill(c.Name):
				wakeAt(w.restart(ctx, pod, c, false, s, now))
			}
		}
	}
	wakeAt(w.runProbes(ctx, pod, now, false))
	if !w.writeStatus(ctx, pod, now) {
		wakeAt(now.Add(retryAfter))
	}
	return wake
}

// restart starts the next attempt of an exited container unless it is in
// back-off (kuberuntime_manager doBackOff); then it returns when the
// back-off ends.
func (w *worker) restart(ctx context.Context, pod *corev1.Pod, c *corev1.Container, init bool, s process.Status, now time.Time) time.Time {
	rec := w.st.Containers[c.Name]
	if rec.BackOff.inBackOffSince(s.FinishedAt, now) {
		if !w.backOffAt[c.Name].Equal(s.FinishedAt) {
			w.backOffAt[c.Name] = s.FinishedAt
			w.event(pod, corev1.EventTypeWarning, reasonBackOff, backOffEventMessage(c.Name, pod))
		}
		return s.FinishedAt.Add(rec.BackOff.Duration)
	}
	rec.BackOff.next(s.FinishedAt)
	return w.start(ctx, pod, c, init)
}

// save persists the state; a failure is logged (the next save retries).
func (w *worker) save() {
	var err error
	if w.saved, err = saveState(w.dir, w.st, w.saved); err != nil {
		w.log.Error("save pod state", "error", err)
	}
}

func (w *worker) event(pod *corev1.Pod, typ, reason, msg string) {
	if r := w.a.events(); r != nil {
		r.Event(pod, typ, reason, msg)
	}
}

func (w *worker) eventf(pod *corev1.Pod, typ, reason, format string, args ...any) {
	w.event(pod, typ, reason, fmt.Sprintf(format, args...))
}
