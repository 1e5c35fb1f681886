package podworker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/agent/process"
)

// This file holds the probe runners and the threshold counting, apart from
// the worker's scheduling (probes.go). They follow upstream
// pkg/kubelet/prober (prober.go, worker.go) and pkg/probe/{exec,http,tcp}.

// probeKind is which probe of a container; String is the word upstream's
// events start with ("Readiness probe failed: ...").
type probeKind int

const (
	readinessProbe probeKind = iota
	livenessProbe
	startupProbe
	probeKinds // how many kinds
)

func (k probeKind) String() string {
	switch k {
	case readinessProbe:
		return "Readiness"
	case livenessProbe:
		return "Liveness"
	case startupProbe:
		return "Startup"
	}
	return "Unknown"
}

// probeOf returns the container's probe of kind k, or nil.
func probeOf(c *corev1.Container, k probeKind) *corev1.Probe {
	switch k {
	case readinessProbe:
		return c.ReadinessProbe
	case livenessProbe:
		return c.LivenessProbe
	case startupProbe:
		return c.StartupProbe
	}
	return nil
}

// probeOutcome is one probe run's result (upstream probe.Result).
type probeOutcome int

const (
	probeUnknown probeOutcome = iota
	probeSuccess
	// probeWarning counts as a success but records a ProbeWarning event:
	// an httpGet redirect to another host that was not followed.
	probeWarning
	probeFailure
)

// Event reasons of the prober (upstream pkg/kubelet/events).
const (
	reasonUnhealthy    = "Unhealthy"
	reasonProbeWarning = "ProbeWarning"
)

// Upstream's probe defaults (SetDefaults_Probe), for a pod object that
// was not defaulted by an API server.
const (
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultFailureThreshold = 3
	defaultSuccessThreshold = 1
)

// probeUserAgent is what kubelet sends on httpGet probes: "kube-probe/"
// and its major.minor version (pkg/probe/http/request.go).
const probeUserAgent = "kube-probe/1.37"

// maxProbeBody is how much of an httpGet probe's response body is read
// (pkg/probe/http maxRespBodyLength, 10 KiB).
const maxProbeBody = 10 << 10

// maxProbeRedirects bounds the same-host redirects an httpGet probe
// follows (pkg/probe/http redirectChecker: 10, as net/http).
const maxProbeRedirects = 10

// probeParams is a probe's timing with upstream's defaults filled in.
type probeParams struct {
	initialDelay, period, timeout time.Duration
	successThreshold              int
	failureThreshold              int
}

func paramsOf(p *corev1.Probe) probeParams {
	orDefault := func(v, d int32) int32 {
		if v <= 0 {
			return d
		}
		return v
	}
	return probeParams{
		initialDelay:     time.Duration(max(p.InitialDelaySeconds, 0)) * time.Second,
		period:           time.Duration(orDefault(p.PeriodSeconds, defaultPeriodSeconds)) * time.Second,
		timeout:          time.Duration(orDefault(p.TimeoutSeconds, defaultTimeoutSeconds)) * time.Second,
		successThreshold: int(orDefault(p.SuccessThreshold, defaultSuccessThreshold)),
		failureThreshold: int(orDefault(p.FailureThreshold, defaultFailureThreshold)),
	}
}

// probeRun is how one probe run ended: an outcome with the output shown
// in events, or an error (the probe could not be run at all), which
// upstream throws away rather than count (prober worker.go doProbe).
type probeRun struct {
	outcome probeOutcome
	output  string
	err     error
}

// prober runs probe handlers against a container of this node.
type prober struct {
	runtime Runtime
	client  *http.Client
}

// newProber returns a prober whose httpGet client is set up as upstream's
// (pkg/probe/http New): no keep-alives (each probe opens a connection, so
// a server that stopped accepting fails), no proxy, certificates not
// verified, and redirects followed only on the same host.
func newProber(rt Runtime) *prober {
	tr := &http.Transport{
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil,
		//nolint:gosec // kubelet's probes do not verify the container's certificate either
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	client := &http.Client{Transport: tr, CheckRedirect: sameHostRedirects}
	return &prober{runtime: rt, client: client}
}

// sameHostRedirects is upstream's redirectChecker(false): a redirect to
// another host is not followed; its 3xx response is the result (a
// warning).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxProbeRedirects {
		return fmt.Errorf("stopped after %d redirects", maxProbeRedirects)
	}
	return nil
}

// errGRPCUnsupported: this agent has no gRPC health client.
var errGRPCUnsupported = errors.New("gRPC probes are not supported by this node agent")

// run runs probe p of container c (cont is its running process) with
// podIP as the default host, bounded by the probe's timeout.
func (pr *prober) run(ctx context.Context, p *corev1.Probe, c *corev1.Container, cont *process.Container, podIP string) probeRun {
	timeout := paramsOf(p).timeout
	switch {
	case p.Exec != nil:
		return pr.exec(ctx, p.Exec, c, cont, timeout)
	case p.HTTPGet != nil:
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return pr.httpGet(ctx, p.HTTPGet, c, podIP)
	case p.TCPSocket != nil:
		return tcpProbe(ctx, p.TCPSocket, c, podIP, timeout)
	case p.GRPC != nil:
		return probeRun{err: errGRPCUnsupported}
	}
	return probeRun{err: errors.New("probe has no handler")}
}

