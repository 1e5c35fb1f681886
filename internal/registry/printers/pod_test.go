package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var podsGR = schema.GroupResource{Resource: "pods"}

func running(ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "c", Ready: ready, RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func waiting(reason string, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "c", RestartCount: restarts, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(reason string, exit, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exit, Signal: signal}}}
}

func withLastTermination(cs corev1.ContainerStatus, finished time.Duration) corev1.ContainerStatus {
	cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(finished)}
	return cs
}

// pod builds a pod with n regular containers on node-1.
func pod(n int, phase corev1.PodPhase, statuses ...corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: objMeta("web"), Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: phase, PodIP: "10.0.0.5"}}
	for i := 0; i < n; i++ {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c", Image: "nginx"})
	}
	p.Status.ContainerStatuses = statuses
	return p
}

// withInit adds n init containers (the first `sidecars` restartable) and
// their statuses.
func withInit(p *corev1.Pod, n, sidecars int, statuses ...corev1.ContainerStatus) *corev1.Pod {
	for i := 0; i < n; i++ {
		c := corev1.Container{Name: "init" + string(rune('a'+i)), Image: "busybox"}
		if i < sidecars {
			c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	}
	for i := range statuses {
		statuses[i].Name = "init" + string(rune('a'+i))
	}
	p.Status.InitContainerStatuses = statuses
	return p
}

func mutate(p *corev1.Pod, f func(*corev1.Pod)) *corev1.Pod { f(p); return p }

// row is the expected pod row; the wide cells default to the pod() values.
func row(ready, status, restarts string) []interface{} {
	return []interface{}{"web", ready, status, restarts, "10m", "10.0.0.5", "node-1", "<none>", "<none>"}
}

func TestPodCells(t *testing.T) {
	deleting := func(p *corev1.Pod) { p.DeletionTimestamp = agoPtr(time.Minute) }
	runRowCases(t, podsGR, []rowCase{
		{"running 1/1", pod(1, corev1.PodRunning, running(true, 0)), row("1/1", "Running", "0")},
		{"running 1/2", pod(2, corev1.PodRunning, running(true, 0), running(false, 0)), row("1/2", "Running", "0")},
		{"restarts with last restart age",
			pod(1, corev1.PodRunning, withLastTermination(running(true, 5), 5*time.Minute)),
			row("1/1", "Running", "5 (5m ago)")},
		{"restarts without termination time", pod(1, corev1.PodRunning, running(true, 2)), row("1/1", "Running", "2")},
		{"container creating", pod(1, corev1.PodPending, waiting("ContainerCreating", 0)), row("0/1", "ContainerCreating", "0")},
		{"crash loop", pod(1, corev1.PodRunning, withLastTermination(waiting("CrashLoopBackOff", 3), 30*time.Second)),
			row("0/1", "CrashLoopBackOff", "3 (30s ago)")},
		{"image pull backoff", pod(1, corev1.PodPending, waiting("ImagePullBackOff", 0)), row("0/1", "ImagePullBackOff", "0")},
		{"pending without statuses", pod(1, corev1.PodPending), row("0/1", "Pending", "0")},
		{"completed", pod(1, corev1.PodSucceeded, terminated("Completed", 0, 0)), row("0/1", "Completed", "0")},
		{"error", pod(1, corev1.PodFailed, terminated("Error", 1, 0)), row("0/1", "Error", "0")},
		{"oom killed", pod(1, corev1.PodRunning, terminated("OOMKilled", 137, 0)), row("0/1", "OOMKilled", "0")},
		{"signal without reason", pod(1, corev1.PodFailed, terminated("", 137, 9)), row("0/1", "Signal:9", "0")},
		{"exit code without reason", pod(1, corev1.PodFailed, terminated("", 3, 0)), row("0/1", "ExitCode:3", "0")},
		{"evicted", mutate(pod(1, corev1.PodFailed), func(p *corev1.Pod) { p.Status.Reason = "Evicted" }), row("0/1", "Evicted", "0")},
		{"scheduling gated", mutate(pod(1, corev1.PodPending), func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}}
		}), row("0/1", "SchedulingGated", "0")},

		// Init containers.
		{"init 0/2", withInit(pod(1, corev1.PodPending, waiting("PodInitializing", 0)), 2, 0, running(false, 0)), row("0/1", "Init:0/2", "0")},
		{"init 1/2", withInit(pod(1, corev1.PodPending, waiting("PodInitializing", 0)), 2, 0, terminated("Completed", 0, 0), running(false, 0)),
			row("0/1", "Init:1/2", "0")},
		{"init waiting PodInitializing is a count", withInit(pod(1, corev1.PodPending), 1, 0, waiting("PodInitializing", 0)), row("0/1", "Init:0/1", "0")},
		{"init crash loop", withInit(pod(1, corev1.PodPending, waiting("PodInitializing", 0)), 1, 0, withLastTermination(waiting("CrashLoopBackOff", 4), 2*time.Minute)),
			row("0/1", "Init:CrashLoopBackOff", "4 (2m ago)")},
		{"init error", withInit(pod(1, corev1.PodPending), 1, 0, terminated("Error", 1, 0)), row("0/1", "Init:Error", "0")},
		{"init exit code", withInit(pod(1, corev1.PodPending), 1, 0, terminated("", 2, 0)), row("0/1", "Init:ExitCode:2", "0")},
		{"init signal", withInit(pod(1, corev1.PodPending), 1, 0, terminated("", 137, 9)), row("0/1", "Init:Signal:9", "0")},
		{"init done, running", withInit(pod(1, corev1.PodRunning, running(true, 0)), 1, 0, withLastTermination(terminated("Completed", 0, 0), time.Minute)),
			row("1/1", "Running", "0")},

		// Sidecars (restartable init containers) count towards READY and RESTARTS.
		{"sidecar running", withInit(pod(1, corev1.PodRunning, running(true, 0)), 1, 1), row("1/2", "Running", "0")},
		{"sidecar started and ready", withInit(pod(1, corev1.PodRunning, running(true, 1)), 1, 1,
			func() corev1.ContainerStatus {
				cs := withLastTermination(running(true, 2), 2*time.Minute)
				cs.Started = ptr(true)
				return cs
			}()), row("2/2", "Running", "3 (2m ago)")},

		// Completed containers next to running ones.
		{"completed + running, pod not ready", pod(2, corev1.PodRunning, terminated("Completed", 0, 0), running(true, 0)),
			row("1/2", "NotReady", "0")},
		{"completed + running, pod ready", mutate(pod(2, corev1.PodRunning, terminated("Completed", 0, 0), running(true, 0)), func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}), row("1/2", "Running", "0")},
		{"completed + error", pod(2, corev1.PodRunning, terminated("Completed", 0, 0), terminated("Error", 1, 0)), row("0/2", "Error", "0")},

		// Spec A12.
		{"terminating running pod", mutate(pod(1, corev1.PodRunning, running(true, 0)), deleting), row("1/1", "Terminating", "0")},
		{"terminating pending pod", mutate(pod(1, corev1.PodPending, waiting("ContainerCreating", 0)), deleting), row("0/1", "Terminating", "0")},
		{"deleted succeeded pod keeps Completed", mutate(pod(1, corev1.PodSucceeded, terminated("Completed", 0, 0)), deleting), row("0/1", "Completed", "0")},
		{"deleted failed pod keeps Error", mutate(pod(1, corev1.PodFailed, terminated("Error", 1, 0)), deleting), row("0/1", "Error", "0")},
		{"node lost and deleted", mutate(pod(1, corev1.PodRunning, running(true, 0)), func(p *corev1.Pod) {
			deleting(p)
			p.Status.Reason = "NodeLost"
		}), row("1/1", "Unknown", "0")},
		{"node lost not deleted", mutate(pod(1, corev1.PodRunning), func(p *corev1.Pod) { p.Status.Reason = "NodeLost" }), row("0/1", "NodeLost", "0")},
	})
}

