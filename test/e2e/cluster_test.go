package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEtcdCluster runs three "terminus etcd" members, a server on all three,
// and checks that writes keep working after one member is killed.
func TestEtcdCluster(t *testing.T) {
	t.Parallel()
	kv := kubectlVersions()[0]
	if kv.path == "" {
		t.Skip("kubectl is not installed")
	}
	type member struct {
		name         string
		client, peer int
		p            *process
	}
	ms := make([]*member, 3)
	var initial []string
	for i := range ms {
		ms[i] = &member{name: fmt.Sprintf("m%d", i+1), client: freePort(t), peer: freePort(t)}
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", ms[i].name, ms[i].peer))
	}
	for _, m := range ms {
		m.p = startProcess(t, "terminus etcd "+m.name, "etcd", "--name", m.name, "--data-dir", t.TempDir(),
			"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", m.client),
			"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", m.peer),
			"--initial-cluster", strings.Join(initial, ","))
		t.Cleanup(func() {
			if err := m.p.stop(); err != nil {
				t.Error(err)
			}
		})
	}
	var endpoints []string
	for _, m := range ms {
		re := regexp.MustCompile(fmt.Sprintf(`^etcd member %s is serving clients at http://127\.0\.0\.1:%d\b`, m.name, m.client))
		m.p.waitLine(t, re, 60*time.Second)
		endpoints = append(endpoints, fmt.Sprintf("http://127.0.0.1:%d", m.client))
	}

	s := startServer(t, "--etcd-servers", strings.Join(endpoints, ","))
	k := kv.on(t, s)
	if out := k.ok("create", "namespace", "clustered"); out != "namespace/clustered created\n" {
		t.Errorf("create namespace: got %q", out)
	}
	if out := k.ok("-n", "clustered", "create", "configmap", "before", "--from-literal=a=1"); out != "configmap/before created\n" {
		t.Errorf("create configmap: got %q", out)
	}

	// Kill the first member outright (a crash, not a clean stop). It may be
	// the raft leader, so allow for an election.
	ms[0].p.kill()
	eventually(t, 30*time.Second, func() error {
		r := k.run("-n", "clustered", "create", "configmap", "after", "--from-literal=b=2")
		if r.code == 0 && r.stdout == "configmap/after created\n" {
			return nil
		}
		if strings.Contains(r.stderr, `configmaps "after" already exists`) {
			return nil // an earlier attempt landed but its answer was lost
		}
		return fmt.Errorf("create after the kill: %s", r)
	})
	out := k.ok("-n", "clustered", "get", "configmaps", "-o", "jsonpath={range .items[*]}{.metadata.name}={.data}{\"\\n\"}{end}")
	for _, want := range []string{`before={"a":"1"}`, `after={"b":"2"}`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("configmaps after the kill: %q lacks %q", out, want)
		}
	}
	if out := k.ok("-n", "clustered", "label", "configmap", "before", "x=y"); out != "configmap/before labeled\n" {
		t.Errorf("label after the kill: got %q", out)
	}
	if out := k.ok("-n", "clustered", "delete", "configmap", "after"); out != `configmap "after" deleted`+"\n" {
		t.Errorf("delete after the kill: got %q", out)
	}
	// The server must stop cleanly with a member gone; the cleanups check
	// its exit status and then stop the two remaining members.
}
