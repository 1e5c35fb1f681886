package kubeletapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rc "k8s.io/apimachinery/pkg/util/remotecommand"
)

// WebSocket subprotocols of remotecommand. v5 adds the client's
// half-close of stdin (kubectl 1.30+); v4 and later report the result as a
// metav1.Status JSON; the unversioned ones as plain text.
const (
	wsV5Binary       = rc.StreamProtocolV5Name
	wsV4Binary       = rc.StreamProtocolV4Name
	wsV4Base64       = "v4.base64.channel.k8s.io"
	wsPreV4Binary    = "channel.k8s.io"
	wsPreV4Base64    = "base64.channel.k8s.io"
	channelStdin     = rc.StreamStdIn
	channelStdout    = rc.StreamStdOut
	channelStderr    = rc.StreamStdErr
	channelError     = rc.StreamErr
	channelResize    = rc.StreamResize
	numberOfChannels = 5
)

// streamOptions are the streams a client asked for (remotecommand's
// NewOptions).
type streamOptions struct {
	stdin, stdout, stderr, tty bool
}

// flag accepts the API server's "1" and a direct client's "true".
func flag(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	return v == "1" || strings.EqualFold(v, "true")
}

func newStreamOptions(r *http.Request) (streamOptions, error) {
	o := streamOptions{
		stdin:  flag(r, corev1.ExecStdinParam),
		stdout: flag(r, corev1.ExecStdoutParam),
		stderr: flag(r, corev1.ExecStderrParam),
		tty:    flag(r, corev1.ExecTTYParam),
	}
	if o.tty && o.stderr {
		// A terminal has one output stream; upstream drops stderr too.
		o.stderr = false
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// streamConn is an upgraded exec or attach connection, whichever protocol.
type streamConn struct {
	close       func() error
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
	resize      io.Reader
	writeStatus func(*apierrors.StatusError) error
	// gone is closed when the client's connection is (nil: not known).
	gone <-chan struct{}
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request)   { s.remoteCommand(w, r, true) }
func (s *Server) attach(w http.ResponseWriter, r *http.Request) { s.remoteCommand(w, r, false) }

// remoteCommand is the kubelet's getExec/getAttach and the CRI streaming
// server's ServeExec/ServeAttach in one: validate, upgrade, run, report.
func (s *Server) remoteCommand(w http.ResponseWriter, r *http.Request, isExec bool) {
	opts, err := newStreamOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pod, ok := s.lookupPod(w, r)
	if !ok {
		return
	}
	container := r.PathValue("container")
	if !containerSpec(pod, container) {
		// The kubelet's findContainer error, via streaming.WriteError.
		http.Error(w, fmt.Sprintf("container not found (%q)", container), http.StatusInternalServerError)
		return
	}
	if !s.upgraded.acquire() {
		http.Error(w, "the agent is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.upgraded.release()

	// Anything but a WebSocket goes to SPDY, whose handshake answers a
	// request that is no upgrade at all with upstream's 400.
	var conn *streamConn
	if websocket.IsWebSocketUpgrade(r) {
		conn, err = s.webSocketStreams(w, r, opts)
	} else {
		conn, err = s.spdyStreams(w, r, opts)
	}
	if err != nil {
		s.cfg.Logger.Info("exec/attach stream setup failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	defer func() { _ = conn.close() }()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if conn.gone != nil {
		go func() {
			select {
			case <-conn.gone:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	streams := Streams{TTY: opts.tty, Stdin: conn.stdin, Stdout: conn.stdout, Stderr: conn.stderr}
	if opts.tty && conn.resize != nil {
		resize := make(chan TerminalSize)
		go decodeResizes(ctx, conn.resize, resize)
		streams.Resize = resize
	}

	var status *apierrors.StatusError
	if isExec {
		status = execStatus(s.cfg.Pods.Exec(ctx, pod, container, r.URL.Query()[corev1.ExecCommandParam], streams))
	} else if err := s.cfg.Pods.Attach(ctx, pod, container, streams); err != nil {
		status = apierrors.NewInternalError(fmt.Errorf("error attaching to container: %w", err))
	} else {
		status = &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusSuccess}}
	}
	if err := conn.writeStatus(status); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Debug("exec/attach status not delivered", "err", err)
	}
}

// execStatus is ServeExec's report: Success, a NonZeroExitCode Failure
// whose cause carries the code (client-go turns it into exec.CodeExitError,
// kubectl into its exit status), or an InternalError.
func execStatus(code int, err error) *apierrors.StatusError {
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("error executing command in container: %w", err))
	}
	if code == 0 {
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusSuccess}}
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Reason: rc.NonZeroExitCodeReason,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
			Type: rc.ExitCodeCauseType, Message: fmt.Sprintf("%d", code),
		}}},
		Message: fmt.Sprintf("command terminated with non-zero exit code: exit code %d", code),
	}}
}

// decodeResizes reads TerminalSize JSON documents until the stream ends,
// then closes out.
func decodeResizes(ctx context.Context, r io.Reader, out chan<- TerminalSize) {
	defer close(out)
	dec := json.NewDecoder(r)
	for {
		var size TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case out <- size:
		case <-ctx.Done():
			return
		}
	}
}

// v4WriteStatus writes the Status as JSON (v4 and v5).
func v4WriteStatus(w io.Writer) func(*apierrors.StatusError) error {
	return func(st *apierrors.StatusError) error {
		b, err := json.Marshal(st.Status())
		if err != nil {
			return fmt.Errorf("encode status: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
}

// v1WriteStatus writes only a failure's message, as plain text (the
// unversioned protocols).
func v1WriteStatus(w io.Writer) func(*apierrors.StatusError) error {
	return func(st *apierrors.StatusError) error {
		if st.Status().Status == metav1.StatusSuccess {
			return nil
		}
		_, err := w.Write([]byte(st.Error()))
		return err
	}
}

// webSocketStreams upgrades to a WebSocket with one channel per stream
// (the CRI streaming server's createWebSocketStreams, plus v5).
func (s *Server) webSocketStreams(w http.ResponseWriter, r *http.Request, o streamOptions) (*streamConn, error) {
	ws, err := s.upgradeWebSocket(w, r, []string{wsV5Binary, wsV4Binary, wsV4Base64, wsPreV4Binary, wsPreV4Base64})
	if err != nil {
		return nil, err
	}
	mc := newMuxConn(ws, s.cfg.StreamIdleTimeout, channelStdin, channelResize)
	// An empty message on the lowest writable channel tells the client
	// the connection is established, as upstream does.
	switch {
	case o.stdout:
		_, _ = mc.writer(channelStdout).Write(nil)
	case o.stderr:
		_, _ = mc.writer(channelStderr).Write(nil)
	default:
		_, _ = mc.writer(channelError).Write(nil)
	}
	c := &streamConn{close: mc.Close, resize: mc.reader(channelResize), gone: mc.gone}
	if o.stdin {
		c.stdin = mc.reader(channelStdin)
	}
	if o.stdout {
		c.stdout = mc.writer(channelStdout)
	}
	if o.stderr {
		c.stderr = mc.writer(channelStderr)
	}
	switch mc.protocol {
	case wsV5Binary, wsV4Binary, wsV4Base64:
		c.writeStatus = v4WriteStatus(mc.writer(channelError))
	default:
		c.writeStatus = v1WriteStatus(mc.writer(channelError))
	}
	return c, nil
}
