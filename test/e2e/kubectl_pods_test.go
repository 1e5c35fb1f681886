package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// podManifest is a one-container pod running script with sh on the host
// (the busybox image is not in the agent's store, so its command runs on
// the host and an event says so). The kubelet expands $(VAR) in commands
// and turns $$ into $, so a script says $$$$ for the shell's $$.
func podManifest(name, restart string, grace int, script string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: %d
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", %q]
`, name, restart, grace, script)
}

// TestKubectlRunningPods is a user's session with a node agent in serve:
// the node registers Ready, pods run as host processes, kubectl logs and
// exec reach them through the API server, and kubectl delete ends them as
// the seed describes: TERM first (G6), KILL once the grace period is over,
// at once on a forced delete (G9), the object gone after the final
// grace-0 delete (G8).
func TestKubectlRunningPods(t *testing.T) {
	t.Parallel()
	s := startServerWithAgent(t, "--storage=memory")
	k := pathKubectl(t)
	c := k.on(t, s)
	marks := t.TempDir()
	mark := func(name string) string { return filepath.Join(marks, name) }

	eventually(t, podWait, func() error {
		out := c.ok("get", "nodes", "-o", `jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}`)
		if out != "True" {
			return errNotYet("node Ready " + out)
		}
		return nil
	})
	nodeIP := c.ok("get", "nodes", "-o", `jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}`)
	if nodeIP != "127.0.0.1" {
		t.Errorf("node InternalIP %q, want 127.0.0.1 (serve on loopback)", nodeIP)
	}

	t.Run("run, logs -f and delete: TERM, then gone (G6, G8)", func(t *testing.T) {
		c := k.on(t, s)
		script := fmt.Sprintf(`echo $$$$ > %s; trap 'echo TERM >> %s; exit 0' TERM; echo started; while :; do sleep 0.1; done`,
			mark("obeys.pid"), mark("obeys.sig"))
		c.runIn(podManifest("obeys", "Always", 30, script), nil, "apply", "-f", "-")
		c.ok("wait", "--for=condition=Ready", "pod/obeys", "--timeout=60s")
		pid := readPID(t, mark("obeys.pid"))
		follow := c.start("logs", "-f", "obeys")
		follow.expect(t, regexp.MustCompile(`^started$`), podWait)

		if out := c.ok("delete", "pod", "obeys"); out != "pod \"obeys\" deleted\n" {
			t.Errorf("delete: got %q", out)
		}
		if got, _ := os.ReadFile(mark("obeys.sig")); string(got) != "TERM\n" {
			t.Errorf("signals the program saw: %q, want TERM once", got)
		}
		waitGone(t, pid, podWait)
		if code := follow.wait(t, podWait); code != 0 {
			t.Errorf("logs -f exited %d once the container ended\n%s", code, follow.stderr)
		}
		if r := c.run("get", "pod", "obeys"); r.code == 0 || !strings.Contains(r.stderr, `pods "obeys" not found`) {
			t.Errorf("pod after delete: %s", r)
		}
	})

	t.Run("a pod ignoring TERM is killed after its grace period (G6)", func(t *testing.T) {
		c := k.on(t, s)
		script := fmt.Sprintf(`echo $$$$ > %s; trap '' TERM; while :; do sleep 0.1; done`, mark("ignores.pid"))
		c.runIn(podManifest("ignores", "Always", 2, script), nil, "apply", "-f", "-")
		c.ok("wait", "--for=condition=Ready", "pod/ignores", "--timeout=60s")
		pid := readPID(t, mark("ignores.pid"))
		start := time.Now()
		c.ok("delete", "pod", "ignores")
		// The process outlived TERM for the whole grace period: deletion
		// cannot have finished sooner.
		if took := time.Since(start); took < 2*time.Second {
			t.Errorf("delete finished after %v, before the 2 s grace period", took)
		}
		waitGone(t, pid, podWait)
	})

	t.Run("preStop runs first, counts against the grace period, TERM still gets 2 s (G6)", func(t *testing.T) {
		c := k.on(t, s)
		log := mark("hooks.log")
		// The kubelet turns $$ into $ in a container's command (see
		// podManifest) but runs hook commands as written, as upstream.
		c.runIn(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hooked
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", %q]
    lifecycle:
      preStop:
        exec:
          command: ["sh", "-c", %q]
`, fmt.Sprintf(`echo $$$$ > %s; trap 'echo TERM $$(date +%%s%%N) >> %s' TERM; while :; do sleep 0.1; done`, mark("hooked.pid"), log),
			fmt.Sprintf(`echo preStop $(date +%%s%%N) >> %s; sleep 2; echo preStopDone $(date +%%s%%N) >> %s`, log, log)),
			nil, "apply", "-f", "-")
		c.ok("wait", "--for=condition=Ready", "pod/hooked", "--timeout=60s")
		pid := readPID(t, mark("hooked.pid"))
		c.ok("delete", "pod", "hooked", "--wait=false")
		var died time.Time
		eventually(t, podWait, func() error {
			if alive(pid) {
				return errNotYet("process still runs")
			}
			died = time.Now()
			return nil
		})
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		at := map[string]time.Time{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				t.Fatalf("hooks log line %q", line)
			}
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("hooks log line %q: %v", line, err)
			}
			steps = append(steps, f[0])
			at[f[0]] = time.Unix(0, ns)
		}
		if got := strings.Join(steps, ","); got != "preStop,preStopDone,TERM" {
			t.Fatalf("order: %s, want preStop,preStopDone,TERM", got)
		}
		// The hook's 2 s came out of the 3 s grace period, yet the stop
		// signal was given at least 2 s before SIGKILL (1 s would be left
		// without G6's minimum). The TERM stamp is taken by the trap's
		// `date`, a little after the signal, hence the margin.
		if d := died.Sub(at["TERM"]); d < 2*time.Second-100*time.Millisecond {
			t.Errorf("SIGKILL %v after TERM, want at least 2 s (G6)", d)
		}
		eventually(t, podWait, func() error {
			if r := c.run("get", "pod", "hooked"); r.code == 0 {
				return errNotYet("pod still there")
			}
			return nil
		})
	})

	t.Run("a second delete with a shorter grace period is honoured at once", func(t *testing.T) {
		c := k.on(t, s)
		script := fmt.Sprintf(`echo $$$$ > %s; trap '' TERM; while :; do sleep 0.1; done`, mark("shortened.pid"))
		c.runIn(podManifest("shortened", "Always", 300, script), nil, "apply", "-f", "-")
		c.ok("wait", "--for=condition=Ready", "pod/shortened", "--timeout=60s")
		pid := readPID(t, mark("shortened.pid"))
		c.ok("delete", "pod", "shortened", "--wait=false")
		eventually(t, podWait, func() error {
			if out := c.ok("get", "events", "--field-selector", "involvedObject.name=shortened,reason=Killing", "-o", "name"); out == "" {
				return errNotYet("no Killing event yet")
			}
			return nil
		})
		// G3: the deadline moves to now + 2 s; the agent follows (upstream
		// kubelet keeps the first deadline, kubernetes#83916).
		c.ok("delete", "pod", "shortened", "--grace-period=2", "--wait=false")
		waitGone(t, pid, 30*time.Second)
	})

	t.Run("delete --grace-period=0 --force ends the processes (G9)", func(t *testing.T) {
		c := k.on(t, s)
		script := fmt.Sprintf(`echo $$$$ > %s; trap '' TERM; while :; do sleep 0.1; done`, mark("forced.pid"))
		c.runIn(podManifest("forced", "Always", 300, script), nil, "apply", "-f", "-")
		c.ok("wait", "--for=condition=Ready", "pod/forced", "--timeout=60s")
		pid := readPID(t, mark("forced.pid"))
		r := c.run("delete", "pod", "forced", "--grace-period=0", "--force")
		if r.code != 0 || !strings.Contains(r.stdout, `pod "forced" force deleted`) {
			t.Fatalf("force delete: %s", r)
		}
		// Not the 300 s grace period: the agent sees the pod gone and
		// stops it at once.
		waitGone(t, pid, podWait)
	})

	t.Run("exec", func(t *testing.T) {
		c := k.on(t, s)
		c.runIn(podManifest("shell", "Always", 1, "while :; do sleep 0.1; done"), nil, "apply", "-f", "-")
		c.ok("wait", "--for=condition=Ready", "pod/shell", "--timeout=60s")
		r := c.run("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
		if r.code != 3 || !strings.Contains(r.stdout, "out") || !strings.Contains(r.stderr+r.stdout, "err") {
			t.Errorf("exec: %s", r)
		}
		if out := c.ok("exec", "shell", "-c", "main", "--", "echo", "hello"); out != "hello\n" {
			t.Errorf("exec echo: %q", out)
		}
	})

	t.Run("logs --tail, --timestamps, -c, --previous", func(t *testing.T) {
		c := k.on(t, s)
		c.runIn(`apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  restartPolicy: Never
  containers:
  - name: first
    image: busybox
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done"]
  - name: second
    image: busybox
    command: ["sh", "-c", "echo from second >&2"]
`, nil, "apply", "-f", "-")
		c.ok("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/talker", "--timeout=60s")
		if out := c.ok("logs", "talker", "-c", "first", "--tail=2"); out != "line 4\nline 5\n" {
			t.Errorf("logs --tail=2: %q", out)
		}
		if out := c.ok("logs", "talker", "-c", "second"); out != "from second\n" {
			t.Errorf("logs -c second: %q", out)
		}
		ts := c.ok("logs", "talker", "-c", "first", "--timestamps", "--tail=1")
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line 5\n$`).MatchString(ts) {
			t.Errorf("logs --timestamps: %q", ts)
		}
		// kubectl picks the first container and says so.
		if r := c.run("logs", "talker"); r.code != 0 || r.stdout != "line 1\nline 2\nline 3\nline 4\nline 5\n" ||
			!strings.Contains(r.stderr, `Defaulted container "first" out of: first, second`) {
			t.Errorf("logs without -c on a two-container pod: %s", r)
		}

		c.runIn(podManifest("crasher", "Always", 1, `echo attempt; exit 1`), nil, "apply", "-f", "-")
		eventually(t, podWait, func() error {
			if n := c.ok("get", "pod", "crasher", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"); n == "" || n == "0" {
				return errNotYet("restartCount " + n)
			}
			return nil
		})
		if out := c.ok("logs", "crasher", "--previous"); out != "attempt\n" {
			t.Errorf("logs --previous: %q", out)
		}
		reason := c.ok("get", "pod", "crasher", "-o", "jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}")
		if reason != "1" {
			t.Errorf("lastState.terminated.exitCode %q, want 1", reason)
		}
	})

	t.Run("deployment: rollout status, scale, delete through the GC", func(t *testing.T) {
		c := k.on(t, s)
		c.ok("create", "deployment", "web", "--image=busybox", "--replicas=2", "--", "sleep", "3600")
		out := c.ok("rollout", "status", "deployment/web", "--timeout=60s")
		if !strings.Contains(out, `deployment "web" successfully rolled out`) {
			t.Errorf("rollout status: %q", out)
		}
		c.ok("scale", "deployment", "web", "--replicas=3")
		c.ok("rollout", "status", "deployment/web", "--timeout=60s")
		if n := c.ok("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}"); n != "3" {
			t.Errorf("readyReplicas after scale: %q", n)
		}
		c.ok("delete", "deployment", "web")
		eventually(t, podWait, func() error {
			if out := c.ok("get", "pods", "-l", "app=web", "-o", "name"); out != "" {
				return errNotYet("pods left: " + out)
			}
			return nil
		})
	})

	t.Run("job to completion, logs, delete with its default policy", func(t *testing.T) {
		c := k.on(t, s)
		c.ok("create", "job", "hello", "--image=busybox", "--", "sh", "-c", "echo hi from job")
		c.ok("wait", "--for=condition=complete", "job/hello", "--timeout=60s")
		if out := c.ok("logs", "job/hello"); out != "hi from job\n" {
			t.Errorf("logs job/hello: %q", out)
		}
		c.ok("delete", "job", "hello")
		eventually(t, podWait, func() error {
			if out := c.ok("get", "pods", "-l", "job-name=hello", "-o", "name"); out != "" {
				return errNotYet("pods left: " + out)
			}
			return nil
		})
	})
}
