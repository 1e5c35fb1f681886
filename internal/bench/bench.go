// Package bench implements `terminus bench`: small, repeatable benchmarks
// that run against any Kubernetes API server (terminus or a real
// kube-apiserver) using nothing but client-go, so numbers from both are
// directly comparable.
//
// Scenarios:
//
//   - ready: launch a server command and time how long until GET /readyz
//     answers 200 with the credentials from the kubeconfig it writes, then
//     sample its resident memory.
//   - create: create N ConfigMaps with C concurrent workers and report
//     throughput and per-request latency percentiles.
//   - watch-latency: watch ConfigMaps, create N of them, and report the
//     delay from just before each Create until its ADDED event arrives.
//   - finalizer-churn: N ConfigMaps with one finalizer each are deleted and
//     their finalizers removed by C workers; objects/s and the latency
//     from DELETE to the DELETED event.
//   - cascade-background, cascade-foreground, orphan: N ConfigMaps with an
//     ownerReference to an owner ConfigMap are created and a watch has seen
//     them all; then the owner is deleted with propagationPolicy Background,
//     Foreground or Orphan, and the time until the owner and all dependents
//     are gone (orphan: until the owner is gone and every dependent has lost
//     its ownerReference) is reported. Needs a garbage collector.
//   - namespace-delete: a fresh namespace with N ConfigMaps is deleted and
//     the time until it is gone (NotFound) is reported. Needs a namespace
//     controller. --count 0 measures an empty namespace.
//   - crd-ready: create a CRD and time until the first create of its
//     custom resource succeeds (see crdready.go).
//   - pod-start, pod-delete, pod-kill, pods-idle: pods in a fresh
//     namespace per run, which needs nodes (a scheduler and kubelets, or
//     terminus serve's in-process agent); see pods.go. The parts that
//     look at the pods' processes (marks files, pidfds, --pid) only work
//     when the benchmark runs on the node's machine.
//
// The cascade, orphan and namespace-delete runs give up after --timeout and
// still print their line, with the number of objects remaining, instead of
// hanging on a server whose controllers do not finish.
//
// Each run prints one JSON object per line to the output writer, so
// results can be appended to a file and compared with jq.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Scenario names accepted by --scenario.
const (
	ScenarioReady        = "ready"
	ScenarioCreate       = "create"
	ScenarioWatchLatency = "watch-latency"
	// ScenarioFinalizerChurn: delete finalizer-held objects and remove
	// their finalizers concurrently (spec B5, C5).
	ScenarioFinalizerChurn = "finalizer-churn"
	// ScenarioCascadeBackground, ScenarioCascadeForeground and
	// ScenarioOrphan: delete an owner with N dependents with the
	// corresponding propagationPolicy and time the garbage collector.
	ScenarioCascadeBackground = "cascade-background"
	ScenarioCascadeForeground = "cascade-foreground"
	ScenarioOrphan            = "orphan"
	// ScenarioNamespaceDelete: delete a namespace holding N ConfigMaps and
	// time the namespace controller until the namespace is NotFound.
	ScenarioNamespaceDelete = "namespace-delete"
	// ScenarioPodStart, ScenarioPodDelete, ScenarioPodKill and
	// ScenarioPodsIdle measure a node agent (issue 6): create to
	// Running+Ready, delete to gone (and process exit to gone), SIGKILL
	// lateness past the grace period, and idle CPU with N pods running.
	ScenarioPodStart  = "pod-start"
	ScenarioPodDelete = "pod-delete"
	ScenarioPodKill   = "pod-kill"
	ScenarioPodsIdle  = "pods-idle"
	// ScenarioCRDReady: from creating a CRD to the first successful
	// create of its custom resource (issue 8).
	ScenarioCRDReady = "crd-ready"
)

// scenarioList is the --scenario help and error text.
const scenarioList = "ready, create, watch-latency, finalizer-churn, cascade-background, cascade-foreground, orphan, namespace-delete, crd-ready, " +
	"pod-start, pod-delete, pod-kill or pods-idle"

