package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/terminus-project/terminus/internal/pki"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// kubeletEnv is an API server whose pods run on fake agents: n1 (verified
// with the cluster CA, client certificate required), selfsigned (an agent
// whose certificate the server cannot verify), bare (no address), down (an
// address where nothing listens); ghost has no Node object.
type kubeletEnv struct {
	srv     *Server
	cs      *kubernetes.Clientset
	ts      *httptest.Server
	kubelet *fakeKubelet
	// downAddr is the unreachable agent's host:port.
	downAddr string
}

func newKubeletEnv(t *testing.T, mutate ...func(*KubeletConfig)) *kubeletEnv {
	t.Helper()
	bundle, err := pki.Ensure(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := newFakeKubelet(t, bundle)
	selfSigned := newFakeKubelet(t, nil)
	secure, insecure := NewKubeletTransports(KubeletTLS{ClientCert: &bundle.AdminCert, RootCAs: bundle.CAPool})
	t.Cleanup(secure.CloseIdleConnections)
	t.Cleanup(insecure.CloseIdleConnections)
	kc := KubeletConfig{Transport: secure, InsecureTransport: insecure}
	for _, m := range mutate {
		m(&kc)
	}
	srv := newTestHandlerWith(t, Config{Kubelet: kc})
	cs, ts := newTestClient(t, srv)
	env := &kubeletEnv{srv: srv, cs: cs, ts: ts, kubelet: k}

	// A port nothing listens on: bound, then released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.downAddr = ln.Addr().String()
	ln.Close()
	_, downPort, _ := net.SplitHostPort(env.downAddr)
	dp, _ := strconv.Atoi(downPort)

	createNode(t, cs, "n1", k)
	createNode(t, cs, "selfsigned", selfSigned)
	createNode(t, cs, "bare", nil)
	down := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "down"}}
	down.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	down.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(dp)
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), down, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	on := func(node string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = node } }
	createTestPod(t, cs, "p", on("n1"))
	createTestPod(t, cs, "multi", on("n1"), func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "i", Image: "x"}}
		p.Spec.Containers = []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "x"}}
	})
	createTestPod(t, cs, "gone", on("n1"))
	createTestPod(t, cs, "pending")
	createTestPod(t, cs, "ghost", on("ghost"))
	createTestPod(t, cs, "noaddr", on("bare"))
	createTestPod(t, cs, "down", on("down"))
	createTestPod(t, cs, "unverified", on("selfsigned"))
	return env
}

func TestPodLogsThroughClientGo(t *testing.T) {
	env := newKubeletEnv(t)
	ctx := context.Background()
	pods := env.cs.CoreV1().Pods("default")

	rc, err := pods.GetLogs("p", &corev1.PodLogOptions{TailLines: ptr.To[int64](10), Timestamps: true, LimitBytes: ptr.To[int64](4096)}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "log of default/p/c\n" {
		t.Fatalf("log %q", body)
	}
	got := env.kubelet.last(t)
	if got.URL.Path != "/containerLogs/default/p/c" || got.URL.RawQuery != "limitBytes=4096&tailLines=10&timestamps=true" {
		t.Fatalf("agent asked for %s?%s", got.URL.Path, got.URL.RawQuery)
	}
	if len(got.TLS.PeerCertificates) == 0 || got.TLS.PeerCertificates[0].Subject.CommonName != pki.AdminCommonName {
		t.Fatalf("the server did not present its client certificate to the agent")
	}

	// follow: each line reaches the client as the agent writes it, and
	// closing the stream ends the agent's request.
	rc, err = pods.GetLogs("multi", &corev1.PodLogOptions{Container: "b", Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(rc)
	for _, want := range []string{"log of default/multi/b", "second", "third"} {
		if want != "log of default/multi/b" {
			env.kubelet.more <- want
		}
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading %q: %v", want, err)
		}
		if line != want+"\n" {
			t.Fatalf("line %q, want %q", line, want)
		}
	}
	rc.Close()
	<-env.kubelet.followDone
}

func TestPodLogsHTTP(t *testing.T) {
	env := newKubeletEnv(t)
	tests := []struct {
		name, query string
		pod         string
		wantCode    int
		// wantMsg is the Status message, or its prefix when it ends
		// with "*".
		wantMsg string
	}{
		{"the only container is the default", "", "p", 200, ""},
		{"an init container may be named", "container=i", "multi", 200, ""},
		{"several containers need a name", "", "multi", 400, "a container name must be specified for pod multi, choose one of: [i a b]"},
		{"an unknown container", "container=nope", "p", 400, "container nope is not valid for pod p"},
		{"an unscheduled pod has no logs yet", "", "pending", 204, ""},
		{"J1 missing pod", "", "nope", 404, `pods "nope" not found`},
		{"J1 the pod's node is missing: named as a pod, as upstream does", "", "ghost", 404, `pods "ghost" not found`},
		{"a node without an address", "", "noaddr", 500, "no preferred addresses found; known addresses: []"},
		{"an agent that cannot be reached", "", "down", 500, `Get "https://*`},
		{"an agent whose certificate does not verify", "", "unverified", 500, `Get "https://*`},
		{"insecureSkipTLSVerifyBackend skips the verification", "insecureSkipTLSVerifyBackend=true", "unverified", 200, ""},
		{"the agent's error passes through", "", "gone", 404, "the server could not find the requested resource*"},
		{"negative tailLines", "tailLines=-1", "p", 422, `PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0`},
		{"limitBytes 0", "limitBytes=0", "p", 422, `PodLogOptions "p" is invalid: limitBytes: Invalid value: 0: must be greater than 0`},
		{"sinceSeconds and sinceTime", "sinceSeconds=5&sinceTime=2030-01-02T03:04:05Z", "p", 422,
			"PodLogOptions \"p\" is invalid: []: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"},
		{"stream is gated off", "stream=All", "p", 422, `PodLogOptions "p" is invalid: stream: Forbidden: may not be specified`},
		{"tailLines that is not a number", "tailLines=ten", "p", 400, `strconv.ParseInt: parsing "ten": invalid syntax`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/api/v1/namespaces/default/pods/" + tc.pod + "/log"
			if tc.query != "" {
				path += "?" + tc.query
			}
			rec := do(env.srv, http.MethodGet, path, "", nil)
			checkLogResponse(t, rec)
			if rec.Code != tc.wantCode {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.wantCode)
			}
			if rec.Code < 300 {
				if ct := rec.Header().Get("Content-Type"); rec.Code == 200 && ct != "text/plain" {
					t.Fatalf("Content-Type %q", ct)
				}
				return
			}
			var st metav1.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			if prefix, ok := strings.CutSuffix(tc.wantMsg, "*"); ok {
				if !strings.HasPrefix(st.Message, prefix) {
					t.Fatalf("message %q, want prefix %q", st.Message, prefix)
				}
			} else if st.Message != tc.wantMsg {
				t.Fatalf("message %q, want %q", st.Message, tc.wantMsg)
			}
		})
	}
}

// checkLogResponse is checkResponse for the node-proxied subresources,
// where a 500 is a legitimate answer (an agent out of reach).
func checkLogResponse(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code < 400 {
		return
	}
	var st metav1.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Kind != "Status" || int(st.Code) != rec.Code {
		t.Fatalf("%d response is not a matching Status: %s", rec.Code, rec.Body)
	}
}
