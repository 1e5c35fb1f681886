// Package kubeletapi is the node agent's kubelet API: the HTTPS endpoint the
// API server proxies pods/log, pods/exec, pods/attach and pods/portforward
// (and nodes/proxy) to, with the kubelet's paths, query parameters, error
// texts and streaming protocols, so the API server can treat an agent
// exactly as kube-apiserver treats a kubelet and kubectl works unchanged.
//
// Paths (as the kubelet's server.go):
//
//	/healthz                                       "ok"
//	/pods                                          the agent's pods, a v1 PodList
//	/containerLogs/{ns}/{pod}/{container}          follow, previous, timestamps, tailLines,
//	                                               sinceSeconds, sinceTime, limitBytes
//	/exec/{ns}/{pod}/{container}?command=..        remotecommand (see below)
//	/attach/{ns}/{pod}/{container}                 remotecommand
//	/portForward/{ns}/{pod}?port=..                port forwarding
//
// Streaming protocols. The API server passes connection upgrades straight
// through, so the agent speaks every protocol a client may ask kube-apiserver
// for, not only what a kubelet's CRI streaming server speaks (upstream
// kube-apiserver translates WebSocket to SPDY before the kubelet; we do not):
//
//   - remotecommand over WebSocket: v5.channel.k8s.io (half-close of stdin),
//     v4.channel.k8s.io and the base64 variants, and the legacy
//     channel.k8s.io; kubectl 1.30+ tries WebSocket first.
//   - remotecommand over SPDY/3.1: v4.channel.k8s.io, v3 (resize), v2 and
//     channel.k8s.io, one SPDY stream per stdin/stdout/stderr/error/resize
//     as the CRI streaming server's remotecommand/httpstream.go; v4
//     reports the result as a Status (a non-zero exit code as
//     NonZeroExitCode with an ExitCode cause), older ones as plain text.
//   - port forwarding over WebSocket: v4.channel.k8s.io's port-forward
//     framing (a data and an error channel per ?port=, each opened with
//     the port as two little-endian bytes).
//   - port forwarding over SPDY/3.1: portforward.k8s.io, a data and an
//     error stream per forwarded connection, paired by their requestID
//     header, the port in their port header.
//
// SPDY comes from k8s.io/streaming (the upgrade, github.com/moby/spdystream's
// framing and flow control); this package collects and interprets the
// streams. Port forwarding tunneled as SPDY inside a WebSocket
// (SPDY/3.1+portforward.k8s.io, which kubectl 1.31+ tries first and
// falls back from) is not served.
//
// Authentication is the kubelet's with --client-ca-file and anonymous auth
// off: a client certificate verified against the cluster CA is required,
// unless a bearer-token authenticator is configured, in which case either
// suffices. There is no authorization: the only client is the API server,
// which has already authorized the request.
//
// What runs in a container (logs, exec, attach, forwarded connections) is
// behind the Pods interface the agent implements; this package owns the
// wire: paths, validation, upstream error texts, and the protocols.
package kubeletapi