// isCascade reports whether s deletes an owner and waits for its dependents.
func isCascade(s string) bool {
	return s == ScenarioCascadeBackground || s == ScenarioCascadeForeground || s == ScenarioOrphan
}

// Values accepted by --content-type.
const (
	ContentTypeJSON     = "json"
	ContentTypeProtobuf = "protobuf"
)

// Defaults applied when the corresponding option is zero.
const (
	DefaultCreateCount       = 5000
	DefaultWatchCount        = 1000
	DefaultChurnCount        = 2000
	DefaultCascadeCount      = 2000 // dependents, or ConfigMaps for namespace-delete
	DefaultCreateConcurrency = 16
	// Watch latency is measured sequentially by default so that it
	// reflects the event pipeline rather than queueing under load.
	DefaultWatchConcurrency = 1
	DefaultPayloadBytes     = 512
	DefaultReadyTimeout     = 2 * time.Minute
	DefaultIdleSettle       = 2 * time.Second
	// DefaultRunTimeout bounds one run of the scenarios that wait for a
	// server-side controller (cascade-*, orphan, namespace-delete).
	DefaultRunTimeout = 10 * time.Minute
)

// Defaults of the pod scenarios.
const (
	DefaultPodCount = 100 // pod-start, pod-delete, pod-kill
	// DefaultIdlePodCount is issue 6's idle target; note that a kubelet
	// (and terminus's agent) takes 110 pods by default, see podRun.idle.
	DefaultIdlePodCount = 200
	DefaultIdleDuration = 30 * time.Second
	// DefaultKillGrace is pod-kill's terminationGracePeriodSeconds: short,
	// since every run waits it out.
	DefaultKillGrace = 2
)

// Labels put on everything the benchmark creates, so cleanup can find its
// objects (and only its objects) even in a shared namespace.
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedByValue = "terminus-bench"
	labelRun       = "terminus-bench/run"
	namespacePref  = "terminus-bench-"
	userAgent      = "terminus-bench"
	// cleanupTimeout bounds cleanup, which runs on a context detached from
	// the (possibly cancelled) benchmark context so that Ctrl-C still
	// removes what was created.
	cleanupTimeout = 2 * time.Minute
)

// Options configures a benchmark. The zero value of a numeric field means
// "use the scenario's default".
type Options struct {
	// Kubeconfig is the kubeconfig for every scenario but ready. Empty
	// means the usual client-go rules ($KUBECONFIG, then ~/.kube/config).
	Kubeconfig string
	// Scenario is one of the Scenario* constants.
	Scenario string
	// Count is the number of ConfigMaps per run (dependents for cascade-*
	// and orphan, pods for the pod scenarios).
	Count int
	// CountSet records that Count was given explicitly (AddFlags sets it
	// when --count is on the command line), so that namespace-delete takes
	// a zero Count to mean an empty namespace rather than the default.
	CountSet bool
	// Concurrency is the number of concurrent writers.
	Concurrency int
	// Namespace to work in. Empty means create a fresh
	// "terminus-bench-<random>" namespace and delete it at the end.
	// namespace-delete ignores it and always creates its own per run.
	Namespace string
	// Runs repeats the scenario; each run prints its own line.
	Runs int
	// PayloadBytes is the size of each ConfigMap's data value.
	PayloadBytes int
	// ContentType is the wire encoding for create and watch-latency:
	// "json" (default) or "protobuf". JSON is the default because every
	// Kubernetes-compatible server must speak it, whereas client-go
	// v0.37's typed clients would otherwise silently prefer protobuf.
	ContentType string
	// Timeout bounds one run of cascade-*, orphan, namespace-delete and
	// the pod scenarios (their cleanup excepted); a run that times out
	// still prints its line, with what remained.
	Timeout time.Duration

	// Launch is the command line that starts a server (ready scenario).
	// It is split like a shell would split words (quotes and backslashes
	// are honoured, no expansion) and executed directly, so the measured
	// PID is the server itself rather than a wrapper shell. "{tmpdir}" is
	// replaced by a fresh, per-run temporary directory that is removed
	// afterwards, which makes first-start measurements repeatable.
	Launch string
	// LaunchKubeconfig is where the launched command writes its kubeconfig
	// ("{tmpdir}" is substituted as in Launch).
	LaunchKubeconfig string
	// ReadyTimeout bounds the wait for /readyz.
	ReadyTimeout time.Duration
	// IdleSettle is how long after readiness the idle RSS is sampled
	// (ready), or the CPU sampling starts (pods-idle).
	IdleSettle time.Duration

	// PodImage and PodCommand are the container of pod-start and
	// pods-idle. An empty PodImage means registry.k8s.io/pause without
	// PodCommand and busybox with it; PodCommand is split like Launch.
	PodImage   string
	PodCommand string
	// MarksDir is where pod-delete's and pod-kill's programs write their
	// exit times and pids; empty means a temporary directory.
	MarksDir string
	// GracePeriod is pod-kill's terminationGracePeriodSeconds.
	GracePeriod int
	// PID is the process whose CPU pods-idle samples, over Duration.
	PID      int
	Duration time.Duration
}

