package podworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/agent/containergc"
	"github.com/terminus-project/terminus/internal/agent/process"
)

// Runtime is what the workers need of the container runtime; a
// *process.Runtime has it.
type Runtime interface {
	Start(ctx context.Context, spec process.Spec) (*process.Container, error)
	Open(dir string) (*process.Container, error)
	Exec(ctx context.Context, c *process.Container, spec process.ExecSpec) (process.ExecResult, error)
}

// Config holds the agent's dependencies.
type Config struct {
	// Client reads pods, nodes, ConfigMaps and Secrets, writes pod status,
	// deletes pods (G8) and records events. Required.
	Client kubernetes.Interface
	// NodeName is the node whose pods this agent runs. Required.
	NodeName string
	// Runtime starts and re-attaches containers. Required.
	Runtime Runtime
	// RootDir holds pods/<uid>/. Required.
	RootDir string
	// Clock drives back-off, grace deadlines, status times and events.
	// Default: the real clock.
	Clock clock.Clock
	// Logger receives the logs. Default: discard.
	Logger *slog.Logger
	// Recorder records the pods' events. Nil: Run records to the API
	// through a broadcaster on Clock, with source component "kubelet".
	Recorder record.EventRecorder
	// Registerer receives terminus_podworker_* metrics. Nil: none.
	Registerer prometheus.Registerer
	// NodeIP is the node's InternalIP, every pod's IP (they use the host's
	// network). Empty: looked up from the Node.
	NodeIP string
	// Images is the local image store. Nil: none, every image is absent.
	Images ImageStore
	// PullImages pulls images by imagePullPolicy, as the kubelet does
	// (Pulling, Pulled, ErrImagePull, ImagePullBackOff). Off, an image
	// the store lacks is not pulled: the container's command runs on the
	// host, or the stand-in (issue 6's rule for machines without a
	// registry).
	PullImages bool
	// ContainerGC is the container GC policy (H2). Nil: the kubelet's
	// defaults (containergc.DefaultPolicy).
	ContainerGC *containergc.Policy
	// ContainerGCPeriod is the time between container GC passes (H1).
	// Zero: a minute; negative: no periodic passes (H4's clean-up on a
	// container's death still runs).
	ContainerGCPeriod time.Duration
	// HTTPClient runs httpGet preStop hooks. Default: a plain client.
	HTTPClient *http.Client
}

// Agent runs the pods of one node.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	clock   clock.Clock
	http    *http.Client
	prober  *prober
	metrics *metrics

	mu       sync.Mutex
	recorder record.EventRecorder
	ctx      context.Context // Run's; set before the informer starts
	workers  map[types.UID]*worker
	// finished holds the uids whose worker ended while the API still
	// had the pod (the final DELETE is under way), so a late update does
	// not start the pod again; a deletion event forgets it.
	finished map[types.UID]bool
	wg       sync.WaitGroup
	hostIP   string
	started  bool
}

// New checks cfg and returns an Agent; it starts nothing.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.NodeName == "" || cfg.Runtime == nil || cfg.RootDir == "" {
		return nil, errors.New("podworker: Client, NodeName, Runtime and RootDir are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	m := newMetrics()
	if err := m.register(cfg.Registerer); err != nil {
		return nil, err
	}
	return &Agent{
		cfg: cfg, log: cfg.Logger.With("component", "podworker", "node", cfg.NodeName),
		clock: cfg.Clock, http: cfg.HTTPClient, prober: newProber(cfg.Runtime), metrics: m,
		recorder: cfg.Recorder,
		workers:  map[types.UID]*worker{}, finished: map[types.UID]bool{},
	}, nil
}

func (a *Agent) podsDir() string { return filepath.Join(a.cfg.RootDir, "pods") }

func (a *Agent) podDir(uid types.UID) string { return filepath.Join(a.podsDir(), string(uid)) }

