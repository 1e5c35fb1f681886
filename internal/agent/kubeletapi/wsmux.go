package kubeletapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The WebSocket channel framing of remotecommand and port-forward: every
// message starts with its channel number (binary protocols) or the
// channel's digit followed by base64 data (base64 protocols); in v5 a
// message [255, ch] is the client closing channel ch (stdin's EOF).
// k8s.io/streaming's wsstream implements this too, but on
// golang.org/x/net/websocket; this one is on gorilla/websocket, what
// client-go dials with, for v5's half-close of stdin.

// upgradeWebSocket accepts the upgrade with the first of protocols the
// client offers (all in its order of preference, as gorilla does) and no
// Origin check: the client is the API server, not a browser.
func (s *Server) upgradeWebSocket(w http.ResponseWriter, r *http.Request, protocols []string) (*websocket.Conn, error) {
	up := websocket.Upgrader{
		Subprotocols:     protocols,
		HandshakeTimeout: s.cfg.StreamCreationTimeout,
		CheckOrigin:      func(*http.Request) bool { return true },
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	return ws, nil
}

// muxConn multiplexes numbered channels over one WebSocket.
type muxConn struct {
	ws       *websocket.Conn
	protocol string
	base64   bool
	v5       bool
	idle     time.Duration

	wmu sync.Mutex // one writer at a time, as gorilla requires

	// pipes carry what the client sends on readable channels.
	readers map[byte]*io.PipeReader
	writers map[byte]*io.PipeWriter

	gone      chan struct{} // closed when the read loop ends
	closeOnce sync.Once
}

func newMuxConn(ws *websocket.Conn, idle time.Duration, readable ...byte) *muxConn {
	p := ws.Subprotocol()
	m := &muxConn{
		ws: ws, protocol: p, idle: idle,
		base64:  p == wsV4Base64 || p == wsPreV4Base64,
		v5:      p == wsV5Binary,
		readers: map[byte]*io.PipeReader{}, writers: map[byte]*io.PipeWriter{},
		gone: make(chan struct{}),
	}
	for _, ch := range readable {
		m.readers[ch], m.writers[ch] = io.Pipe()
	}
	go m.readLoop()
	return m
}

// readLoop hands each message to its channel's pipe until the client
// goes, then ends every pipe with EOF.
func (m *muxConn) readLoop() {
	defer close(m.gone)
	defer func() {
		for _, w := range m.writers {
			_ = w.Close()
		}
	}()
	for {
		if m.idle > 0 {
			_ = m.ws.SetReadDeadline(time.Now().Add(m.idle))
		}
		_, data, err := m.ws.ReadMessage()
		if err != nil {
			return
		}
		if len(data) == 0 {
			continue
		}
		if m.v5 && data[0] == 255 {
			if len(data) == 2 {
				if w, ok := m.writers[data[1]]; ok {
					_ = w.Close()
				}
			}
			continue
		}
		ch, payload := data[0], data[1:]
		if m.base64 {
			ch -= '0'
			dec, err := base64.StdEncoding.DecodeString(string(payload))
			if err != nil {
				continue
			}
			payload = dec
		}
		w, ok := m.writers[ch]
		if !ok {
			continue // a channel this side does not read, as upstream
		}
		// Blocks until the consumer reads: WebSocket has no flow control
		// of its own, so this is the back-pressure.
		if _, err := w.Write(payload); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

func (m *muxConn) reader(ch byte) io.Reader { return m.readers[ch] }

func (m *muxConn) writer(ch byte) io.Writer { return channelWriter{m, ch} }

func (m *muxConn) write(ch byte, p []byte) (int, error) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if m.idle > 0 {
		_ = m.ws.SetWriteDeadline(time.Now().Add(m.idle))
	}
	var err error
	if m.base64 {
		frame := append([]byte{'0' + ch}, base64.StdEncoding.EncodeToString(p)...)
		err = m.ws.WriteMessage(websocket.TextMessage, frame)
	} else {
		err = m.ws.WriteMessage(websocket.BinaryMessage, append([]byte{ch}, p...))
	}
	if err != nil {
		return 0, fmt.Errorf("websocket write: %w", err)
	}
	return len(p), nil
}

// Close says goodbye, closes the connection and waits for the read loop.
func (m *muxConn) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.wmu.Lock()
		_ = m.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		m.wmu.Unlock()
		err = m.ws.Close()
		// Unblock a read loop stuck handing data to a reader nobody reads.
		for _, r := range m.readers {
			_ = r.Close()
		}
		<-m.gone
	})
	return err
}

type channelWriter struct {
	m  *muxConn
	ch byte
}

func (w channelWriter) Write(p []byte) (int, error) { return w.m.write(w.ch, p) }
