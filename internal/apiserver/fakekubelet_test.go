package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/terminus-project/terminus/internal/pki"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// fakeKubelet is a kubelet-compatible HTTPS endpoint for the tests: it
// serves /containerLogs (streaming, with follow), /exec, /attach and
// /portForward (a raw 101 Switching Protocols, then an echo of each line
// the client sends, prefixed with the upgrade protocol), and /healthz for
// nodes/proxy. It records what it was asked.
type fakeKubelet struct {
	srv *httptest.Server
	// more releases one more followed log line per value.
	more chan string
	// followDone is closed when a followed log request ends (the client
	// went away).
	followDone chan struct{}

	mu       sync.Mutex
	requests []*http.Request
}

// newFakeKubelet starts the fake agent. With bundle it serves the
// bundle's serving certificate and requires a client certificate signed by
// its CA, as a kubelet with --client-ca-file does; without, it serves
// httptest's self-signed certificate and asks for none.
func newFakeKubelet(t *testing.T, bundle *pki.Bundle) *fakeKubelet {
	t.Helper()
	k := &fakeKubelet{more: make(chan string), followDone: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/{ns}/{pod}/{container}", k.logs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", k.upgrade)
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", k.upgrade)
	mux.HandleFunc("/portForward/{ns}/{pod}", k.upgrade)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		k.record(r)
		fmt.Fprint(w, "ok")
	})
	k.srv = httptest.NewUnstartedServer(mux)
	// Refused handshakes (the unverified agent) are expected.
	k.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if bundle != nil {
		k.srv.TLS = &tls.Config{
			Certificates: []tls.Certificate{bundle.ServingCert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    bundle.CAPool,
		}
	}
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKubelet) port() int32 {
	_, p, _ := net.SplitHostPort(k.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return int32(n)
}

func (k *fakeKubelet) record(r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests = append(k.requests, r.Clone(context.Background()))
}

// last is the last request the agent received.
func (k *fakeKubelet) last(t *testing.T) *http.Request {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.requests) == 0 {
		t.Fatal("the agent received no request")
	}
	return k.requests[len(k.requests)-1]
}

func (k *fakeKubelet) logs(w http.ResponseWriter, r *http.Request) {
	k.record(r)
	if r.PathValue("pod") == "gone" {
		http.Error(w, "pod not found", http.StatusNotFound)
		return
	}
	fmt.Fprintf(w, "log of %s/%s/%s\n", r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"))
	if r.URL.Query().Get("follow") != "true" {
		return
	}
	defer close(k.followDone)
	w.(http.Flusher).Flush()
	for {
		select {
		case line := <-k.more:
			fmt.Fprintln(w, line)
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// upgrade answers a connection upgrade with 101 and echoes lines; it is
// enough to prove the API server passes the upgrade and the bytes in both
// directions, whatever the protocol (SPDY/3.1 or WebSocket) is.
func (k *fakeKubelet) upgrade(w http.ResponseWriter, r *http.Request) {
	k.record(r)
	proto := r.Header.Get("Upgrade")
	if proto == "" {
		http.Error(w, "upgrade required", http.StatusBadRequest)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", proto)
	if err := rw.Flush(); err != nil {
		return
	}
	for {
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprintf(rw, "%s %s", proto, line)
		if err := rw.Flush(); err != nil {
			return
		}
	}
}

// createNode registers a node whose agent is k (InternalIP 127.0.0.1 on
// k's port), or, with k nil, the given addresses and no port.
func createNode(t *testing.T, cs kubernetes.Interface, name string, k *fakeKubelet, addrs ...corev1.NodeAddress) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Status.Addresses = addrs
	if k != nil {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"})
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = k.port()
	}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// rawUpgrade sends an upgrade request over a fresh TCP connection to the
// test server at base and returns the response and the connection.
func rawUpgrade(t *testing.T, base, method, path, proto string, header map[string]string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: terminus\r\nConnection: Upgrade\r\nUpgrade: %s\r\n", method, path, proto)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, conn, br
}