// Run runs the node's pods until ctx ends, then stops every worker
// goroutine and returns nil. Containers keep running (their shims outlive
// the agent); the next Run finds them again. It may be called once.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return errors.New("podworker: Run called twice")
	}
	a.started = true
	a.ctx = ctx
	a.mu.Unlock()
	defer a.metrics.unregister(a.cfg.Registerer)

	if err := os.MkdirAll(a.podsDir(), 0o750); err != nil {
		return fmt.Errorf("podworker: %w", err)
	}
	if a.recorder == nil {
		b := record.NewBroadcasterWithCorrelatorOptions(record.CorrelatorOptions{Clock: a.clock})
		defer b.Shutdown()
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.cfg.Client.CoreV1().Events("")})
		a.mu.Lock()
		a.recorder = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName})
		a.mu.Unlock()
	}

	factory := informers.NewSharedInformerFactoryWithOptions(a.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.podChanged(o, false) },
		UpdateFunc: func(_, o any) { a.podChanged(o, false) },
		DeleteFunc: func(o any) { a.podChanged(o, true) },
	})
	if err != nil {
		return fmt.Errorf("podworker: %w", err)
	}
	factory.Start(ctx.Done())
	defer func() {
		_ = inf.RemoveEventHandler(reg)
		factory.Shutdown()
		a.wg.Wait()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil // ctx ended
	}
	a.adoptOrphans(ctx)
	if a.cfg.ContainerGCPeriod >= 0 {
		a.wg.Go(func() { a.runContainerGC(ctx) })
	}
	<-ctx.Done()
	return nil
}

// adoptOrphans starts a worker for every pod directory whose pod the
// API no longer has: it was deleted (force deleted, G9) while the agent
// was down, so its processes are killed and the directory removed.
func (a *Agent) adoptOrphans(ctx context.Context) {
	entries, err := os.ReadDir(a.podsDir())
	if err != nil {
		a.log.Error("list pod directories", "error", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		uid := types.UID(e.Name())
		a.mu.Lock()
		_, known := a.workers[uid]
		a.mu.Unlock()
		if known {
			continue
		}
		st, err := loadState(a.podDir(uid))
		if err != nil || st == nil || st.Pod == nil {
			a.log.Warn("pod directory without state, removing", "uid", uid, "error", err)
			_ = os.RemoveAll(a.podDir(uid))
			continue
		}
		a.log.Info("pod deleted while the agent was down, stopping it", "pod", klogKey(st.Pod), "uid", uid)
		a.dispatch(ctx, st.Pod, true)
	}
}

func (a *Agent) podChanged(o any, removed bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	ctx := a.ctx
	a.mu.Unlock()
	a.dispatch(ctx, pod, removed)
}

// dispatch hands the pod's latest state to its worker, starting one if
// needed (pod_workers.go UpdatePod).
func (a *Agent) dispatch(ctx context.Context, pod *corev1.Pod, removed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	uid := pod.UID
	if a.finished[uid] {
		if removed {
			delete(a.finished, uid)
		}
		return
	}
	w := a.workers[uid]
	if w == nil {
		dir := a.podDir(uid)
		if _, err := os.Stat(dir); err != nil {
			// Never ran here: nothing to stop for a removed or terminal pod.
			if removed || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				return
			}
		}
		w = newWorker(a, uid, dir)
		a.workers[uid] = w
		a.metrics.pods.Inc()
		a.wg.Go(func() {
			gone := w.run(ctx)
			a.mu.Lock()
			delete(a.workers, uid)
			if gone && !w.removed() {
				a.finished[uid] = true
			}
			a.mu.Unlock()
			a.metrics.pods.Dec()
		})
	}
	w.update(pod, removed)
}

func (a *Agent) events() record.EventRecorder {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.recorder
}

// nodeIP is the node's InternalIP (else its first address), the IP of
// every pod of this agent, which all use the host's network; 127.0.0.1
// until the Node has one.
func (a *Agent) nodeIP(ctx context.Context) string {
	if a.cfg.NodeIP != "" {
		return a.cfg.NodeIP
	}
	a.mu.Lock()
	ip := a.hostIP
	a.mu.Unlock()
	if ip != "" {
		return ip
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	node, err := a.cfg.Client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return "127.0.0.1"
	}
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, addr := range node.Status.Addresses {
			if addr.Type == t && ip == "" {
				ip = addr.Address
			}
		}
	}
	if ip == "" {
		return "127.0.0.1"
	}
	a.mu.Lock()
	a.hostIP = ip
	a.mu.Unlock()
	return ip
}

func klogKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
