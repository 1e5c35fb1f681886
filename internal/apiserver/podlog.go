package apiserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/terminus-project/terminus/internal/registry"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// maxBackendErrorBody bounds how much of an agent's error answer is read
// into the Status message, as upstream's response checker does.
const maxBackendErrorBody = 50000

var podLogResource = schema.GroupResource{Resource: "pods/log"}

// getLog serves GET pods/{name}/log (kubectl logs) as kube-apiserver's
// LogREST does: the options are validated, the container chosen
// (registry.PodContainer), and the agent's
// /containerLogs/{ns}/{pod}/{container} streamed back as text/plain,
// flushed as it arrives when following. A pod without a node has no logs
// yet: 204 No Content, upstream's empty stream.
func (h *resourceHandler) getLog(w http.ResponseWriter, r *http.Request) {
	opts, err := podLogOptions(r.URL.Query())
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := registry.ValidatePodLogOptions(h.info.name, opts); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	obj, err := h.store.Get(r.Context(), h.info.namespace, h.info.name, "")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	pod := obj.(*corev1.Pod)
	container, err := registry.PodContainer(pod, opts.Container)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if pod.Spec.NodeName == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ep, err := h.s.kubeletEndpointFor(r.Context(), h.res.GroupResource(), pod.Spec.NodeName)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	loc := &url.URL{
		Scheme:   "https",
		Host:     ep.hostPort(),
		Path:     fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container),
		RawQuery: logParams(opts).Encode(),
	}
	transport := h.s.cfg.Kubelet.Transport
	if opts.InsecureSkipTLSVerifyBackend {
		transport = h.s.cfg.Kubelet.InsecureTransport
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, loc.String(), nil)
	if err != nil {
		h.s.writeError(w, r, internalError(err))
		return
	}
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("redirects forbidden")
	}}
	resp, err := client.Do(req)
	if err != nil {
		h.s.writeError(w, r, reasonless(err))
		return
	}
	defer resp.Body.Close()
	if err := backendError(resp, podLogResource, h.info.name); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	var out io.Writer = w
	if opts.Follow {
		out = flushWriter{w: w, rc: rc}
	}
	_, _ = io.Copy(out, resp.Body)
}

// logParams is the agent's query for a log request, as upstream's
// LogLocation writes it.
func logParams(o *corev1.PodLogOptions) url.Values {
	p := url.Values{}
	if o.Follow {
		p.Add("follow", "true")
	}
	if o.Previous {
		p.Add("previous", "true")
	}
	if o.Timestamps {
		p.Add("timestamps", "true")
	}
	if o.SinceSeconds != nil {
		p.Add("sinceSeconds", strconv.FormatInt(*o.SinceSeconds, 10))
	}
	if o.SinceTime != nil {
		p.Add("sinceTime", o.SinceTime.Format(time.RFC3339))
	}
	if o.TailLines != nil {
		p.Add("tailLines", strconv.FormatInt(*o.TailLines, 10))
	}
	if o.LimitBytes != nil {
		p.Add("limitBytes", strconv.FormatInt(*o.LimitBytes, 10))
	}
	return p
}

// backendError is upstream's GenericHttpResponseChecker: an agent answer
// outside 200–206 becomes a Status carrying the agent's body (500 as an
// internal error, 400 as a bad request, others with their own code).
func backendError(resp *http.Response, gr schema.GroupResource, name string) error {
	if resp.StatusCode >= http.StatusOK && resp.StatusCode <= http.StatusPartialContent {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBackendErrorBody))
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New(string(body)))
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(string(body))
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "", gr, name, string(body), 0, false)
}

// flushWriter flushes after every write, so a followed log reaches the
// client line by line.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		// A writer that cannot flush still gets the bytes; a gone client
		// shows up as the next Write's error.
		_ = f.rc.Flush()
	}
	return n, err
}