// exec runs an exec probe in the container's environment: exit 0
// succeeds, another code fails with the output as the message, a timeout
// fails with upstream's "command ... timed out" (pkg/probe/exec, with
// ExecProbeTimeout on as it is by default). The command's $(VAR) are
// expanded from the container's literal env only
// (ExpandContainerCommandOnlyStatic).
func (pr *prober) exec(ctx context.Context, e *corev1.ExecAction, c *corev1.Container, cont *process.Container, timeout time.Duration) probeRun {
	cmd := expandAll(e.Command, staticEnv(c))
	res, err := pr.runtime.Exec(ctx, cont, process.ExecSpec{Command: cmd, Timeout: timeout, OutputLimit: process.DefaultExecOutputLimit})
	switch {
	case errors.Is(err, process.ErrExecTimeout):
		return probeRun{outcome: probeFailure, output: fmt.Sprintf("command %q timed out", strings.Join(cmd, " "))}
	case err != nil:
		return probeRun{err: fmt.Errorf("exec probe: %w", err)}
	case res.ExitCode != 0:
		return probeRun{outcome: probeFailure, output: string(res.Output)}
	}
	return probeRun{outcome: probeSuccess, output: string(res.Output)}
}

// staticEnv looks up the container's env entries that have a literal
// value.
func staticEnv(c *corev1.Container) func(string) (string, bool) {
	m := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			m[e.Name] = e.Value
		}
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// httpGet runs an httpGet probe: 200 <= code < 400 succeeds, a 3xx that
// was not followed is a warning, any other code fails with "HTTP probe
// failed with statuscode: N", and a transport error fails with its text
// (pkg/probe/http DoHTTPProbe).
func (pr *prober) httpGet(ctx context.Context, g *corev1.HTTPGetAction, c *corev1.Container, podIP string) probeRun {
	req, err := newHTTPGetRequest(ctx, g, c, podIP, probeUserAgent)
	if err != nil {
		return probeRun{err: fmt.Errorf("httpGet probe: %w", err)}
	}
	resp, err := pr.client.Do(req)
	if err != nil {
		return probeRun{outcome: probeFailure, output: err.Error()}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	if err != nil {
		return probeRun{outcome: probeFailure, output: err.Error()}
	}
	switch {
	case resp.StatusCode >= http.StatusMultipleChoices && resp.StatusCode < http.StatusBadRequest:
		return probeRun{outcome: probeWarning, output: fmt.Sprintf("Probe terminated redirects, Response body: %s", body)}
	case resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest:
		return probeRun{outcome: probeSuccess, output: string(body)}
	}
	return probeRun{outcome: probeFailure, output: fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)}
}

// newHTTPGetRequest builds the request of an httpGet probe or hook as
// upstream's NewRequestForHTTPGetAction: host defaults to the pod IP,
// port by number or container port name, path defaults to "/", the
// action's headers (a Host header sets the request's host), and a
// User-Agent and Accept unless the action sets them.
func newHTTPGetRequest(ctx context.Context, g *corev1.HTTPGetAction, c *corev1.Container, podIP, userAgent string) (*http.Request, error) {
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return nil, err
	}
	host := g.Host
	if host == "" {
		host = podIP
	}
	scheme := "http"
	if strings.EqualFold(string(g.Scheme), string(corev1.URISchemeHTTPS)) {
		scheme = "https"
	}
	path, query, _ := strings.Cut(g.Path, "?")
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: path, RawQuery: query}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	set := map[string]bool{}
	for _, h := range g.HTTPHeaders {
		name := http.CanonicalHeaderKey(h.Name)
		if name == "Host" {
			req.Host = h.Value
			continue
		}
		if !set[name] { // the action's headers replace the defaults
			req.Header.Del(name)
			set[name] = true
		}
		req.Header.Add(name, h.Value)
	}
	return req, nil
}

// tcpProbe dials the port: connecting succeeds, an error fails with its
// text (pkg/probe/tcp).
func tcpProbe(ctx context.Context, t *corev1.TCPSocketAction, c *corev1.Container, podIP string, timeout time.Duration) probeRun {
	port, err := resolvePort(t.Port, c)
	if err != nil {
		return probeRun{err: fmt.Errorf("tcpSocket probe: %w", err)}
	}
	host := t.Host
	if host == "" {
		host = podIP
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return probeRun{outcome: probeFailure, output: err.Error()}
	}
	_ = conn.Close()
	return probeRun{outcome: probeSuccess}
}

// probeCounter turns runs into a result with the thresholds, as upstream's
// prober worker (worker.go doProbe): the result changes only after
// successThreshold successes or failureThreshold failures in a row.
type probeCounter struct {
	last probeOutcome // probeSuccess or probeFailure of the current run
	run  int
}

// observe counts one run (a warning counts as a success) and returns the
// new result and true once the run of equal outcomes reaches its
// threshold; false leaves the result unchanged.
func (pc *probeCounter) observe(o probeOutcome, p probeParams) (probeOutcome, bool) {
	if o == probeWarning {
		o = probeSuccess
	}
	if o != probeSuccess && o != probeFailure {
		return probeUnknown, false
	}
	if o == pc.last {
		pc.run++
	} else {
		pc.last, pc.run = o, 1
	}
	if (o == probeFailure && pc.run < p.failureThreshold) || (o == probeSuccess && pc.run < p.successThreshold) {
		return probeUnknown, false
	}
	return o, true
}

// reset starts counting afresh (upstream resets the run after a liveness
// or startup failure, when the container is put on hold).
func (pc *probeCounter) reset() { *pc = probeCounter{} }
