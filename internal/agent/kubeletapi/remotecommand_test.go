package kubeletapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wsResult is what a remotecommand WebSocket client received.
type wsResult struct {
	stdout, stderr string
	status         metav1.Status
	rawError       string
}

// dialExec connects as client-go's WebSocket executor does.
func (e *testEnv) dialExec(t *testing.T, path, protocol string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{
		TLSClientConfig: &tls.Config{RootCAs: e.bundle.CAPool, Certificates: []tls.Certificate{e.bundle.AdminCert}},
		Subprotocols:    []string{protocol},
	}
	ws, resp, err := d.Dial("wss://"+e.srv.Addr().String()+path, nil)
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = fmt.Sprintf(" (%d %s)", resp.StatusCode, b)
		}
		t.Fatalf("dial %s: %v%s", path, err, body)
	}
	if ws.Subprotocol() != protocol {
		t.Fatalf("negotiated %q, want %q", ws.Subprotocol(), protocol)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

func send(t *testing.T, ws *websocket.Conn, frame ...byte) {
	t.Helper()
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
}

// readAll reads channel frames until the server closes.
func readAll(t *testing.T, ws *websocket.Conn) wsResult {
	t.Helper()
	var r wsResult
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case 1:
			r.stdout += string(data[1:])
		case 2:
			r.stderr += string(data[1:])
		case 3:
			r.rawError += string(data[1:])
		}
	}
	if r.rawError != "" {
		if err := json.Unmarshal([]byte(r.rawError), &r.status); err != nil {
			t.Fatalf("error channel %q: %v", r.rawError, err)
		}
	}
	return r
}

func TestExecWebSocketV5(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	pods.exec = func(_ context.Context, cmd []string, s Streams) (int, error) {
		in, err := io.ReadAll(s.Stdin) // ends with v5's close of stdin
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(s.Stdout, "%s|%s", strings.Join(cmd, " "), in)
		fmt.Fprint(s.Stderr, "oops")
		return 3, nil
	}
	env := startServer(t, pods, nil)
	ws := env.dialExec(t, "/exec/ns/p/c?command=echo&command=hi&input=1&output=1&error=1", "v5.channel.k8s.io")
	send(t, ws, append([]byte{0}, "input"...)...)
	send(t, ws, 255, 0) // stdin closed
	got := readAll(t, ws)
	if got.stdout != "echo hi|input" || got.stderr != "oops" {
		t.Errorf("stdout %q stderr %q", got.stdout, got.stderr)
	}
	st := got.status
	if st.Status != metav1.StatusFailure || st.Reason != "NonZeroExitCode" || st.Details == nil ||
		len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != "ExitCode" || st.Details.Causes[0].Message != "3" {
		t.Errorf("status %+v", st)
	}
}

func TestExecWebSocketV4SuccessAndTTYResize(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	pods.exec = func(_ context.Context, _ []string, s Streams) (int, error) {
		if s.Stderr != nil || !s.TTY || s.Resize == nil {
			return 0, fmt.Errorf("streams %+v: want a TTY without stderr", s)
		}
		size := <-s.Resize
		fmt.Fprintf(s.Stdout, "%dx%d", size.Width, size.Height)
		return 0, nil
	}
	env := startServer(t, pods, nil)
	ws := env.dialExec(t, "/exec/ns/p/c?command=sh&input=1&output=1&error=1&tty=1", "v4.channel.k8s.io")
	send(t, ws, append([]byte{4}, `{"Width":80,"Height":24}`...)...)
	got := readAll(t, ws)
	if got.stdout != "80x24" || got.status.Status != metav1.StatusSuccess {
		t.Errorf("stdout %q status %+v", got.stdout, got.status)
	}
}

func TestAttachWebSocketError(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	pods.exec = func(context.Context, []string, Streams) (int, error) { return 0, fmt.Errorf("no such process") }
	env := startServer(t, pods, nil)
	ws := env.dialExec(t, "/attach/ns/p/c?output=1", "v5.channel.k8s.io")
	got := readAll(t, ws)
	if got.status.Reason != metav1.StatusReasonInternalError || !strings.Contains(got.status.Message, "error attaching to container: no such process") {
		t.Errorf("status %+v", got.status)
	}
}

func TestExecRefusals(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	env := startServer(t, pods, nil)
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/exec/ns/p/c?command=ls", 400, "you must specify at least 1 of stdin, stdout, stderr"},
		{"/exec/ns/q/c?command=ls&output=1", 404, "pod does not exist"},
		{"/exec/ns/p/x?command=ls&output=1", 500, `container not found ("x")`},
		{"/exec/ns/p/c?command=ls&output=1", 400, "unable to upgrade: header X-Stream-Protocol-Version does not exist"},
	} {
		resp, err := env.client.Post(env.base+tc.path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s = %d %q, want %d %q", tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}
