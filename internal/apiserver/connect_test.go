package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestExecUpgradeIsProxiedBothWays: an exec, attach or portforward upgrade
// (WebSocket as kubectl ≥ 1.30 sends it, SPDY/3.1 as older ones do) reaches
// the agent's endpoint with the kubelet's query, the 101 comes back, and
// bytes flow both ways over the hijacked connections. The client's
// credentials stay with the API server.
func TestExecUpgradeIsProxiedBothWays(t *testing.T) {
	env := newKubeletEnv(t)
	tests := []struct {
		name, method, path, proto string
		wantPath, wantQuery       string
	}{
		{"exec over WebSocket", http.MethodGet, "/api/v1/namespaces/default/pods/p/exec?command=ls&command=-l&stdout=true&stderr=true&tty=false",
			"websocket", "/exec/default/p/c", "command=ls&command=-l&error=1&output=1"},
		{"exec over SPDY in a named container", http.MethodPost, "/api/v1/namespaces/default/pods/multi/exec?container=b&command=sh&stdin=1&stdout=1&tty=1",
			"SPDY/3.1", "/exec/default/multi/b", "command=sh&input=1&output=1&tty=1"},
		{"attach", http.MethodPost, "/api/v1/namespaces/default/pods/p/attach?stdin=true&stdout=true",
			"SPDY/3.1", "/attach/default/p/c", "input=1&output=1"},
		{"portforward over WebSocket", http.MethodGet, "/api/v1/namespaces/default/pods/p/portforward?ports=8080&ports=9090",
			"websocket", "/portForward/default/p", "port=8080%2C9090"},
		{"portforward over SPDY", http.MethodPost, "/api/v1/namespaces/default/pods/p/portforward",
			"SPDY/3.1", "/portForward/default/p", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, conn, br := rawUpgrade(t, env.ts.URL, tc.method, tc.path, tc.proto, map[string]string{
				"Authorization":          "Bearer client-secret",
				"Sec-WebSocket-Protocol": "v5.channel.k8s.io",
			})
			if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), tc.proto) {
				body, _ := io.ReadAll(resp.Body)
				t.Fatalf("got %s (Upgrade %q) %s, want 101 to %s", resp.Status, resp.Header.Get("Upgrade"), body, tc.proto)
			}
			got := env.kubelet.last(t)
			if got.URL.Path != tc.wantPath || got.URL.RawQuery != tc.wantQuery {
				t.Errorf("agent asked for %s?%s, want %s?%s", got.URL.Path, got.URL.RawQuery, tc.wantPath, tc.wantQuery)
			}
			if got.Header.Get("Authorization") != "" {
				t.Errorf("the client's Authorization header reached the agent")
			}
			if got.Header.Get("Sec-WebSocket-Protocol") != "v5.channel.k8s.io" {
				t.Errorf("the subprotocol did not reach the agent: %v", got.Header)
			}
			for _, msg := range []string{"hello\n", "again\n"} {
				if _, err := conn.Write([]byte(msg)); err != nil {
					t.Fatal(err)
				}
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if want := tc.proto + " " + msg; line != want {
					t.Fatalf("echo %q, want %q", line, want)
				}
			}
		})
	}
}

