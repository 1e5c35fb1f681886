package podworker

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/agent/process"
)

// postStart hooks and activeDeadlineSeconds: what kubelet does to a
// running pod besides probes.

// Reasons and messages as kubelet writes them (pkg/kubelet/events,
// kuberuntime_container.go startContainer, active_deadline.go).
const (
	reasonFailedPostStartHook = "FailedPostStartHook"
	messageFailedPostStart    = "PostStartHook failed"
	// killMessagePostStart is the Killing event's message after a failed
	// postStart hook: killContainer is called with the reason as message.
	killMessagePostStart = "FailedPostStartHook"

	reasonDeadlineExceeded  = "DeadlineExceeded"
	messageDeadlineExceeded = "Pod was active on the node longer than the specified deadline"
)

// launchPostStart runs c's postStart hook, if any, for the attempt id
// just started: the container is not running in the status, nor probed,
// until it returns (kubelet's startContainer runs the hook before
// returning). The hook has no time limit, as upstream's.
func (w *worker) launchPostStart(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, cont *process.Container) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	w.postStarts[c.Name] = id
	h := c.Lifecycle.PostStart
	w.wg.Go(func() {
		err := w.runHook(ctx, pod, c, cont, h, 0)
		w.mu.Lock()
		w.postStarted = append(w.postStarted, postStartResult{name: c.Name, id: id, err: err})
		w.mu.Unlock()
		w.poke()
	})
}

// postStartsDone takes the ended postStart hooks: a failed one records
// FailedPostStartHook and kills the container by the stop path with the
// pod's grace; it is then restarted per restartPolicy as after a crash
// (startContainer returns ErrPostStartHook). A pod being terminated is
// already stopping its containers.
func (w *worker) postStartsDone(pod *corev1.Pod, results []postStartResult, terminating bool, now time.Time) {
	for _, r := range results {
		if w.postStarts[r.name] != r.id {
			continue
		}
		delete(w.postStarts, r.name)
		if r.err == nil {
			continue
		}
		// The event does not carry the hook's output, which may hold
		// secrets (upstream's comment); the log does.
		w.log.Warn("postStart hook failed", "pod", klogKey(pod), "container", r.name, "error", r.err)
		w.event(pod, corev1.EventTypeWarning, reasonFailedPostStartHook, messageFailedPostStart)
		c := findContainer(pod, r.name)
		if terminating || c == nil {
			continue
		}
		if rec := w.st.Containers[r.name]; rec != nil && rec.ID == r.id {
			w.beginKill(pod, c, killMessagePostStart, pod.Spec.TerminationGracePeriodSeconds, false, now)
		}
	}
}

// activeDeadline checks spec.activeDeadlineSeconds against status.startTime
// (kubelet's activeDeadlineHandler): it returns when the deadline comes,
// or true once it has passed, having marked the pod DeadlineExceeded: it
// is then Failed with that reason and its containers are stopped as for a
// deletion, with the pod's grace, but the pod is not deleted.
func (w *worker) activeDeadline(pod *corev1.Pod, now time.Time) (time.Time, bool) {
	d := pod.Spec.ActiveDeadlineSeconds
	prev := w.previous(pod)
	if d == nil || prev.StartTime == nil || prev.Phase == corev1.PodSucceeded || prev.Phase == corev1.PodFailed {
		return time.Time{}, false
	}
	at := prev.StartTime.Add(time.Duration(*d) * time.Second)
	if now.Before(at) {
		return at, false
	}
	w.st.DeadlineExceeded = true
	w.save()
	w.log.Info("active deadline exceeded", "pod", klogKey(pod), "activeDeadlineSeconds", *d)
	w.event(pod, corev1.EventTypeNormal, reasonDeadlineExceeded, messageDeadlineExceeded)
	return time.Time{}, true
}