// AddFlags registers the bench flags on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the server to benchmark (every scenario but ready); default $KUBECONFIG or ~/.kube/config")
	fs.StringVar(&o.Scenario, "scenario", o.Scenario, "benchmark to run: "+scenarioList)
	fs.Var(countValue{o}, "count", fmt.Sprintf("ConfigMaps per run (default %d for create, %d for watch-latency, %d for finalizer-churn; "+
		"cascade-*/orphan: dependents, namespace-delete: ConfigMaps in the namespace, default %d, --count 0 for an empty namespace; "+
		"pod-start, pod-delete, pod-kill: pods, default %d; pods-idle: pods, default %d)",
		DefaultCreateCount, DefaultWatchCount, DefaultChurnCount, DefaultCascadeCount, DefaultPodCount, DefaultIdlePodCount))
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, fmt.Sprintf("concurrent writers (default %d for create and the pod scenarios, %d for watch-latency)", DefaultCreateConcurrency, DefaultWatchConcurrency))
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "existing namespace to use (default: create terminus-bench-<random> and delete it afterwards)")
	fs.IntVar(&o.Runs, "runs", o.Runs, "number of runs; one JSON line is printed per run (default 1)")
	fs.IntVar(&o.PayloadBytes, "payload-bytes", o.PayloadBytes, fmt.Sprintf("bytes of data per ConfigMap (default %d)", DefaultPayloadBytes))
	fs.StringVar(&o.ContentType, "content-type", o.ContentType, "wire encoding for create and watch-latency: json or protobuf (default json)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, fmt.Sprintf("cascade-*, orphan, namespace-delete, pod-*: give up on a run after this long and report what remains (default %s)", DefaultRunTimeout))
	fs.StringVar(&o.Launch, "launch", o.Launch, `ready: command line that starts the server, e.g. "terminus serve --data-dir {tmpdir}"`)
	fs.StringVar(&o.LaunchKubeconfig, "launch-kubeconfig", o.LaunchKubeconfig, "ready: path of the kubeconfig the launched command writes")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", o.ReadyTimeout, fmt.Sprintf("ready: give up if /readyz is not OK within this time (default %s)", DefaultReadyTimeout))
	fs.DurationVar(&o.IdleSettle, "idle-settle", o.IdleSettle, fmt.Sprintf("ready, pods-idle: wait this long after ready before sampling idle RSS or CPU (default %s)", DefaultIdleSettle))
	fs.StringVar(&o.PodImage, "pod-image", o.PodImage, "pod-start, pods-idle: container image (default "+pauseImage+", or "+busyboxImage+" with --pod-command)")
	fs.StringVar(&o.PodCommand, "pod-command", o.PodCommand, `pod-start, pods-idle: container command, split like a shell would, e.g. "sleep 3600" (default: none, the image's own)`)
	fs.StringVar(&o.MarksDir, "marks-dir", o.MarksDir, "pod-delete, pod-kill: directory the pods' programs write exit times and pids to; must be on the pods' machine (default: a temporary directory, removed afterwards)")
	fs.IntVar(&o.GracePeriod, "grace-period", o.GracePeriod, fmt.Sprintf("pod-kill: the pods' terminationGracePeriodSeconds; kubelets (and terminus's agent) raise it to at least 2 (default %d)", DefaultKillGrace))
	fs.IntVar(&o.PID, "pid", o.PID, "pods-idle: process whose CPU time to sample, e.g. the terminus serve process (required; must be on this machine)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, fmt.Sprintf("pods-idle: how long to sample CPU time (default %s)", DefaultIdleDuration))
}

// countValue is the --count flag: an int that also records that it was
// given, so that namespace-delete can tell --count 0 from no --count.
type countValue struct{ o *Options }

func (c countValue) String() string {
	if c.o == nil {
		return "0"
	}
	return strconv.Itoa(c.o.Count)
}

func (c countValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return err
	}
	c.o.Count, c.o.CountSet = int(n), true
	return nil
}