func TestConnectErrors(t *testing.T) {
	env := newKubeletEnv(t)
	tests := []struct {
		name, method, path string
		upgrade            bool
		wantCode           int
		// wantMsg is the Status message, or its prefix when it ends
		// with "*".
		wantMsg string
	}{
		{"a plain request is not an upgrade", http.MethodGet, "/api/v1/namespaces/default/pods/p/exec?command=ls", false, 400, "Upgrade request required"},
		{"dryRun", http.MethodPost, "/api/v1/namespaces/default/pods/p/exec?command=ls&dryRun=All", true, 400, "dryRun is not supported"},
		{"J1 missing pod", http.MethodPost, "/api/v1/namespaces/default/pods/nope/exec?command=ls", true, 404, `pods "nope" not found`},
		{"several containers need a name", http.MethodPost, "/api/v1/namespaces/default/pods/multi/exec?command=ls", true, 400,
			"a container name must be specified for pod multi, choose one of: [i a b]"},
		{"an unknown container", http.MethodPost, "/api/v1/namespaces/default/pods/p/attach?container=x", true, 400, "container x is not valid for pod p"},
		{"exec on an unscheduled pod", http.MethodPost, "/api/v1/namespaces/default/pods/pending/exec?command=ls", true, 400, "pod pending does not have a host assigned"},
		{"portforward on an unscheduled pod", http.MethodPost, "/api/v1/namespaces/default/pods/pending/portforward", true, 400, "pod pending does not have a host assigned"},
		{"J1 the pod's node is missing: named as a pod, as upstream does", http.MethodPost, "/api/v1/namespaces/default/pods/ghost/exec?command=ls", true, 404, `pods "ghost" not found`},
		{"a node without an address", http.MethodPost, "/api/v1/namespaces/default/pods/noaddr/portforward", true, 500, "no preferred addresses found; known addresses: []"},
		{"an agent that cannot be reached", http.MethodPost, "/api/v1/namespaces/default/pods/down/exec?command=ls", true, 500, "error dialing backend: dial tcp*"},
		{"bad ports", http.MethodPost, "/api/v1/namespaces/default/pods/p/portforward?ports=http", true, 400,
			`cannot convert to []int32: strconv.ParseUint: parsing "http": invalid syntax`},
		{"J6 PUT on exec", http.MethodPut, "/api/v1/namespaces/default/pods/p/exec", true, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.path, nil)
			if tc.upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "SPDY/3.1")
			}
			rec := serve(env.srv, req)
			checkLogResponse(t, rec)
			if rec.Code != tc.wantCode {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.wantCode)
			}
			var st metav1.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			if prefix, ok := strings.CutSuffix(tc.wantMsg, "*"); ok {
				if !strings.HasPrefix(st.Message, prefix) {
					t.Fatalf("message %q, want prefix %q", st.Message, prefix)
				}
			} else if tc.wantMsg != "" && st.Message != tc.wantMsg {
				t.Fatalf("message %q, want %q", st.Message, tc.wantMsg)
			}
		})
	}
}

func TestNodeProxy(t *testing.T) {
	t.Run("the agent's loopback address is not proxyable", func(t *testing.T) {
		env := newKubeletEnv(t)
		rec := do(env.srv, http.MethodGet, "/api/v1/nodes/n1/proxy/healthz", "", nil)
		var st metav1.Status
		_ = json.Unmarshal(rec.Body.Bytes(), &st)
		if rec.Code != 400 || st.Message != "address not allowed" {
			t.Fatalf("got %d %s, want 400 address not allowed", rec.Code, rec.Body)
		}
	})
	env := newKubeletEnv(t, func(c *KubeletConfig) {
		c.proxyableHost = func(context.Context, string) error { return nil }
	})
	t.Run("a path is proxied with the client's query", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, env.ts.URL+"/api/v1/nodes/n1/proxy/healthz?verbose=1", nil)
		req.Header.Set("Authorization", "Bearer client-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		got := env.kubelet.last(t)
		if got.URL.Path != "/healthz" || got.URL.RawQuery != "verbose=1" || got.Header.Get("Authorization") != "" {
			t.Fatalf("agent got %s?%s with Authorization %q", got.URL.Path, got.URL.RawQuery, got.Header.Get("Authorization"))
		}
	})
	t.Run("the bare proxy path redirects to its directory", func(t *testing.T) {
		rec := do(env.srv, http.MethodGet, "/api/v1/nodes/n1/proxy?x=1", "", nil)
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/api/v1/nodes/n1/proxy/?x=1" {
			t.Fatalf("got %d Location %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("an upgrade through nodes/proxy", func(t *testing.T) {
		resp, conn, br := rawUpgrade(t, env.ts.URL, http.MethodPost, "/api/v1/nodes/n1/proxy/exec/default/p/c?command=ls", "SPDY/3.1", nil)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("got %s", resp.Status)
		}
		if _, err := conn.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := br.ReadString('\n'); err != nil || line != "SPDY/3.1 ping\n" {
			t.Fatalf("echo %q %v", line, err)
		}
	})
	t.Run("J1 missing node", func(t *testing.T) {
		rec := do(env.srv, http.MethodGet, "/api/v1/nodes/nope/proxy/healthz", "", nil)
		if rec.Code != 404 || !strings.Contains(rec.Body.String(), `nodes \"nope\" not found`) {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
}
