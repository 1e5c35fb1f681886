package kubeletapi

import (
	"context"
	"io"
	"testing"
)

func TestPortForwardWebSocket(t *testing.T) {
	pods := newFakePods()
	pods.add(runningPod())
	pods.forward = func(ctx context.Context, port int32, stream io.ReadWriter) error {
		// An echo server on the port.
		buf := make([]byte, 64)
		for {
			n, err := stream.Read(buf)
			if err != nil {
				return nil
			}
			if _, err := stream.Write(buf[:n]); err != nil {
				return nil
			}
		}
	}
	env := startServer(t, pods, nil)
	ws := env.dialExec(t, "/portForward/ns/p?port=8080", "v4.channel.k8s.io")
	// Both channels open with the port, little-endian: 8080 = 0x1f90.
	for _, ch := range []byte{0, 1} {
		_, msg, err := ws.ReadMessage()
		if err != nil || string(msg) != string([]byte{ch, 0x90, 0x1f}) {
			t.Fatalf("channel %d header %v, %v", ch, msg, err)
		}
	}
	send(t, ws, append([]byte{0}, "ping"...)...)
	_, msg, err := ws.ReadMessage()
	if err != nil || string(msg) != "\x00ping" {
		t.Fatalf("echo %q, %v", msg, err)
	}
	// Hanging up must end the forwarding (Run's wait in Cleanup and the
	// leak check in TestMain see to it).
	_ = ws.Close()
}
