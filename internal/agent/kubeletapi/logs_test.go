package kubeletapi

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/terminus-project/terminus/internal/pki"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

const testLog = `2026-01-01T00:00:01.000000000Z stdout F one
2026-01-01T00:00:02.000000000Z stderr F two
2026-01-01T00:00:03.000000000Z stdout P thr
2026-01-01T00:00:03.500000000Z stdout F ee
2026-01-01T00:00:04.000000000Z stdout F four
`

func TestContainerLogs(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	pods.logDir(t, "terminus://id-1", testLog)
	pods.logDir(t, "terminus://id-0", "2026-01-01T00:00:00.000000000Z stdout F crashed\n")
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 4, 0, time.UTC))
	env := startServer(t, pods, clk)

	for _, tc := range []struct {
		name, path string
		code       int
		body       string
	}{
		{"all", "/containerLogs/ns/p/c", 200, "one\ntwo\nthree\nfour\n"},
		{"tailLines", "/containerLogs/ns/p/c?tailLines=1", 200, "four\n"},
		{"tailLines 0", "/containerLogs/ns/p/c?tailLines=0", 200, ""},
		{"legacy tail", "/containerLogs/ns/p/c?tail=1", 200, "four\n"},
		{"tail all", "/containerLogs/ns/p/c?tail=all", 200, "one\ntwo\nthree\nfour\n"},
		{"timestamps", "/containerLogs/ns/p/c?tailLines=1&timestamps=true", 200, "2026-01-01T00:00:04.000000000Z four\n"},
		{"sinceTime", "/containerLogs/ns/p/c?sinceTime=2026-01-01T00:00:02Z", 200, "two\nthree\nfour\n"},
		{"sinceSeconds on the injected clock", "/containerLogs/ns/p/c?sinceSeconds=2", 200, "two\nthree\nfour\n"},
		{"limitBytes", "/containerLogs/ns/p/c?limitBytes=6", 200, "one\ntw"},
		{"stream", "/containerLogs/ns/p/c?stream=Stderr", 200, "two\n"},
		{"previous", "/containerLogs/ns/p/c?previous=true", 200, "crashed\n"},
		{"previous follow ends at once", "/containerLogs/ns/p/c?previous=true&follow=true", 0, ""},
		{"previous not found", "/containerLogs/ns/p/fresh?previous=true", 400,
			`previous terminated container "fresh" in pod "p" not found`},
		{"waiting", "/containerLogs/ns/p/waiting", 400,
			`container "waiting" in pod "p" is waiting to start: ContainerCreating`},
		{"terminated init without ID log", "/containerLogs/ns/p/init", 400, "no log for container terminus://init-0"},
		{"unknown container", "/containerLogs/ns/p/x", 404, `container "x" not found in pod "p"`},
		{"unknown pod", "/containerLogs/ns/q/c", 404, `pod "q" does not exist`},
		{"negative tailLines", "/containerLogs/ns/p/c?tailLines=-1", 422, `{"message": "Invalid request."}`},
		{"both since", "/containerLogs/ns/p/c?sinceSeconds=1&sinceTime=2026-01-01T00:00:02Z", 422, `{"message": "Invalid request."}`},
		{"bad query", "/containerLogs/ns/p/c?follow=maybe", 400, `{"message": "Unable to decode query."}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == 0 {
				// The previous attempt has exited: following it must end
				// once it is read. process.WriteLogs knows exit by exit.json.
				dir := pods.logDirs["terminus://id-0"]
				if err := os.WriteFile(filepath.Join(dir, "exit.json"), []byte("{}"), 0o600); err != nil {
					t.Fatal(err)
				}
				tc.code, tc.body = 200, "crashed\n"
			}
			code, body := env.get(t, tc.path)
			if code != tc.code || strings.TrimSuffix(body, "\n") != strings.TrimSuffix(tc.body, "\n") || (code == 200 && body != tc.body) {
				t.Errorf("GET %s = %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
			}
		})
	}
}

func TestContainerLogsFollowEndsWhenTheContainerExits(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	dir := pods.logDir(t, "terminus://id-1", "2026-01-01T00:00:01.000000000Z stdout F first\n")
	env := startServer(t, pods, nil)

	resp, err := env.client.Get(env.base + "/containerLogs/ns/p/c?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	readLine := func(want string) {
		t.Helper()
		line, err := br.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	readLine("first\n")
	f, err := os.OpenFile(filepath.Join(dir, "container.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.WriteString("2026-01-01T00:00:02.000000000Z stdout F second\n"); err != nil {
		t.Fatal(err)
	}
	readLine("second\n")
	// The last words and the exit, as the shim writes them.
	if _, err := f.WriteString("2026-01-01T00:00:03.000000000Z stderr F last\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "exit.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "last\n" {
		t.Fatalf("rest %q, %v; want \"last\\n\" then the end", rest, err)
	}
}

func TestContainerLogsFollowEndsWhenTheClientGoes(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	pods.logDir(t, "terminus://id-1", "2026-01-01T00:00:01.000000000Z stdout F first\n")
	env := startServer(t, pods, nil)
	resp, err := env.client.Get(env.base + "/containerLogs/ns/p/c?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	// Closing the body drops the connection; the handler must end (the
	// leak check in TestMain and Run's wait in Cleanup see to it).
	_ = resp.Body.Close()
}

func TestHealthzAndPods(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	env := startServer(t, pods, nil)
	if code, body := env.get(t, "/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := env.get(t, "/pods")
	if code != 200 {
		t.Fatalf("/pods = %d %q", code, body)
	}
	var list corev1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	if list.Kind != "PodList" || !cmp.Equal(names, []string{"ns/p"}) {
		t.Errorf("/pods = kind %q, pods %v", list.Kind, names)
	}
}

func TestClientWithoutCertificateIsRefused(t *testing.T) {
	env := startServer(t, newFakePods(), nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.bundle.CAPool}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(env.base + "/healthz")
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("a client without a certificate got %d", resp.StatusCode)
	}
}

func TestBearerTokenWhenConfigured(t *testing.T) {
	bundle, err := pki.Ensure(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Address: "127.0.0.1:0", ServingCert: bundle.ServingCert, ClientCAs: bundle.CAPool,
		Pods: newFakePods(), Tokens: StaticToken("secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = srv.ln.Close()
	if got := srv.tlsConfig().ClientAuth; got != tls.VerifyClientCertIfGiven {
		t.Errorf("with tokens, ClientAuth = %v, want VerifyClientCertIfGiven", got)
	}
	for _, tc := range []struct {
		token string
		code  int
	}{{"secret", 200}, {"wrong", 401}, {"", 401}} {
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("token %q: %d, want %d", tc.token, rec.Code, tc.code)
		}
	}
}
