package podworker

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Kubelet's crash-loop back-off (pkg/kubelet/kubelet.go: backOffPeriod
// 10 s, MaxContainerBackOff 300 s, over client-go's flowcontrol.Backoff).
const (
	initialBackOff = 10 * time.Second
	maxBackOff     = 300 * time.Second
)

// Waiting reasons and event reasons as kubelet writes them.
const (
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
	reasonBackOff           = "BackOff"
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
)

// backOff is one container's entry of kubelet's flowcontrol.Backoff, kept in
// the persisted state so an agent restart does not reset a crash loop.
// The zero value is "no entry".
type backOff struct {
	Duration   time.Duration `json:"duration,omitempty"`
	LastUpdate time.Time     `json:"lastUpdate,omitzero"`
}

// expired is flowcontrol's hasExpired: an entry not updated for twice the
// maximum (10 min) is forgotten, so a container that ran that long starts
// again from 10 s.
func (b backOff) expired(event time.Time) bool {
	return b.Duration == 0 || event.Sub(b.LastUpdate) > 2*maxBackOff
}

// inBackOffSince is flowcontrol's IsInBackOffSince with event = the
// container's finishedAt: true while now is within the current back-off
// of that exit. The first exit has no entry, so the first restart is at
// once (kuberuntime_manager doBackOff).
func (b backOff) inBackOffSince(event, now time.Time) bool {
	if b.expired(event) {
		return false
	}
	return now.Sub(event) < b.Duration
}

// next is flowcontrol's Next: 10 s on a fresh or expired entry, else
// doubled up to 5 min.
func (b *backOff) next(event time.Time) {
	if b.expired(event) {
		b.Duration = initialBackOff
	} else {
		b.Duration = min(2*b.Duration, maxBackOff)
	}
	b.LastUpdate = event
}

// crashLoopMessage is kubelet's waiting message (doBackOff), with
// format.Pod's name_namespace(uid).
func crashLoopMessage(d time.Duration, container string, pod *corev1.Pod) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", d, container, podString(pod))
}

// backOffEventMessage is the Warning BackOff event's message.
func backOffEventMessage(container string, pod *corev1.Pod) string {
	return fmt.Sprintf("Back-off restarting failed container %s in pod %s", container, podString(pod))
}

func podString(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
