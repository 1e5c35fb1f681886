package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestKubectlStreams drives the streaming subresources through the API
// server to the agent with every kubectl version installed: kubectl 1.27
// speaks SPDY only, 1.30+ tries WebSocket first. exec carries stdin, the
// output streams and the exit code; port-forward reaches a port of the
// pod (pods use the host network, so a listener of this test serves it).
func TestKubectlStreams(t *testing.T) {
	t.Parallel()
	s := startServerWithAgent(t, "--storage=memory")

	// The pod's "server": a listener in this test on the loopback, which
	// a host-network pod's port is.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				line, _ := bufio.NewReader(conn).ReadString('\n')
				fmt.Fprintf(conn, "echo: %s", line)
			}()
		}
	}()
	podPort := ln.Addr().(*net.TCPAddr).Port

	forEachKubectl(t, func(t *testing.T, kv kubectl) {
		c := kv.on(t, s)
		ns := "streams-" + strings.NewReplacer(".", "", "kubectl", "").Replace(kv.name)
		if strings.HasSuffix(ns, "-") {
			ns += "cur"
		}
		c.ok("create", "namespace", ns)
		c.runIn(podManifest("shell", "Always", 1, "while :; do sleep 0.1; done"), nil, "apply", "-n", ns, "-f", "-")
		c.ok("wait", "-n", ns, "--for=condition=Ready", "pod/shell", "--timeout=60s")

		r := c.runIn("from stdin\n", nil, "exec", "-i", "-n", ns, "shell", "--", "sh", "-c", "read l; echo got $l; echo err >&2; exit 4")
		if r.code != 4 || r.stdout != "got from stdin\n" || !strings.Contains(r.stderr, "err") {
			t.Errorf("exec -i: %s", r)
		}

		local := freePort(t)
		pf := c.start("port-forward", "-n", ns, "pod/shell", fmt.Sprintf("%d:%d", local, podPort))
		pf.expect(t, regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:`+strconv.Itoa(local)), podWait)
		for i := range 2 { // two connections over one forward
			conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(local)))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "hello %d\n", i)
			got, err := io.ReadAll(conn)
			conn.Close()
			if want := fmt.Sprintf("echo: hello %d\n", i); err != nil || string(got) != want {
				t.Errorf("through port-forward: %q, %v; want %q\nkubectl stderr:\n%s", got, err, want, pf.stderr)
			}
		}
	})
}
