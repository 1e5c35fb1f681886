package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestKubectlWorkloads is the user's view of the controllers that own
// pods, before any node runs them: kubectl create deployment makes a
// ReplicaSet and its pods, scale changes the pod count, the scheduler
// reports that no node fits, and kubectl delete deployment takes the
// ReplicaSet and the pods down through the garbage collector (D7).
func TestKubectlWorkloads(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--storage=memory")
	forEachKubectl(t, func(t *testing.T, kv kubectl) {
		k := kv.on(t, s)
		ns := "wl-" + strings.NewReplacer(".", "", "kubectl", "").Replace(kv.name)
		if strings.HasSuffix(ns, "-") {
			ns += "cur"
		}
		k.ok("create", "namespace", ns)
		n := func(args ...string) []string { return append([]string{"-n", ns}, args...) }

		if out := k.ok(n("create", "deployment", "web", "--image=busybox", "--replicas=2", "--", "sleep", "3600")...); out != "deployment.apps/web created\n" {
			t.Fatalf("create deployment: got %q", out)
		}
		podCount := func(want int) {
			t.Helper()
			eventually(t, controllerWait, func() error {
				out := k.ok(n("get", "pods", "-l", "app=web", "-o", "name")...)
				if got := len(strings.Fields(out)); got != want {
					return errNotYet(fmt.Sprintf("%d pods, want %d", got, want))
				}
				return nil
			})
		}
		podCount(2)
		// The ReplicaSet is the Deployment's, named by the template hash.
		rs := k.ok(n("get", "rs", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name} {.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name}")...)
		if !regexp.MustCompile(`^web-[a-z0-9]+ Deployment/web$`).MatchString(rs) {
			t.Errorf("replica set: got %q", rs)
		}
		// No node: the scheduler says so in the pod's condition.
		eventually(t, controllerWait, func() error {
			out := k.ok(n("get", "pods", "-l", "app=web", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="PodScheduled")].message}`)...)
			if out != "no nodes available to schedule pods" {
				return errNotYet("PodScheduled message " + strconv.Quote(out))
			}
			return nil
		})

		if out := k.ok(n("scale", "deployment", "web", "--replicas=3")...); out != "deployment.apps/web scaled\n" {
			t.Errorf("scale: got %q", out)
		}
		podCount(3)
		eventually(t, controllerWait, func() error {
			out := k.ok(n("get", "deployment", "web", "-o", "jsonpath={.status.replicas}/{.status.updatedReplicas}/{.status.observedGeneration}")...)
			if out != "3/3/2" {
				return errNotYet("deployment status " + out)
			}
			return nil
		})
		desc := k.ok(n("describe", "deployment", "web")...)
		if !strings.Contains(desc, "ScalingReplicaSet") || !strings.Contains(desc, "Scaled up replica set web-") {
			t.Errorf("describe deployment shows no ScalingReplicaSet event:\n%s", desc)
		}

		if out := k.ok(n("delete", "deployment", "web", "--wait=true", "--timeout=60s")...); out != "deployment.apps \"web\" deleted\n" {
			t.Errorf("delete: got %q", out)
		}
		podCount(0)
		eventually(t, controllerWait, func() error {
			if out := k.ok(n("get", "rs", "-o", "name")...); out != "" {
				return errNotYet("replica sets left: " + out)
			}
			return nil
		})
	})
}
