package kubeletapi

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Defaults of the kubelet's streaming server (--streaming-connection-idle-timeout
// and the CRI streaming server's stream creation timeout).
const (
	DefaultStreamIdleTimeout     = 4 * time.Hour
	DefaultStreamCreationTimeout = 30 * time.Second
)

// Config configures the server.
type Config struct {
	// Address is where to listen ("0.0.0.0:10250"; port 0 picks one, see
	// Server.Addr). Ignored when Listener is set.
	Address string
	// Listener, if set, is served instead of listening on Address; the
	// server closes it when Run returns.
	Listener net.Listener
	// ServingCert is the agent's serving certificate (the caller issues
	// it, covering the node's addresses).
	ServingCert tls.Certificate
	// ClientCAs verifies client certificates (the kubelet's
	// --client-ca-file): the cluster CA, which signed the certificate the
	// API server presents to agents. Required.
	ClientCAs *x509.CertPool
	// Tokens, if set, also accepts bearer tokens; then a client
	// certificate is verified when presented but no longer required.
	Tokens TokenAuthenticator
	// Pods is the agent: its pods and what runs in their containers.
	Pods Pods
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
	// Clock times stream creation and sinceSeconds; nil is the real clock.
	Clock clock.Clock
	// StreamIdleTimeout closes exec, attach and port-forward connections
	// idle that long; 0 is DefaultStreamIdleTimeout.
	StreamIdleTimeout time.Duration
	// StreamCreationTimeout bounds how long an SPDY client may take to
	// open its streams; 0 is DefaultStreamCreationTimeout.
	StreamCreationTimeout time.Duration
}

// TokenAuthenticator checks a bearer token; ok false means not
// authenticated (401), an error is a failure to decide (500).
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (ok bool, err error)
}

// StaticToken is a TokenAuthenticator accepting one token.
type StaticToken string

// AuthenticateToken implements TokenAuthenticator in constant time.
func (s StaticToken) AuthenticateToken(_ context.Context, token string) (bool, error) {
	return s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1, nil
}

// Pods is what the server needs from the agent. Implementations must be
// safe for concurrent use; every method taking a ctx returns when it ends.
type Pods interface {
	// GetPodByName returns the pod as the agent knows it: its spec and
	// the status the agent last computed (container IDs and states are
	// what logs are found by); false when the agent runs no such pod.
	GetPodByName(namespace, name string) (*corev1.Pod, bool)
	// ListPods returns the agent's pods for /pods.
	ListPods() []*corev1.Pod
	// ContainerLogs writes the log of one attempt of a container,
	// identified by the containerID taken from the pod's status, formatted
	// as opts say (process.WriteLogs does exactly that). With opts.Follow
	// it returns once that attempt has exited and its log is read to the
	// end, or when ctx ends (not an error).
	ContainerLogs(ctx context.Context, pod *corev1.Pod, container, containerID string, opts LogOptions, w io.Writer) error
	// Exec runs cmd in the container. exitCode is the command's when it
	// ran; err is for failing to run it at all (the client then sees an
	// InternalError Status).
	Exec(ctx context.Context, pod *corev1.Pod, container string, cmd []string, s Streams) (exitCode int, err error)
	// Attach connects the streams to the container's main process until
	// it exits or ctx ends (the client detached). As upstream, how the
	// process exited is not reported: an error is a failure to attach.
	Attach(ctx context.Context, pod *corev1.Pod, container string, s Streams) error
	// PortForward connects stream with the pod's port (for host-process
	// pods, 127.0.0.1:port) until either side closes or ctx ends. The
	// server closes stream afterwards.
	PortForward(ctx context.Context, pod *corev1.Pod, port int32, stream io.ReadWriter) error
}

// Streams are the streams of an exec or attach the client asked for; a
// stream not asked for is nil.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr is nil with TTY: a terminal has one output, as upstream.
	Stderr io.Writer
	TTY    bool
	// Resize delivers terminal size changes (TTY only; nil otherwise). It
	// is closed when the client is gone.
	Resize <-chan TerminalSize
}

// TerminalSize is the size of the client's terminal (remotecommand's
// resize channel payload).
type TerminalSize struct {
	Width  uint16
	Height uint16
}

// Server is the agent's kubelet API server.
type Server struct {
	cfg     Config
	ln      net.Listener
	handler http.Handler

	// upgraded tracks handlers of hijacked connections, which
	// http.Server.Close does not wait for; Run does.
	upgraded tracker
}

// tracker counts running handlers and refuses new ones once closed, so
// Run's wait cannot race a handler just starting (as WaitGroup.Add
// during Wait would).
type tracker struct {
	mu     sync.Mutex
	n      int
	closed bool
	zero   chan struct{}
}

