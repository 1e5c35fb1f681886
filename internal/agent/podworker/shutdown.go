package podworker

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubelet's node shutdown texts (pkg/kubelet/nodeshutdown).
const (
	reasonNodeShutdown  = "Terminated"
	messageNodeShutdown = "Pod was terminated in response to imminent node shutdown."
	// reasonTerminationByKubelet is the DisruptionTarget condition's.
	reasonTerminationByKubelet = "TerminationByKubelet"
	// systemCriticalPriority is where the kubelet's critical pods begin
	// (scheduling's SystemCriticalPriority).
	systemCriticalPriority = 2000000000
)

// Shutdown is the kubelet's graceful node shutdown: every pod the agent
// runs is stopped, the regular ones first with gracePeriod −
// criticalPeriod at most, then the critical ones (priority at least
// system-cluster-critical's) with criticalPeriod at most, each with the
// pod's own terminationGracePeriodSeconds when shorter. The pods are not
// deleted: they become Failed with reason Terminated and a
// DisruptionTarget condition (TerminationByKubelet), so their controllers
// replace them. Shutdown returns when every pod is stopped and its status
// written, when the periods are over, or when ctx ends.
func (a *Agent) Shutdown(ctx context.Context, gracePeriod, criticalPeriod time.Duration) {
	a.mu.Lock()
	var regular, critical []*worker
	for _, w := range a.workers {
		p := w.pod()
		if p == nil {
			continue
		}
		if p.Spec.Priority != nil && *p.Spec.Priority >= systemCriticalPriority {
			critical = append(critical, w)
		} else {
			regular = append(regular, w)
		}
	}
	a.mu.Unlock()
	for _, group := range []struct {
		workers []*worker
		period  time.Duration
	}{{regular, gracePeriod - criticalPeriod}, {critical, criticalPeriod}} {
		if len(group.workers) == 0 {
			continue
		}
		a.log.Info("node shutdown: stopping pods", "pods", len(group.workers), "period", group.period)
		seconds := int64(group.period / time.Second)
		var done []<-chan struct{}
		for _, w := range group.workers {
			done = append(done, w.shutdown(seconds))
		}
		// The group's period, and a little for the statuses to be written
		// (the stop signal gets at least 2 s, G6).
		t := a.clock.NewTimer(max(group.period, 2*time.Second) + 2*time.Second)
	wait:
		for _, d := range done {
			select {
			case <-d:
			case <-t.C():
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		t.Stop()
	}
}

// shutdown asks the worker to stop its pod for a node shutdown with at
// most seconds of grace; the channel closes once the pod's terminal
// status is written.
func (w *worker) shutdown(seconds int64) <-chan struct{} {
	w.mu.Lock()
	if w.shutdownDone == nil {
		w.shutdownDone = make(chan struct{})
		w.shutdownGrace = &seconds
	}
	done := w.shutdownDone
	w.mu.Unlock()
	w.poke()
	return done
}

// disruptionTarget is the condition the kubelet adds to a pod it kills
// for a node shutdown, keeping the first transition time.
func disruptionTarget(prev *corev1.PodStatus, now time.Time) corev1.PodCondition {
	for _, c := range prev.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reasonTerminationByKubelet,
		Message: messageNodeShutdown, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
	}
}

// shutdownFinished tells a node shutdown waiting for this pod that it is
// stopped and its status written (or that it is gone).
func (w *worker) shutdownFinished() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shutdownDone != nil {
		select {
		case <-w.shutdownDone:
		default:
			close(w.shutdownDone)
		}
	}
}
