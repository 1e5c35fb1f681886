package kubeletapi

import (
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	rc "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// SPDY/3.1 remotecommand, as the CRI streaming server's
// remotecommand/httpstream.go negotiates it: the client opens one SPDY
// stream per channel, each named by its streamType header, and the server
// starts once it has all it expects. k8s.io/streaming does the
// upgrade, the framing and the flow control; what is ours is the
// collection of the streams and their meaning.

// spdyRemoteCommandProtocols in the server's order of preference; the
// client's order decides (httpstream.Handshake picks the client's first
// match).
var spdyRemoteCommandProtocols = []string{
	rc.StreamProtocolV4Name, rc.StreamProtocolV3Name, rc.StreamProtocolV2Name, rc.StreamProtocolV1Name,
}

// receivedStream is a stream the client opened, with the channel closed
// once the library has sent the reply to it: writing before the reply
// would reach a client that does not yet know the stream.
type receivedStream struct {
	stream    httpstream.Stream
	replySent <-chan struct{}
}

// spdyUpgrade negotiates one of protocols and upgrades, handing the
// client's streams to the returned channel until done is closed. On
// failure the response has been written (400 or 403 from Handshake, as
// upstream) and conn is nil.
func spdyUpgrade(w http.ResponseWriter, r *http.Request, protocols []string, accept func(httpstream.Stream) error, done <-chan struct{}) (httpstream.Connection, string, <-chan receivedStream, error) {
	protocol, err := httpstream.Handshake(r, w, protocols)
	if err != nil {
		return nil, "", nil, fmt.Errorf("spdy handshake: %w", err)
	}
	streams := make(chan receivedStream)
	handler := func(stream httpstream.Stream, replySent <-chan struct{}) error {
		if accept != nil {
			if err := accept(stream); err != nil {
				return err // the library resets the stream
			}
		}
		select {
		case streams <- receivedStream{stream, replySent}:
			return nil
		case <-done:
			return errors.New("the connection is no longer accepting streams")
		}
	}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, handler)
	if conn == nil {
		return nil, "", nil, errors.New("spdy upgrade failed")
	}
	return conn, protocol, streams, nil
}

// spdyGone turns the connection's close notification into a channel that
// is closed when the connection is (the library's CloseChan is closed
// then, whether the client hung up or we closed it).
func spdyGone(conn httpstream.Connection) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		<-conn.CloseChan()
		close(gone)
	}()
	return gone
}

// spdyStreams upgrades an exec or attach to SPDY and waits, for at most
// StreamCreationTimeout, for the streams the query asked for (the CRI
// streaming server's createHTTPStreamStreams and waitForStreams).
func (s *Server) spdyStreams(w http.ResponseWriter, r *http.Request, o streamOptions) (*streamConn, error) {
	done := make(chan struct{})
	conn, protocol, streams, err := spdyUpgrade(w, r, spdyRemoteCommandProtocols, nil, done)
	if err != nil {
		return nil, err
	}
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)

	expected := 1 // error
	for _, b := range []bool{o.stdin, o.stdout, o.stderr} {
		if b {
			expected++
		}
	}
	// Resizing arrived with v3; older clients open no resize stream.
	resizing := o.tty && protocol != rc.StreamProtocolV2Name && protocol != rc.StreamProtocolV1Name
	if resizing {
		expected++
	}

	var errStream, stdin, stdout, stderr, resize httpstream.Stream
	timer := s.cfg.Clock.NewTimer(s.cfg.StreamCreationTimeout)
	defer timer.Stop()
	fail := func(err error) (*streamConn, error) {
		close(done)
		_ = conn.Close()
		return nil, err
	}
	for received := 0; received < expected; {
		select {
		case rs := <-streams:
			var slot *httpstream.Stream
			switch t := rs.stream.Headers().Get(corev1.StreamType); t {
			case corev1.StreamTypeError:
				slot = &errStream
			case corev1.StreamTypeStdin:
				slot = &stdin
			case corev1.StreamTypeStdout:
				slot = &stdout
			case corev1.StreamTypeStderr:
				slot = &stderr
			case corev1.StreamTypeResize:
				slot = &resize
			default:
				return fail(fmt.Errorf("unexpected stream type: %q", t))
			}
			if *slot != nil {
				return fail(fmt.Errorf("duplicate %s stream", rs.stream.Headers().Get(corev1.StreamType)))
			}
			select {
			case <-rs.replySent:
			case <-timer.C():
				return fail(errors.New("timed out waiting for client to create streams"))
			case <-r.Context().Done():
				return fail(r.Context().Err())
			}
			*slot = rs.stream
			received++
		case <-timer.C():
			return fail(errors.New("timed out waiting for client to create streams"))
		case <-conn.CloseChan():
			// A hijacked connection's request context does not end
			// with it; this is how a client hanging up shows.
			return fail(errors.New("the client closed the connection while creating streams"))
		case <-r.Context().Done():
			return fail(r.Context().Err())
		}
	}
	if errStream == nil {
		return fail(errors.New("the client did not open an error stream"))
	}
	// Streams the client opens from now on are refused.
	close(done)

	c := &streamConn{gone: spdyGone(conn)}
	c.close = func() error {
		// Half-close what we write, so the client reads each to its end
		// before the connection goes (closing it resets every stream).
		for _, st := range []httpstream.Stream{stdout, stderr, errStream} {
			if st != nil {
				_ = st.Close()
			}
		}
		return conn.Close()
	}
	// Only the streams opened become non-nil: a nil Stream converts to a
	// nil Reader or Writer.
	c.stdin, c.stdout, c.stderr, c.resize = stdin, stdout, stderr, resize
	switch protocol {
	case rc.StreamProtocolV4Name:
		c.writeStatus = v4WriteStatus(errStream)
	default:
		c.writeStatus = v1WriteStatus(errStream)
	}
	return c, nil
}