func (t *tracker) acquire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

func (t *tracker) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
}

// closeAndWait refuses new handlers and waits for the running ones.
func (t *tracker) closeAndWait() {
	t.mu.Lock()
	t.closed = true
	if t.n == 0 {
		t.mu.Unlock()
		return
	}
	zero := make(chan struct{})
	t.zero = zero
	t.mu.Unlock()
	<-zero
}

// New validates cfg and binds the listener, so Addr is known (for the
// Node's daemonEndpoints) before Run.
func New(cfg Config) (*Server, error) {
	if cfg.Pods == nil {
		return nil, errors.New("kubeletapi: Config.Pods is required")
	}
	if cfg.ClientCAs == nil {
		return nil, errors.New("kubeletapi: Config.ClientCAs is required")
	}
	if len(cfg.ServingCert.Certificate) == 0 {
		return nil, errors.New("kubeletapi: Config.ServingCert is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.StreamIdleTimeout == 0 {
		cfg.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	if cfg.StreamCreationTimeout == 0 {
		cfg.StreamCreationTimeout = DefaultStreamCreationTimeout
	}
	s := &Server{cfg: cfg, ln: cfg.Listener}
	if s.ln == nil {
		ln, err := net.Listen("tcp", cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("kubeletapi: listen: %w", err)
		}
		s.ln = ln
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /pods", s.pods)
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.containerLogs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", s.exec)
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", s.attach)
	mux.HandleFunc("/portForward/{ns}/{pod}", s.portForward)
	s.handler = s.authenticate(mux)
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Handler is the authenticated handler, for tests that bring their own
// listener.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) tlsConfig() *tls.Config {
	auth := tls.RequireAndVerifyClientCert
	if s.cfg.Tokens != nil {
		auth = tls.VerifyClientCertIfGiven
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{s.cfg.ServingCert},
		ClientAuth:   auth,
		ClientCAs:    s.cfg.ClientCAs,
		// HTTP/1.1 only: exec, attach and port-forward are connection
		// upgrades, which HTTP/2 does not have.
		NextProtos: []string{"http/1.1"},
	}
}

// Run serves until ctx ends, then closes the listener and every
// connection, upgraded ones included, and returns once all handlers have
// returned.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		// Request contexts derive from ctx, so streaming handlers (follow,
		// exec, port-forward) end with it.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    log.New(slogWriter{s.cfg.Logger}, "", 0),
	}
	ln := tls.NewListener(s.ln, s.tlsConfig())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("kubeletapi: serve: %w", err)
	}
	// Streams run until their clients go; the agent stopping is reason
	// enough to cut them, so close rather than drain.
	_ = srv.Close()
	if err == nil {
		<-errc
	}
	s.upgraded.closeAndWait()
	return err
}

// authenticate lets through requests with a verified client certificate
// (the TLS handshake verified it) or, when configured, a good bearer
// token; the kubelet with anonymous auth off answers others 401.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			next.ServeHTTP(w, r)
			return
		}
		if s.cfg.Tokens != nil {
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				good, err := s.cfg.Tokens.AuthenticateToken(r.Context(), strings.TrimSpace(tok))
				if err != nil {
					s.cfg.Logger.Error("kubelet API token authentication failed", "err", err)
					http.Error(w, "Internal Server Error", http.StatusInternalServerError)
					return
				}
				if good {
					next.ServeHTTP(w, r)
					return
				}
			}
		}
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	})
}

func (s *Server) pods(w http.ResponseWriter, _ *http.Request) {
	list := corev1.PodList{TypeMeta: typeMeta("PodList")}
	for _, p := range s.cfg.Pods.ListPods() {
		list.Items = append(list.Items, *p)
	}
	if list.Items == nil {
		list.Items = []corev1.Pod{}
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(&list); err != nil {
		s.cfg.Logger.Debug("write /pods", "err", err)
	}
}

// lookupPod finds the pod of a streaming request, answering as the
// kubelet's getExec/getAttach/getPortForward do when it is unknown.
func (s *Server) lookupPod(w http.ResponseWriter, r *http.Request) (*corev1.Pod, bool) {
	pod, ok := s.cfg.Pods.GetPodByName(r.PathValue("ns"), r.PathValue("pod"))
	if !ok {
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return nil, false
	}
	return pod, true
}

// containerSpec is kubecontainer.GetContainerSpec: regular, init and
// ephemeral containers.
func containerSpec(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// slogWriter routes net/http's own error log (TLS handshake failures of
// refused clients, mostly) to the Logger at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}
