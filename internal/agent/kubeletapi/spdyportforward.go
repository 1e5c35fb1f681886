package kubeletapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"
)

// portForwardProtocolV1 is the SPDY port-forward protocol (client-go's
// portforward.PortForwardProtocolV1Name).
const portForwardProtocolV1 = "portforward.k8s.io"

// spdyPortForward serves port forwarding over SPDY as the CRI streaming
// server's portforward/httpstream.go does: every forwarded connection is
// a pair of streams the client opens, a data and an error stream with the
// same port and requestID headers; once both are there, the data stream
// is connected with the port and a failure is written to the error
// stream. Unlike the WebSocket protocol, ports come from the streams, not
// the query, and a client may open pairs for as long as it stays.
func (s *Server) spdyPortForward(w http.ResponseWriter, r *http.Request, pod *corev1.Pod) {
	done := make(chan struct{})
	conn, _, streams, err := spdyUpgrade(w, r, []string{portForwardProtocolV1}, validatePortForwardStream, done)
	if err != nil {
		s.cfg.Logger.Info("port-forward upgrade failed", "err", err)
		return
	}
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)

	ctx, cancel := context.WithCancel(r.Context())
	var wg sync.WaitGroup
	defer func() {
		// Refuse further streams, end the forwarders and wait for them
		// before the connection goes (closing it resets every stream).
		close(done)
		cancel()
		wg.Wait()
		_ = conn.Close()
	}()

	pairs := map[string]*streamPair{}
	// finished carries the requestIDs of pairs that were forwarded or
	// timed out, so the loop alone touches pairs.
	finished := make(chan string)
	for {
		var rs receivedStream
		select {
		case rs = <-streams:
		case id := <-finished:
			delete(pairs, id)
			continue
		case <-conn.CloseChan():
			return // the client hung up
		case <-ctx.Done():
			return // the agent is stopping
		}
		id := portForwardRequestID(rs.stream)
		p, ok := pairs[id]
		if !ok {
			p = &streamPair{complete: make(chan struct{})}
			pairs[id] = p
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.forwardPair(ctx, pod, conn, p)
				select {
				case finished <- id:
				case <-ctx.Done():
				}
			}()
		}
		if err := p.add(rs); err != nil {
			s.cfg.Logger.Info("port-forward stream refused", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			rs.stream.Reset()
		}
	}
}

// validatePortForwardStream refuses (the library then resets) a stream
// without a usable port or stream type, as upstream's httpStreamReceived.
func validatePortForwardStream(stream httpstream.Stream) error {
	h := stream.Headers()
	port := h.Get(corev1.PortHeader)
	if port == "" {
		return fmt.Errorf("%q header is required", corev1.PortHeader)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("unable to parse %q as a port: %w", port, err)
	}
	if n < 1 {
		return fmt.Errorf("port %q must be > 0", port)
	}
	switch t := h.Get(corev1.StreamType); t {
	case corev1.StreamTypeData, corev1.StreamTypeError:
		return nil
	case "":
		return fmt.Errorf("%q header is required", corev1.StreamType)
	default:
		return fmt.Errorf("invalid stream type %q", t)
	}
}

// portForwardRequestID pairs a stream with its partner. Clients older
// than the requestID header opened the data stream right after the error
// stream, and a client numbers its streams in steps of two, so the error
// stream's ID names the pair (as upstream's requestID).
func portForwardRequestID(stream httpstream.Stream) string {
	if id := stream.Headers().Get(corev1.PortForwardRequestIDHeader); id != "" {
		return id
	}
	id := int(stream.Identifier())
	if stream.Headers().Get(corev1.StreamType) == corev1.StreamTypeData {
		id -= 2
	}
	return strconv.Itoa(id)
}

// streamPair is the data and error stream of one forwarded connection.
type streamPair struct {
	mu       sync.Mutex
	data     *receivedStream
	errs     *receivedStream
	complete chan struct{} // closed once both are there
	// finished is set once the forwarder took the streams; a stream
	// arriving later is refused rather than left open.
	finished bool
}

func (p *streamPair) add(rs receivedStream) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return fmt.Errorf("request %s is already finished", portForwardRequestID(rs.stream))
	}
	slot := &p.data
	if rs.stream.Headers().Get(corev1.StreamType) == corev1.StreamTypeError {
		slot = &p.errs
	}
	if *slot != nil {
		return fmt.Errorf("%s stream of request %s already assigned",
			rs.stream.Headers().Get(corev1.StreamType), portForwardRequestID(rs.stream))
	}
	*slot = &rs
	if p.data != nil && p.errs != nil {
		close(p.complete)
	}
	return nil
}

// finish takes the pair's streams (either may be nil if it never
// completed) and refuses any further.
func (p *streamPair) finish() (data, errs *receivedStream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished = true
	return p.data, p.errs
}

// forwardPair waits for the pair to be complete, for at most
// StreamCreationTimeout, then connects its data stream with the port,
// reporting a failure on the error stream (upstream's portForward and
// monitorStreamPair).
func (s *Server) forwardPair(ctx context.Context, pod *corev1.Pod, conn httpstream.Connection, p *streamPair) {
	timer := s.cfg.Clock.NewTimer(s.cfg.StreamCreationTimeout)
	defer timer.Stop()
	var failure error
	select {
	case <-p.complete:
	case <-timer.C():
		failure = errors.New("timed out waiting for streams")
	case <-ctx.Done():
		failure = ctx.Err()
	}
	data, errs := p.finish()
	defer func() {
		for _, rs := range []*receivedStream{data, errs} {
			if rs != nil {
				_ = rs.stream.Close()
				conn.RemoveStreams(rs.stream)
			}
		}
	}()
	if failure == nil {
		// Write nothing before the library has replied to the streams.
		for _, rs := range []*receivedStream{data, errs} {
			select {
			case <-rs.replySent:
			case <-ctx.Done():
				return
			}
		}
		port, _ := strconv.ParseUint(data.stream.Headers().Get(corev1.PortHeader), 10, 16) // validated on arrival
		if err := s.cfg.Pods.PortForward(ctx, pod, int32(port), data.stream); err != nil {
			failure = fmt.Errorf("error forwarding port %d to pod %s, uid %v: %w", port, pod.Name, pod.UID, err)
		}
	}
	if failure != nil && errs != nil && ctx.Err() == nil {
		select {
		case <-errs.replySent:
			_, _ = errs.stream.Write([]byte(failure.Error()))
		case <-ctx.Done():
		}
	}
}