func TestPodWideCells(t *testing.T) {
	runRowCases(t, podsGR, []rowCase{
		{"podIPs preferred, nominated node, readiness gates", mutate(pod(1, corev1.PodRunning, running(true, 0)), func(p *corev1.Pod) {
			p.Status.PodIPs = []corev1.PodIP{{IP: "fd00::5"}, {IP: "10.0.0.5"}}
			p.Status.NominatedNodeName = "node-2"
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "a"}, {ConditionType: "b"}}
			p.Status.Conditions = []corev1.PodCondition{{Type: "a", Status: corev1.ConditionTrue}, {Type: "b", Status: corev1.ConditionFalse}}
		}), []interface{}{"web", "1/1", "Running", "0", "10m", "fd00::5", "node-1", "node-2", "1/2"}},
		{"unscheduled pod", mutate(pod(1, corev1.PodPending), func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status.PodIP = ""
		}), []interface{}{"web", "0/1", "Pending", "0", "10m", "<none>", "<none>", "<none>", "<none>"}},
	})
}

func TestPodRowConditions(t *testing.T) {
	p, _ := For(podsGR)
	if got := p.Conditions(pod(1, corev1.PodRunning)); got != nil {
		t.Errorf("running pod conditions = %v, want none", got)
	}
	want := []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "The pod has completed successfully."}}
	if diff := cmp.Diff(want, p.Conditions(pod(1, corev1.PodSucceeded))); diff != "" {
		t.Errorf("succeeded (-want +got):\n%s", diff)
	}
	want = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Failed", Message: "The pod failed."}}
	if diff := cmp.Diff(want, p.Conditions(pod(1, corev1.PodFailed))); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
}
