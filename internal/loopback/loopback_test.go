package loopback

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const waitLimit = 10 * time.Second

func newClient(base context.Context, h http.Handler) *http.Client {
	return &http.Client{Transport: New(base, h)}
}

func TestRoundTripRequestAndResponse(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
		wantHeader map[string]string
		wantLength int64
	}{
		{
			name: "server sees a server-side request", method: http.MethodPost,
			target: "https://terminus.test:6443/api/v1/namespaces/a%2Fb/configmaps?fieldManager=x&limit=2",
			body:   `{"kind":"ConfigMap"}`,
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				fmt.Fprintf(w, "%s|%s|%s|%s|%s|%s|%s|%v|%s", r.Method, r.URL.Path, r.URL.RawQuery, r.RequestURI, r.Host,
					r.RemoteAddr, r.Header.Get("Authorization"), r.TLS == nil, b)
			},
			wantStatus: http.StatusOK,
			wantBody: "POST|/api/v1/namespaces/a/b/configmaps|fieldManager=x&limit=2|/api/v1/namespaces/a%2Fb/configmaps?fieldManager=x&limit=2|" +
				"terminus.test:6443|loopback|Bearer t|true|{\"kind\":\"ConfigMap\"}",
			wantLength: -1,
		},
		{
			name: "status and headers as written", method: http.MethodGet, target: "http://x/missing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "2")
				w.WriteHeader(http.StatusNotFound)
				// Headers set after the head went out are not sent.
				w.Header().Set("X-Late", "1")
				_, _ = w.Write([]byte("{}"))
			},
			wantStatus: http.StatusNotFound, wantBody: "{}",
			wantHeader: map[string]string{"Content-Type": "application/json", "X-Late": ""},
			wantLength: 2,
		},
		{
			name: "a handler that writes nothing answers 200 with no body", method: http.MethodDelete, target: "http://x/",
			handler:    func(http.ResponseWriter, *http.Request) {},
			wantStatus: http.StatusOK, wantLength: -1,
		},
		{
			name: "informational headers are not the response", method: http.MethodGet, target: "http://x/",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusContinue)
				w.WriteHeader(http.StatusCreated)
				w.WriteHeader(http.StatusConflict) // superfluous, ignored as net/http does
				_, _ = io.WriteString(w, "made")
			},
			wantStatus: http.StatusCreated, wantBody: "made", wantLength: -1,
		},
		{
			name: "no content has length 0", method: http.MethodGet, target: "http://x/",
			handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			wantStatus: http.StatusNoContent, wantLength: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rd io.Reader
			if tt.body != "" {
				rd = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, tt.target, rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer t")
			resp, err := newClient(context.Background(), tt.handler).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || string(b) != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			if want := fmt.Sprintf("%d %s", tt.wantStatus, http.StatusText(tt.wantStatus)); resp.Status != want {
				t.Errorf("Status %q, want %q", resp.Status, want)
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if resp.ContentLength != tt.wantLength {
				t.Errorf("ContentLength %d, want %d", resp.ContentLength, tt.wantLength)
			}
			if resp.Request != req {
				t.Error("response does not point at its request")
			}
		})
	}
}

// A streaming handler's flushed lines reach the client one by one, before
// the handler returns; closing the body ends the handler's context.
func TestStreamingAndClientClose(t *testing.T) {
	handlerDone := make(chan error, 1)
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		f.Flush()
		for i := 0; ; i++ {
			select {
			case <-next:
			case <-r.Context().Done():
				handlerDone <- r.Context().Err()
				return
			}
			if _, err := fmt.Fprintf(w, "event %d\n", i); err != nil {
				<-r.Context().Done()
				handlerDone <- err
				return
			}
			f.Flush()
		}
	})
	resp, err := newClient(context.Background(), h).Get("http://x/watch")
	if err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(resp.Body)
	for i := range 3 {
		next <- struct{}{}
		line, err := lines.ReadString('\n')
		if err != nil || line != fmt.Sprintf("event %d\n", i) {
			t.Fatalf("line %d: %q, %v", i, line, err)
		}
	}
	resp.Body.Close()
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Fatal("handler ended without an error")
		}
	case <-time.After(waitLimit):
		t.Fatal("handler still running after the client closed the body")
	}
}

// The server's base context ends open requests (shutdown ends watches).
func TestBaseContextEndsRequests(t *testing.T) {
	base, stop := context.WithCancel(context.Background())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	resp, err := newClient(base, h).Get("http://x/watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		read <- err
	}()
	stop()
	select {
	case err := <-read:
		if err != nil {
			t.Fatalf("body ended with %v, want a clean end", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("request still open after the base context ended")
	}
}

// A client whose context ends before the response head gets its context's
// error, and the handler sees its context end.
func TestClientContextBeforeHead(t *testing.T) {
	seen := make(chan struct{})
	ended := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(seen)
		<-r.Context().Done()
		close(ended)
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/slow", nil)
	go func() {
		<-seen
		cancel()
	}()
	_, err := newClient(context.Background(), h).Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-ended:
	case <-time.After(waitLimit):
		t.Fatal("handler context did not end")
	}
}

func TestPanickingHandler(t *testing.T) {
	t.Run("before the head: an error, no response", func(t *testing.T) {
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
		_, err := newClient(context.Background(), h).Get("http://x/")
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("err = %v, want the panic", err)
		}
	})
	t.Run("after the head: a broken body", func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		})
		resp, err := newClient(context.Background(), h).Get("http://x/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err == nil || !strings.Contains(err.Error(), "aborted") {
			t.Fatalf("body err = %v, want an abort", err)
		}
	})
}

// The transport closes the request body, as a RoundTripper must.
func TestRequestBodyClosed(t *testing.T) {
	b := &trackedBody{Reader: strings.NewReader("x"), closed: make(chan struct{})}
	req, _ := http.NewRequest(http.MethodPut, "http://x/", b)
	resp, err := New(context.Background(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-b.closed:
	case <-time.After(waitLimit):
		t.Fatal("request body not closed")
	}
}

type trackedBody struct {
	io.Reader
	once   sync.Once
	closed chan struct{}
}

func (b *trackedBody) Close() error { b.once.Do(func() { close(b.closed) }); return nil }

func TestConcurrentRequests(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})
	c := newClient(context.Background(), h)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			want := strings.Repeat(fmt.Sprint(i), 10000)
			resp, err := c.Post("http://x/", "text/plain", strings.NewReader(want))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil || string(got) != want {
				errs <- fmt.Errorf("request %d: %d bytes, %v", i, len(got), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	payload := strings.Repeat("x", 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, payload) })
	c := newClient(context.Background(), h)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get("http://x/")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