func (countValue) Type() string { return "int" }

// Validate checks the options without touching the network.
func (o *Options) Validate() error {
	var errs []error
	switch o.Scenario {
	case ScenarioReady:
		if o.Launch == "" {
			errs = append(errs, errors.New("--launch is required for the ready scenario"))
		} else if args, err := splitCommandLine(o.Launch); err != nil {
			errs = append(errs, fmt.Errorf("--launch: %w", err))
		} else if len(args) == 0 {
			errs = append(errs, errors.New("--launch is empty"))
		}
		if o.LaunchKubeconfig == "" {
			errs = append(errs, errors.New("--launch-kubeconfig is required for the ready scenario"))
		}
	case ScenarioCreate, ScenarioWatchLatency, ScenarioFinalizerChurn,
		ScenarioCascadeBackground, ScenarioCascadeForeground, ScenarioOrphan, ScenarioNamespaceDelete, ScenarioCRDReady:
		if o.Launch != "" || o.LaunchKubeconfig != "" {
			errs = append(errs, fmt.Errorf("--launch and --launch-kubeconfig only apply to the ready scenario, not %q", o.Scenario))
		}
	case ScenarioPodStart, ScenarioPodDelete, ScenarioPodKill, ScenarioPodsIdle:
		errs = append(errs, o.validatePods()...)
	case "":
		errs = append(errs, errors.New("--scenario is required ("+scenarioList+")"))
	default:
		errs = append(errs, fmt.Errorf("unknown --scenario %q (want %s)", o.Scenario, scenarioList))
	}
	switch o.ContentType {
	case "", ContentTypeJSON, ContentTypeProtobuf:
	default:
		errs = append(errs, fmt.Errorf("unknown --content-type %q (want json or protobuf)", o.ContentType))
	}
	if o.Count < 0 {
		errs = append(errs, fmt.Errorf("--count must be positive, got %d", o.Count))
	}
	if o.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("--concurrency must be positive, got %d", o.Concurrency))
	}
	if o.Runs < 0 {
		errs = append(errs, fmt.Errorf("--runs must be positive, got %d", o.Runs))
	}
	if o.PayloadBytes < 0 {
		errs = append(errs, fmt.Errorf("--payload-bytes must not be negative, got %d", o.PayloadBytes))
	}
	if o.ReadyTimeout < 0 || o.IdleSettle < 0 {
		errs = append(errs, errors.New("--ready-timeout and --idle-settle must not be negative"))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("--timeout must not be negative, got %s", o.Timeout))
	}
	return errors.Join(errs...)
}

