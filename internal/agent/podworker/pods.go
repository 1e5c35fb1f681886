package podworker

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrContainerNotFound means the pod has no such container attempt on
// this node (never started, or its directory is gone).
var ErrContainerNotFound = errors.New("container not found")

// PodByName returns the pod the agent runs under namespace/name, as the
// API last sent it (its status is the one the agent wrote, so
// containerStatuses hold the container IDs the logs are found by). The
// object is shared: callers must not modify it.
func (a *Agent) PodByName(namespace, name string) (*corev1.Pod, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if p := w.pod(); p != nil && p.Namespace == namespace && p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// Pods returns the pods the agent runs, by namespace and name (the
// kubelet API's /pods). The objects are shared: callers must not modify
// them.
func (a *Agent) Pods() []*corev1.Pod {
	a.mu.Lock()
	pods := make([]*corev1.Pod, 0, len(a.workers))
	for _, w := range a.workers {
		if p := w.pod(); p != nil {
			pods = append(pods, p)
		}
	}
	a.mu.Unlock()
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	return pods
}

// ContainerDir returns the process.Runtime directory of the attempt of
// the pod's container whose containerID (terminus://<id>, or the bare id)
// is given: the current attempt or the previous one, the two the kubelet
// keeps for kubectl logs and logs --previous. An empty containerID means
// the current attempt. It reads the pod's persisted state, which the
// worker writes atomically before acting, so it needs no worker lock.
func (a *Agent) ContainerDir(pod *corev1.Pod, container, containerID string) (string, error) {
	st, err := loadState(a.podDir(pod.UID))
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, ErrContainerNotFound)
	}
	rec := st.Containers[container]
	if rec == nil || rec.Dir == "" {
		return "", fmt.Errorf("container %q in pod %s/%s: %w", container, pod.Namespace, pod.Name, ErrContainerNotFound)
	}
	id := strings.TrimPrefix(containerID, containerIDPrefix)
	switch {
	case id == "" || id == rec.ID:
		return rec.Dir, nil
	case rec.Last != nil && rec.Last.ID == id && rec.Attempt > 0:
		dir := attemptDir(a.podDir(pod.UID), container, rec.Attempt-1)
		if _, err := os.Stat(dir); err != nil {
			// Removed by container GC (H3, H4): no more --previous.
			return "", fmt.Errorf("container %q in pod %s/%s: attempt %s removed: %w", container, pod.Namespace, pod.Name, id, ErrContainerNotFound)
		}
		return dir, nil
	}
	return "", fmt.Errorf("container %q in pod %s/%s has no attempt %s: %w", container, pod.Namespace, pod.Name, id, ErrContainerNotFound)
}

// pod is the worker's latest pod from the API.
func (w *worker) pod() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gone {
		return nil
	}
	return w.latest
}
