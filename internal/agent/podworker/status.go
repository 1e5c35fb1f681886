package podworker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/terminus-project/terminus/internal/agent/grace"
)

// containerIDPrefix names this runtime in containerID (as containerd://).
const containerIDPrefix = "terminus://"

// writeStatus computes the pod's status and writes it if it changed; it
// reports success (false: retry later).
func (w *worker) writeStatus(ctx context.Context, pod *corev1.Pod, now time.Time) bool {
	return w.patchStatus(ctx, pod, w.buildStatus(ctx, pod, now, false))
}

// patchStatus writes st through pods/status with a strategic merge patch
// carrying metadata.uid, as kubelet's status manager does: a same-name
// replacement pod answers 409 instead of getting this pod's status.
func (w *worker) patchStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) bool {
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   st,
	})
	if err != nil {
		w.log.Error("encode status", "error", err)
		return false
	}
	if bytes.Equal(body, w.sentBytes) {
		return true
	}
	_, err = w.a.cfg.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{}, "status")
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return true // gone or replaced: nothing to report to
		}
		if ctx.Err() == nil {
			w.log.Warn("write pod status", "pod", klogKey(pod), "error", err)
		}
		return false
	}
	w.sent, w.sentBytes = st.DeepCopy(), body
	return true
}

// previous is the status times are carried over from: ours once written,
// else the API's (after an agent restart).
func (w *worker) previous(pod *corev1.Pod) *corev1.PodStatus {
	if w.sent != nil {
		return w.sent
	}
	return &pod.Status
}

// buildStatus is generateAPIPodStatus: phase, conditions, container
// statuses and IPs. final is G7's terminal status of a deleted pod: every
// container terminated, Ready False, phase by grace.TerminalPhase.
func (w *worker) buildStatus(ctx context.Context, pod *corev1.Pod, now time.Time, final bool) corev1.PodStatus {
	prev := w.previous(pod)
	ip := w.a.nodeIP(ctx)
	st := corev1.PodStatus{
		HostIP: ip, HostIPs: []corev1.HostIP{{IP: ip}},
		PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		QOSClass: pod.Status.QOSClass,
	}
	if prev.StartTime != nil {
		st.StartTime = prev.StartTime
	} else {
		st.StartTime = ptrTime(now)
	}

	initDone := !w.st.InitFailed
	var incomplete []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := w.statusOf(pod, c, true, final, now)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		done := cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
		if isSidecar(c) {
			done = (cs.Started != nil && *cs.Started) || final
		}
		if !done {
			initDone = false
			incomplete = append(incomplete, c.Name)
		}
	}
	var unready []string
	var exits []grace.Exit
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := w.statusOf(pod, c, false, final, now)
		if !initDone && cs.State.Waiting != nil && cs.State.Waiting.Reason == reasonContainerCreating {
			cs.State.Waiting.Reason = reasonPodInitializing
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			unready = append(unready, c.Name)
		}
		e := grace.Exit{Name: c.Name}
		if t := cs.State.Terminated; t != nil {
			e.Exited, e.ExitCode = true, t.ExitCode
		}
		exits = append(exits, e)
	}

	switch {
	case w.st.NodeShutdown != nil:
		// The kubelet's node shutdown sets these when it kills the pod.
		st.Phase, st.Reason, st.Message = corev1.PodFailed, reasonNodeShutdown, messageNodeShutdown
	case w.st.DeadlineExceeded:
		// activeDeadlineHandler's ShouldEvict overrides the phase at
		// once, while the containers are still being stopped.
		st.Phase, st.Reason, st.Message = corev1.PodFailed, reasonDeadlineExceeded, messageDeadlineExceeded
	case final:
		st.Phase = grace.TerminalPhase(exits) // G7
	case prev.Phase == corev1.PodSucceeded || prev.Phase == corev1.PodFailed:
		st.Phase = prev.Phase // a terminal phase never changes back
	case w.st.InitFailed:
		st.Phase = corev1.PodFailed
	case !initDone:
		st.Phase = corev1.PodPending
	default:
		st.Phase = phaseOf(pod.Spec.RestartPolicy, st.ContainerStatuses)
	}

	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
		for _, p := range prev.Conditions {
			if p.Type == t && p.Status == c.Status {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	cond(corev1.PodReadyToStartContainers, w.volumesOK && !(final && terminal), "", "")
	if initDone || (terminal && len(incomplete) == 0) {
		cond(corev1.PodInitialized, true, "", "")
	} else {
		cond(corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " ")))
	}
	readyReason, readyMsg := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	if terminal {
		readyReason, readyMsg = "PodCompleted", ""
	}
	ready := len(unready) == 0 && !terminal && initDone
	cond(corev1.PodReady, ready, readyReason, readyMsg)
	cond(corev1.ContainersReady, ready, readyReason, readyMsg)
	scheduled := false
	for _, p := range pod.Status.Conditions {
		if p.Type == corev1.PodScheduled {
			st.Conditions = append(st.Conditions, p)
			scheduled = true
		}
	}
	if !scheduled {
		cond(corev1.PodScheduled, true, "", "")
	}
	if w.st.NodeShutdown != nil {
		st.Conditions = append(st.Conditions, disruptionTarget(prev, now))
	}
	return st
}

