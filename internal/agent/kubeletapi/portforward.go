package kubeletapi

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/gorilla/websocket"
)

// portForward serves port forwarding over WebSocket with the kubelet's
// framing (portforward/websocket.go): the ports come from ?port=, port i
// gets data channel 2i and error channel 2i+1, and each channel's first
// message is the port as two little-endian bytes. Other requests are
// SPDY (portforward.k8s.io, spdyportforward.go).
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	pod, ok := s.lookupPod(w, r)
	if !ok {
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		// SPDY (portforward.k8s.io), whose ports come with the streams.
		if !s.upgraded.acquire() {
			http.Error(w, "the agent is shutting down", http.StatusServiceUnavailable)
			return
		}
		defer s.upgraded.release()
		s.spdyPortForward(w, r, pod)
		return
	}
	var ports []int32
	for _, p := range r.URL.Query()["port"] {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			http.Error(w, fmt.Sprintf("unable to parse %q as a port: %v", p, err), http.StatusBadRequest)
			return
		}
		ports = append(ports, int32(n))
	}
	if len(ports) == 0 {
		http.Error(w, "query parameter \"port\" is required", http.StatusBadRequest)
		return
	}
	if !s.upgraded.acquire() {
		http.Error(w, "the agent is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.upgraded.release()
	ws, err := s.upgradeWebSocket(w, r, []string{wsV4Binary, wsV4Base64, wsPreV4Binary, wsPreV4Base64})
	if err != nil {
		s.cfg.Logger.Info("port-forward upgrade failed", "err", err)
		return
	}
	readable := make([]byte, len(ports))
	for i := range ports {
		readable[i] = byte(2 * i)
	}
	mc := newMuxConn(ws, s.cfg.StreamIdleTimeout, readable...)
	defer func() { _ = mc.Close() }()
	// The client going ends every forwarded connection.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-mc.gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	for i, port := range ports {
		data, errc := byte(2*i), byte(2*i+1)
		var hdr [2]byte
		binary.LittleEndian.PutUint16(hdr[:], uint16(port))
		if _, err := mc.writer(data).Write(hdr[:]); err != nil {
			cancel() // the client is gone: end the forwards already running
			break
		}
		if _, err := mc.writer(errc).Write(hdr[:]); err != nil {
			cancel()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := struct {
				io.Reader
				io.Writer
			}{mc.reader(data), mc.writer(data)}
			if err := s.cfg.Pods.PortForward(ctx, pod, port, stream); err != nil {
				msg := fmt.Sprintf("error forwarding port %d to pod %s, uid %v: %v", port, pod.Name, pod.UID, err)
				_, _ = mc.writer(errc).Write([]byte(msg))
			}
		}()
	}
	wg.Wait()
}