// withDefaults returns a copy with zero values replaced by defaults.
func (o Options) withDefaults() Options {
	watch := o.Scenario == ScenarioWatchLatency
	if o.Count == 0 && !(o.CountSet && o.Scenario == ScenarioNamespaceDelete) {
		switch {
		case o.Scenario == ScenarioPodsIdle:
			o.Count = DefaultIdlePodCount
		case isPodScenario(o.Scenario):
			o.Count = DefaultPodCount
		case watch:
			o.Count = DefaultWatchCount
		case o.Scenario == ScenarioFinalizerChurn:
			o.Count = DefaultChurnCount
		case o.Scenario == ScenarioCRDReady:
			o.Count = DefaultCRDCount
		case isCascade(o.Scenario), o.Scenario == ScenarioNamespaceDelete:
			o.Count = DefaultCascadeCount
		default:
			o.Count = DefaultCreateCount
		}
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultCreateConcurrency
		if watch {
			o.Concurrency = DefaultWatchConcurrency
		}
	}
	if o.Runs == 0 {
		o.Runs = 1
	}
	if o.PayloadBytes == 0 {
		o.PayloadBytes = DefaultPayloadBytes
	}
	if o.ContentType == "" {
		o.ContentType = ContentTypeJSON
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.IdleSettle == 0 {
		o.IdleSettle = DefaultIdleSettle
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultRunTimeout
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = DefaultKillGrace
	}
	if o.Duration == 0 {
		o.Duration = DefaultIdleDuration
	}
	return o
}

// Run executes the benchmark described by o and writes one JSON line per
// run to out. It removes what it created even when ctx is cancelled.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	o = o.withDefaults()
	if o.Scenario == ScenarioReady {
		return runReady(ctx, o, out)
	}

	loading := clientcmd.NewDefaultClientConfigLoadingRules()
	loading.ExplicitPath = o.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	proto := &protoRecorder{}
	tuneConfig(cfg, proto, o.ContentType)
	if o.Scenario == ScenarioCRDReady {
		return runCRDReady(ctx, o, out, cfg, target{server: hostOf(cfg), protocol: proto.get})
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return runAPI(ctx, o, out, client, target{server: hostOf(cfg), protocol: proto.get})
}

// tuneConfig prepares a rest.Config for load generation.
func tuneConfig(cfg *rest.Config, proto *protoRecorder, contentType string) {
	// Set explicitly: left empty, client-go v0.37 typed clients switch to
	// protobuf per request, which not every compatible server supports.
	switch contentType {
	case ContentTypeProtobuf:
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	default:
		cfg.ContentType = "application/json"
		cfg.AcceptContentTypes = "application/json"
	}
	// A negative QPS disables client-go's client-side token bucket
	// (default 5 QPS / burst 10), which would otherwise be what we measure.
	cfg.QPS = -1
	cfg.Burst = 0
	cfg.RateLimiter = nil
	cfg.UserAgent = userAgent
	// Requests share one HTTP/2 connection (client-go's transport dials
	// one per host); the negotiated protocol is reported so readers know
	// whether C workers were multiplexed or spread over HTTP/1.1 conns.
	cfg.Wrap(proto.wrap)
}

// target describes the server under test for result lines.
type target struct {
	server   string
	protocol func() string
}

// runAPI runs one of the client-go scenarios against client.
func runAPI(ctx context.Context, o Options, out io.Writer, client kubernetes.Interface, tgt target) (err error) {
	// Fetching the version first fails fast on a wrong kubeconfig and
	// warms the connection so the first Create does not pay for the TLS
	// handshake.
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("get server version from %s: %w", tgt.server, err)
	}

	ns := o.Namespace
	if o.Scenario == ScenarioNamespaceDelete || isPodScenario(o.Scenario) {
		ns = "" // every run creates (and deletes) its own
	} else if ns == "" {
		if ns, err = createNamespace(ctx, client); err != nil {
			return err
		}
		defer func() {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			// Not waiting for the namespace to disappear: servers without a
			// namespace controller would leave it Terminating forever. Our
			// objects are already gone by then (deleted per run).
			derr := client.CoreV1().Namespaces().Delete(cctx, ns, metav1.DeleteOptions{})
			if derr != nil && !apierrors.IsNotFound(derr) {
				err = errors.Join(err, fmt.Errorf("delete namespace %s: %w", ns, derr))
			}
		}()
	}

	payload := makePayload(o.PayloadBytes)
	for run := 1; run <= o.Runs; run++ {
		started := time.Now()
		rc := runConfig{
			client:  client,
			ns:      ns,
			runID:   fmt.Sprintf("%s-%d", randomSuffix(5), run),
			count:   o.Count,
			workers: o.Concurrency,
			payload: payload,
			timeout: o.Timeout,
		}
		var metrics []metric
		var runErr, cleanupErr error
		cleanup := true
		switch o.Scenario {
		case ScenarioCreate:
			metrics, runErr = runCreate(ctx, rc)
		case ScenarioWatchLatency:
			metrics, runErr = runWatchLatency(ctx, rc)
		case ScenarioFinalizerChurn:
			metrics, runErr = runFinalizerChurn(ctx, rc)
		case ScenarioCascadeBackground:
			metrics, runErr = runCascade(ctx, rc, metav1.DeletePropagationBackground)
		case ScenarioCascadeForeground:
			metrics, runErr = runCascade(ctx, rc, metav1.DeletePropagationForeground)
		case ScenarioOrphan:
			metrics, runErr = runCascade(ctx, rc, metav1.DeletePropagationOrphan)
		case ScenarioNamespaceDelete:
			// Cleans up after itself: its namespace is what it deletes.
			metrics, runErr = runNamespaceDelete(ctx, &rc)
			cleanup = false
		case ScenarioPodStart, ScenarioPodDelete, ScenarioPodKill, ScenarioPodsIdle:
			// Cleans up after itself: it deletes its namespace and waits
			// for it (and so for the pods) to be gone before the next run.
			metrics, runErr = runPods(ctx, o, &rc)
			cleanup = false
		}
		if cleanup {
			cleanupErr = rc.cleanup(ctx)
		}
		// A run that timed out waiting for the server still reports how
		// far it got, then ends the benchmark with its error.
		var partial *incompleteError
		if runErr != nil && !errors.As(runErr, &partial) {
			return errors.Join(fmt.Errorf("run %d: %w", run, runErr), cleanupErr)
		}
		if cleanupErr != nil && partial == nil {
			return fmt.Errorf("run %d: %w", run, cleanupErr)
		}
		if tgt.protocol != nil {
			metrics = append(metrics, metric{"protocol", tgt.protocol()})
		}
		res := result{
			Scenario:      o.Scenario,
			Run:           run,
			Server:        tgt.server,
			ServerVersion: v.GitVersion,
			Count:         o.Count,
			Concurrency:   o.Concurrency,
			Metrics:       append(headerMetrics(o, rc.ns), metrics...),
			Time:          started,
		}
		if err := res.write(out); err != nil {
			return err
		}
		if partial != nil {
			return errors.Join(fmt.Errorf("run %d: %w", run, runErr), cleanupErr)
		}
	}
	return nil
}