func ptrTime(t time.Time) *metav1.Time {
	m := metav1.NewTime(t.Truncate(time.Second))
	return &m
}

// statusOf is one container's status (kubelet's convertToAPIContainerStatuses).
func (w *worker) statusOf(pod *corev1.Pod, c *corev1.Container, init, final bool, now time.Time) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(false)}
	rec := w.st.Containers[c.Name]
	s, ok := w.containerStatus(c.Name)
	if rec == nil || !ok {
		switch {
		case final:
			// Never ran: kubelet reports such containers of a deleted
			// pod as terminated with ContainerStatusUnknown.
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "ContainerStatusUnknown",
				Message: "The container could not be located when the pod was terminated"}
		case w.blocked[c.Name] != nil:
			b := w.blocked[c.Name]
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: b.Reason, Message: b.Message}
		case init:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonPodInitializing}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}
		}
		if rec != nil {
			cs.RestartCount = int32(rec.Attempt)
		}
		return cs
	}
	cs.RestartCount = int32(rec.Attempt)
	cs.ContainerID = containerIDPrefix + rec.ID
	if rec.Image != "" {
		cs.Image, cs.ImageID = rec.Image, rec.ImageID
	}
	if rec.Last != nil {
		cs.LastTerminationState.Terminated = apiTerminated(rec.Last)
	}
	if s.Running && !final && !w.running(c.Name) {
		// postStart has not returned: kubelet has not finished starting
		// the container, so it still reports it as being created.
		reason := reasonContainerCreating
		if init {
			reason = reasonPodInitializing
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		return cs
	}
	if s.Running && !final {
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(s.StartedAt)}
		cs.Started = new(w.isStarted(c))
		// Probes decide (probes.go); an init container that is not a
		// sidecar is ready only once it completed.
		cs.Ready = (!init || isSidecar(c)) && w.isReady(c)
		return cs
	}
	if s.Running { // final status of a container still running: should not happen
		s.ExitCode, s.FinishedAt = 137, now
	}
	term := apiTerminated(terminatedOf(rec.ID, s))
	if !final && w.st.Plan == nil && !w.st.InitFailed && (shouldRestart(pod, c, init, s.ExitCode) || w.restartsAfterKill(c.Name)) &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		d := rec.BackOff.Duration
		if d == 0 {
			d = initialBackOff
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff, Message: crashLoopMessage(d, c.Name, pod)}
		cs.LastTerminationState.Terminated = term
		return cs
	}
	cs.State.Terminated = term
	cs.Ready = init && s.ExitCode == 0 && !final
	return cs
}

func apiTerminated(t *terminated) *corev1.ContainerStateTerminated {
	reason := t.Reason
	if reason == "" {
		reason = "Completed"
		if t.ExitCode != 0 {
			reason = "Error"
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: int32(t.ExitCode), Reason: reason, Message: t.Message,
		StartedAt: metav1.NewTime(t.StartedAt), FinishedAt: metav1.NewTime(t.FinishedAt),
		ContainerID: containerIDPrefix + t.ID,
	}
}

// phaseOf is kubelet's getPhase for a pod whose init containers are done.
func phaseOf(policy corev1.RestartPolicy, statuses []corev1.ContainerStatus) corev1.PodPhase {
	var running, waiting, stopped, succeeded int
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil:
			stopped++ // restarting
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0 && policy == corev1.RestartPolicyAlways:
		return corev1.PodRunning
	case stopped > 0 && stopped == succeeded:
		return corev1.PodSucceeded
	case stopped > 0 && policy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	case stopped > 0:
		return corev1.PodRunning // OnFailure: the failed ones restart
	}
	return corev1.PodPending
}
