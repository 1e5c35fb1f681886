package apiserver

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/terminus-project/terminus/internal/registry"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// connectPod serves pods/exec, pods/attach and pods/portforward (GET and
// POST) as kube-apiserver's ExecREST, AttachREST and PortForwardREST do:
// the options are read from the query, the pod, its container and its node
// are checked (404 for a missing pod, 400 for a bad container or a pod
// without a node), and the request, which must ask for a connection
// upgrade (SPDY/3.1 or WebSocket), is proxied to the agent's
// /exec/{ns}/{pod}/{container}, /attach/... or /portForward/{ns}/{pod}. The
// upgrade is passed through unchanged, so the agent speaks the streaming
// protocols itself, as a kubelet that declares ExtendWebSocketsToKubelet
// does (kube-apiserver would otherwise translate WebSocket v5 to SPDY).
func (h *resourceHandler) connectPod(w http.ResponseWriter, r *http.Request) {
	if isDryRunRequest(r) {
		h.s.writeError(w, r, apierrors.NewBadRequest("dryRun is not supported"))
		return
	}
	q := r.URL.Query()
	var (
		container string
		params    url.Values
		err       error
	)
	switch h.info.subresource {
	case "exec":
		var o *corev1.PodExecOptions
		if o, err = podExecOptions(q); err == nil {
			container, params = o.Container, streamParams(o.Stdin, o.Stdout, o.Stderr, o.TTY, o.Command)
		}
	case "attach":
		var o *corev1.PodAttachOptions
		if o, err = podAttachOptions(q); err == nil {
			container, params = o.Container, streamParams(o.Stdin, o.Stdout, o.Stderr, o.TTY, nil)
		}
	case "portforward":
		var o *corev1.PodPortForwardOptions
		if o, err = podPortForwardOptions(q); err == nil {
			params = url.Values{}
			if len(o.Ports) > 0 {
				ports := make([]string, len(o.Ports))
				for i, p := range o.Ports {
					ports[i] = fmt.Sprint(p)
				}
				params.Add(corev1.PortHeader, strings.Join(ports, ","))
			}
		}
	}
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	obj, err := h.store.Get(r.Context(), h.info.namespace, h.info.name, "")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	pod := obj.(*corev1.Pod)
	path := fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	if h.info.subresource != "portforward" {
		if container, err = registry.PodContainer(pod, container); err != nil {
			h.s.writeError(w, r, err)
			return
		}
		path = fmt.Sprintf("/%s/%s/%s/%s", h.info.subresource, pod.Namespace, pod.Name, container)
	}
	if pod.Spec.NodeName == "" {
		h.s.writeError(w, r, registry.NoHostAssigned(h.info.name))
		return
	}
	ep, err := h.s.kubeletEndpointFor(r.Context(), h.res.GroupResource(), pod.Spec.NodeName)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	loc := &url.URL{Scheme: "https", Host: ep.hostPort(), Path: path, RawQuery: params.Encode()}
	h.s.proxy(w, r, loc, h.s.cfg.Kubelet.Transport, true)
}

