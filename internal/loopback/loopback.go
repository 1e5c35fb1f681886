// Package loopback is the in-process door into terminus' API server: an
// http.RoundTripper that hands each request straight to the server's
// handler chain. In-process API clients (the controllers, later the node
// agent and terminustest) so pay for neither TCP nor TLS, yet every request
// still goes through authentication, admission and the same code as
// kubectl's (DESIGN section 1).
//
// The handler runs in its own goroutine with a request context that ends
// when the client closes the response body, when the client's own context
// ends, when the handler returns (as net/http does) or when the server's
// base context ends, so open watches stop at shutdown exactly as they do
// for TCP clients. The response body is a synchronous pipe: a streaming
// handler (watch) writes as fast as its client reads, never ahead of it.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"k8s.io/client-go/rest"
)

// RemoteAddr is what handlers see as the peer of a loopback request.
const RemoteAddr = "loopback"

// errBodyClosed is what a handler's Write gets after its client closed the
// response body.
var errBodyClosed = errors.New("loopback: response body closed by the client")

// Transport serves requests with an http.Handler in the same process.
type Transport struct {
	handler http.Handler
	base    context.Context
}

// New returns a Transport into handler. Requests end when base ends.
func New(base context.Context, handler http.Handler) *Transport {
	return &Transport{handler: handler, base: base}
}

// Config is a client configuration for the handler behind t, authenticated
// with bearer token. host only names the server in client-go's URLs and
// logs; no connection is made to it.
func Config(t *Transport, host, bearerToken, userAgent string) *rest.Config {
	return &rest.Config{
		Host:        host,
		BearerToken: bearerToken,
		UserAgent:   userAgent,
		Transport:   t,
		// No client-side throttling: the loopback is the server itself,
		// and upstream's in-process clients run unthrottled too.
		QPS: -1,
	}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("loopback: request has no URL")
	}
	ctx, cancel := context.WithCancel(req.Context())
	stopBase := context.AfterFunc(t.base, cancel)

	// The handler sees what net/http's server would hand it: a
	// request-target URL, a RequestURI and a non-nil body.
	sreq := req.Clone(ctx)
	sreq.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	sreq.RemoteAddr = RemoteAddr
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	sreq.Close = false

	pr, pw := io.Pipe()
	w := &responseWriter{header: make(http.Header), pipe: pw, committed: make(chan struct{})}
	go func() {
		defer stopBase()
		defer cancel()
		defer closeBody(sreq)
		defer func() {
			if p := recover(); p != nil {
				err := fmt.Errorf("loopback: handler panicked: %v", p)
				if p == http.ErrAbortHandler {
					err = errors.New("loopback: handler aborted the response")
				}
				w.abort(err)
				return
			}
			w.finish()
		}()
		t.handler.ServeHTTP(w, sreq)
	}()

	select {
	case <-w.committed:
		if w.err != nil {
			return nil, w.err
		}
		return w.response(req, &body{PipeReader: pr, cancel: cancel}), nil
	case <-req.Context().Done():
		cancel()
		_ = pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

// responseWriter commits the status and headers on the first WriteHeader,
// Write or Flush, then streams the body through the pipe.
type responseWriter struct {
	header    http.Header
	pipe      *io.PipeWriter
	committed chan struct{}

	// Written before committed is closed, read after.
	status     int
	sentHeader http.Header
	err        error

	once sync.Once
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if code < 200 { // informational responses are not forwarded
		return
	}
	w.commit(code, nil)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.commit(http.StatusOK, nil)
	if w.err != nil {
		return 0, w.err
	}
	return w.pipe.Write(p)
}

// Flush commits the headers; the pipe itself holds nothing back.
func (w *responseWriter) Flush() { w.commit(http.StatusOK, nil) }

// commit fixes the response head once; err instead means no response.
func (w *responseWriter) commit(code int, err error) {
	w.once.Do(func() {
		w.status, w.err = code, err
		w.sentHeader = w.header.Clone()
		close(w.committed)
	})
}

// finish ends a handler that returned normally.
func (w *responseWriter) finish() {
	w.commit(http.StatusOK, nil)
	_ = w.pipe.Close()
}

// abort ends a handler that panicked: no response if none was sent, a
// broken body otherwise.
func (w *responseWriter) abort(err error) {
	w.commit(0, err)
	_ = w.pipe.CloseWithError(err)
}

func (w *responseWriter) response(req *http.Request, b io.ReadCloser) *http.Response {
	resp := &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sentHeader,
		Body:          b,
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(w.sentHeader.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	if req.Method == http.MethodHead || w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		resp.ContentLength = 0
	}
	return resp
}

// body is the client's end of the response pipe; closing it ends the
// request, so a watch stops when its client stops reading.
type body struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (b *body) Close() error {
	b.cancel()
	return b.PipeReader.CloseWithError(errBodyClosed)
}
