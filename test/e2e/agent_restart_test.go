package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// startAgent runs `terminus agent` against s and waits for its kubelet
// API; a cleanup stops it with SIGTERM.
func startAgent(t *testing.T, s *server, nodeName, root string, extra ...string) *process {
	t.Helper()
	p := startProcess(t, "terminus agent", append([]string{"agent", "--kubeconfig", s.kubeconfig, "--node-name", nodeName,
		"--node-ip", "127.0.0.1", "--address", "127.0.0.1", "--root-dir", root}, extra...)...)
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	})
	p.waitLine(t, regexp.MustCompile(`^node agent `+regexp.QuoteMeta(nodeName)+`: kubelet API at `), 60*time.Second)
	return p
}

// TestAgentKilledDuringGrace: an agent killed with SIGKILL while a pod is
// in its grace period, and started again on the same root directory, ends
// the pod at the original deadline: neither a fresh full grace period
// (upstream cri#1098) nor an immediate kill (issue 6).
func TestAgentKilledDuringGrace(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	t.Cleanup(func() { killContainers(t, root) })
	s := startServer(t, "--storage=memory")
	cs := s.clientset(t)
	ctx := t.Context()
	agent := startAgent(t, s, "restart-node", root)
	eventually(t, podWait, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "restart-node", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errNotYet("node not Ready")
	})

	marks := t.TempDir()
	pidFile, sigFile := filepath.Join(marks, "pid"), filepath.Join(marks, "sig")
	const grace = 10 * time.Second
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stubborn", Namespace: "default"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(grace / time.Second)),
			Containers: []corev1.Container{{
				Name: "main", Image: "busybox",
				// Records each TERM and carries on: only SIGKILL ends it.
				Command: []string{"sh", "-c", fmt.Sprintf(`echo $$$$ > %s; trap 'echo TERM >> %s' TERM; while :; do sleep 0.1; done`, pidFile, sigFile)},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pid := readPID(t, pidFile)

	deleted := time.Now()
	if err := cs.CoreV1().Pods("default").Delete(ctx, "stubborn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, podWait, func() error {
		if _, err := os.Stat(sigFile); err != nil {
			return errNotYet("no TERM yet")
		}
		return nil
	})
	agent.kill()
	// The agent stays dead for a good part of the grace period: a new
	// agent granting a fresh full grace would then end the process at
	// 4 s + 10 s at the earliest, well after the 10 s deadline.
	time.Sleep(time.Until(deleted.Add(4 * time.Second)))
	if !alive(pid) {
		t.Fatal("the process died with the agent")
	}
	startAgent(t, s, "restart-node", root)

	// Not an immediate kill: three seconds after the restart the process
	// is still inside its grace period and running.
	time.Sleep(time.Until(deleted.Add(7 * time.Second)))
	switch since, up := time.Since(deleted), alive(pid); {
	case since >= grace-time.Second:
		// A machine slow enough to get here this late cannot tell an
		// early kill from a timely one; the upper bound below still holds.
		t.Logf("the agent came back %v after the delete: too late to check for an early kill", since)
	case !up:
		t.Fatalf("the restarted agent killed the process %v after the delete, before the %v deadline", since, grace)
	}
	var died time.Time
	eventually(t, podWait, func() error {
		if alive(pid) {
			return errNotYet("process still runs")
		}
		died = time.Now()
		return nil
	})
	// deletionTimestamp has whole seconds, hence the lower bound's slack.
	if after := died.Sub(deleted); after < grace-time.Second || after > grace+3*time.Second {
		t.Errorf("process ended %v after the delete; the deadline was %v", after, grace)
	}
	sigs, _ := os.ReadFile(sigFile)
	t.Logf("TERMs the process saw: %d; ended %v after the delete", strings.Count(string(sigs), "TERM"), died.Sub(deleted))
	eventually(t, podWait, func() error {
		_, err := cs.CoreV1().Pods("default").Get(context.Background(), "stubborn", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errNotYet(fmt.Sprintf("pod still there (%v)", err))
	})
}

// TestAgentNodeShutdown: with shutdownGracePeriod in its KubeletConfiguration
// file, an agent told to stop shuts the node down gracefully, as the
// kubelet's node shutdown manager: its pods get the stop signal and stay in
// the API Failed, reason Terminated, with a DisruptionTarget condition; the
// agent exits once they are stopped.
func TestAgentNodeShutdown(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	t.Cleanup(func() { killContainers(t, root) })
	s := startServer(t, "--storage=memory")
	cs := s.clientset(t)
	ctx := t.Context()
	config := filepath.Join(t.TempDir(), "kubelet.yaml")
	if err := os.WriteFile(config, []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nshutdownGracePeriod: 10s\nshutdownGracePeriodCriticalPods: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, s, "shutdown-node", root, "--config", config)
	marks := t.TempDir()
	pidFile, sigFile := filepath.Join(marks, "pid"), filepath.Join(marks, "sig")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "busybox",
			Command: []string{"sh", "-c", fmt.Sprintf(`trap 'echo TERM > %s; exit 0' TERM; echo $$$$ > %s; while :; do sleep 0.1; done`, sigFile, pidFile)},
		}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	readPID(t, pidFile)
	start := time.Now()
	if err := agent.stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the agent took %v to shut down; the pod exits on TERM at once", d)
	}
	if b, err := os.ReadFile(sigFile); err != nil || strings.TrimSpace(string(b)) != "TERM" {
		t.Errorf("the pod did not get TERM: %q %v", b, err)
	}
	got, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the pod should stay in the API: %v", err)
	}
	if got.Status.Phase != corev1.PodFailed || got.Status.Reason != "Terminated" || got.Status.Message != "Pod was terminated in response to imminent node shutdown." {
		t.Errorf("status %s %q %q", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	disrupted := false
	for _, c := range got.Status.Conditions {
		disrupted = disrupted || (c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "TerminationByKubelet")
	}
	if !disrupted {
		t.Errorf("no DisruptionTarget condition: %+v", got.Status.Conditions)
	}
}