// proxyNode serves nodes/{name}/proxy[/{path}] as kube-apiserver's node
// ProxyREST does: the name may carry a scheme and port
// ([scheme:]name[:port]); the agent's host must be a global unicast
// address (upstream's isProxyableHostname, 400 "address not allowed"
// otherwise, so the proxy cannot reach the server's own loopback); the
// kubelet port goes over the agent transport, another port over the same
// transport with the requested scheme. Any method is forwarded, upgrades
// included.
func (h *resourceHandler) proxyNode(w http.ResponseWriter, r *http.Request, subpath string) {
	if isDryRunRequest(r) {
		h.s.writeError(w, r, apierrors.NewBadRequest("dryRun is not supported"))
		return
	}
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(h.info.name)
	if !ok {
		h.s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid node request %q", h.info.name)))
		return
	}
	ep, err := h.s.kubeletEndpointFor(r.Context(), h.res.GroupResource(), name)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.s.cfg.Kubelet.proxyableHost(r.Context(), ep.host); err != nil {
		h.s.writeError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	loc := &url.URL{Scheme: "https", Host: ep.hostPort()}
	if port != "" && port != ep.port {
		if scheme == "" {
			scheme = "http"
		}
		loc = &url.URL{Scheme: scheme, Host: (kubeletEndpoint{host: ep.host, port: port}).hostPort()}
	}
	loc.Path = utilnet.JoinPreservingTrailingSlash(loc.Path, subpath)
	if loc.Path == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isUpgrade(r) {
		// Upstream redirects the bare proxy path to its directory form
		// (issue 4958), so relative links on the agent's pages work.
		target := r.URL.Path + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	h.s.proxy(w, r, loc, h.s.cfg.Kubelet.Transport, false)
}

// proxySubpath is the path under a proxy subresource, as upstream's
// connect handler derives it: "" for .../proxy, "/" for .../proxy/, and
// "/a/b" for .../proxy/a/b.
func proxySubpath(r *http.Request, subresource string) string {
	_, rest, _ := strings.Cut(subresource, "/")
	p := rest
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if strings.HasSuffix(r.URL.Path, "/") && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// upgradeResponseError is a backend answer to an upgrade request that
// neither upgraded nor failed.
type upgradeResponseError struct{ code int }

func (e upgradeResponseError) Error() string {
	return fmt.Sprintf("invalid upgrade response: status code %d", e.code)
}

// proxy forwards r to target with transport, as upstream's
// UpgradeAwareHandler does, on httputil.ReverseProxy (which hijacks both
// connections and copies bytes both ways after a 101 Switching Protocols):
//   - upgradeRequired (exec, attach, portforward): a request without an
//     upgrade is 400 "Upgrade request required";
//   - an upgrade goes to the target as it is; a plain request also carries
//     the client's query (nodes/proxy);
//   - the client's credentials are not forwarded: the Authorization
//     header authenticated the client to this server (upstream's
//     authentication filter removes it);
//   - a backend that cannot be reached is upstream's reasonless 500 ("error
//     dialing backend: ..." for an upgrade); a backend's own error answer
//     is passed through; an upgrade answered with neither 101 nor an error
//     is 500 "invalid upgrade response: status code N".
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, target *url.URL, transport http.RoundTripper, upgradeRequired bool) {
	upgrade := isUpgrade(r)
	if upgradeRequired && !upgrade {
		s.writeError(w, r, apierrors.NewBadRequest("Upgrade request required"))
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			if !upgrade {
				u.RawQuery = pr.In.URL.RawQuery
			}
			pr.Out.URL = &u
			pr.Out.Host = u.Host
			pr.Out.Header.Del("Authorization")
			pr.SetXForwarded()
		},
		Transport:     transport,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if upgrade && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode < 400 {
				return upgradeResponseError{code: resp.StatusCode}
			}
			return nil
		},
		// The handler is given the outgoing request; the Status answers
		// (and is logged for) the client's.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			var bad upgradeResponseError
			if upgrade && !errors.As(err, &bad) {
				err = fmt.Errorf("error dialing backend: %w", err)
			}
			s.writeError(w, r, reasonless(err))
		},
		ErrorLog: log.New(slogWriter{s.log}, "", 0),
	}
	rp.ServeHTTP(w, r)
}

// isUpgrade reports a connection upgrade request (SPDY or WebSocket), as
// upstream's httpstream.IsUpgradeRequest: a Connection header naming
// Upgrade.
func isUpgrade(r *http.Request) bool {
	for _, h := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(h, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

func isDryRunRequest(r *http.Request) bool {
	return len(r.URL.Query()["dryRun"]) > 0
}

// slogWriter sends the reverse proxy's own log lines to the server's
// logger at debug level (they report client disconnects mid-stream).
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("proxy", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}