// createNamespace creates a uniquely named namespace. It deliberately does
// not wait for status.phase=Active: servers without a namespace
// controller may never set it, and creating objects does not need it.
func createNamespace(ctx context.Context, client kubernetes.Interface) (string, error) {
	var lastErr error
	for range 3 { // a name collision is astronomically unlikely; retry anyway
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:   namespacePref + randomSuffix(8),
			Labels: map[string]string{labelManagedBy: managedByValue},
		}}
		created, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if err == nil {
			return created.Name, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("create namespace %s: %w", ns.Name, err)
		}
		lastErr = err
	}
	return "", fmt.Errorf("create namespace: %w", lastErr)
}

// cleanupContext detaches from ctx so cleanup still runs after Ctrl-C.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// hostOf returns the host:port of the server a config points at.
func hostOf(cfg *rest.Config) string {
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return cfg.Host
	}
	return u.Host
}

// protoRecorder remembers the HTTP protocol of the most recent response.
type protoRecorder struct{ last atomic.Pointer[string] }

func (p *protoRecorder) get() string {
	if v := p.last.Load(); v != nil {
		return *v
	}
	return ""
}

func (p *protoRecorder) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err == nil {
			proto := resp.Proto
			p.last.Store(&proto)
		}
		return resp, err
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

const randomAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomSuffix returns n random DNS-label-safe characters.
func randomSuffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = randomAlphabet[rand.IntN(len(randomAlphabet))]
	}
	return string(b)
}

// makePayload returns n random printable bytes. Random rather than
// repeated so that any compression along the way cannot flatter a server.
func makePayload(n int) string { return randomSuffix(n) }
