// Package node is the node agent's presence in the API, as the kubelet
// keeps it: it registers the Node (capacity from the machine, addresses,
// the kubelet endpoint, system info, the well-known labels), reports its
// conditions (Ready, MemoryPressure, DiskPressure, PIDPressure), and renews
// its Lease in kube-node-lease. When the agent stops, nothing here writes:
// the server's node-lifecycle controller notices the Lease expire and marks
// the node Unknown, as upstream.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// The kubelet's defaults (KubeletConfiguration).
const (
	DefaultStatusUpdateFrequency = 10 * time.Second
	DefaultStatusReportFrequency = 5 * time.Minute
	DefaultLeaseDuration         = 40 * time.Second
	// LeaseNamespace holds one Lease per node.
	LeaseNamespace = "kube-node-lease"
	// DefaultPort is the kubelet API port (--port).
	DefaultPort = 10250
)

// Config configures an Agent's node registration.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	// Addresses are reported in status.addresses; the API server reaches
	// the agent's kubelet API on the first of them it prefers.
	Addresses []corev1.NodeAddress
	// Port is the agent's kubelet API port (daemonEndpoints). Default
	// DefaultPort.
	Port    int32
	Machine Machine
	// Labels are added to the well-known ones (--node-labels).
	Labels map[string]string
	// Taints are registered with the Node (--register-with-taints).
	Taints []corev1.Taint
	// KubeletVersion and RuntimeVersion fill status.nodeInfo.
	KubeletVersion, RuntimeVersion string
	// Healthy, if set, is asked before every status report: an error
	// makes the node NotReady with the error as message (the kubelet's
	// runtime and network readiness).
	Healthy func() error
	// Images, if set, lists the node's images for status.images; the
	// kubelet's rules (largest first, at most 50, 5 names each) are
	// applied here.
	Images func() ([]Image, error)
	// Frequencies; zero means the kubelet's default.
	StatusUpdateFrequency, StatusReportFrequency, LeaseDuration time.Duration
	Clock                                                       clock.WithTicker
	Logger                                                      *slog.Logger
}

// Agent registers and keeps one Node alive.
type Agent struct {
	cfg Config
	log *slog.Logger
	clk clock.WithTicker

	// Owned by Run's goroutine.
	node       *corev1.Node
	lastReport time.Time
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.NodeName == "" {
		return nil, errors.New("node agent: Client and NodeName are required")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.StatusUpdateFrequency <= 0 {
		cfg.StatusUpdateFrequency = DefaultStatusUpdateFrequency
	}
	if cfg.StatusReportFrequency <= 0 {
		cfg.StatusReportFrequency = DefaultStatusReportFrequency
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Agent{cfg: cfg, log: cfg.Logger, clk: cfg.Clock}, nil
}

// Run registers the node (retrying until it succeeds), then reports
// status and renews the lease until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.registerWithRetry(ctx); err != nil {
		return err
	}
	// The kubelet renews at a quarter of the lease duration.
	leaseTicker := a.clk.NewTicker(a.cfg.LeaseDuration / 4)
	defer leaseTicker.Stop()
	statusTicker := a.clk.NewTicker(a.cfg.StatusUpdateFrequency)
	defer statusTicker.Stop()
	a.renewLease(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-leaseTicker.C():
			a.renewLease(ctx)
		case <-statusTicker.C():
			if err := a.updateStatus(ctx, false); err != nil && ctx.Err() == nil {
				a.log.Warn("updating node status", "node", a.cfg.NodeName, "err", err)
			}
		}
	}
}

// registerWithRetry backs off as the kubelet does (100 ms doubling to 7 s).
func (a *Agent) registerWithRetry(ctx context.Context) error {
	delay := 100 * time.Millisecond
	for {
		err := a.register(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("registering node", "node", a.cfg.NodeName, "err", err, "retry", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-a.clk.After(delay):
		}
		delay = min(2*delay, 7*time.Second)
	}
}

// register creates the Node, or adopts an existing one of the same name
// (an agent restart) and brings its labels and status up to date.
func (a *Agent) register(ctx context.Context) error {
	want := a.initialNode()
	created, err := a.cfg.Client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	switch {
	case err == nil:
		a.node = created
		a.log.Info("registered node", "node", a.cfg.NodeName)
		// Create ignores nothing of status for nodes, but the report
		// below also stamps the heartbeat.
		return a.updateStatus(ctx, true)
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("creating node: %w", err)
	}
	existing, err := a.cfg.Client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting existing node: %w", err)
	}
	if missing := missingLabels(existing.Labels, want.Labels); len(missing) > 0 {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": missing}})
		if existing, err = a.cfg.Client.CoreV1().Nodes().Patch(ctx, a.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("updating node labels: %w", err)
		}
	}
	a.node = existing
	a.log.Info("node already registered, taking it over", "node", a.cfg.NodeName)
	return a.updateStatus(ctx, true)
}

func missingLabels(have, want map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range want {
		if have[k] != v {
			out[k] = v
		}
	}
	return out
}

func (a *Agent) initialNode() *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:      a.cfg.NodeName,
		corev1.LabelOSStable:      a.cfg.Machine.Info.OperatingSystem,
		corev1.LabelArchStable:    a.cfg.Machine.Info.Architecture,
		"beta.kubernetes.io/os":   a.cfg.Machine.Info.OperatingSystem,
		"beta.kubernetes.io/arch": a.cfg.Machine.Info.Architecture,
	}
	maps.Copy(labels, a.cfg.Labels)
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels,
			Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
		Spec: corev1.NodeSpec{Taints: a.cfg.Taints},
	}
	n.Status = a.status(nil, a.clk.Now())
	return n
}

// status is the node status as of now, carrying over the transition
// times of conditions that did not change.
func (a *Agent) status(prev *corev1.NodeStatus, now time.Time) corev1.NodeStatus {
	info := a.cfg.Machine.Info
	info.KubeletVersion = a.cfg.KubeletVersion
	info.ContainerRuntimeVersion = a.cfg.RuntimeVersion
	st := corev1.NodeStatus{
		Capacity:        a.cfg.Machine.Capacity.DeepCopy(),
		Allocatable:     a.cfg.Machine.Allocatable.DeepCopy(),
		Addresses:       a.cfg.Addresses,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: a.cfg.Port}},
		NodeInfo:        info,
	}
	if prev != nil {
		st.Images = prev.Images
	}
	if a.cfg.Images != nil {
		if list, err := a.cfg.Images(); err != nil {
			a.log.Warn("list images", "error", err) // keep the last list
		} else {
			st.Images = statusImages(list)
		}
	}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", Message: "kubelet is posting ready status"}
	if a.cfg.Healthy != nil {
		if err := a.cfg.Healthy(); err != nil {
			ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "KubeletNotReady", err.Error()
		}
	}
	// The kubelet's condition texts (pkg/kubelet/nodestatus/setters.go).
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		ready,
	}
	stamp := metav1.NewTime(now.Truncate(time.Second))
	for i := range conds {
		c := &conds[i]
		c.LastHeartbeatTime, c.LastTransitionTime = stamp, stamp
		if prev == nil {
			continue
		}
		for _, p := range prev.Conditions {
			if p.Type == c.Type && p.Status == c.Status {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	st.Conditions = conds
	return st
}

// updateStatus reports the node status when it changed, or when the
// report frequency has passed since the last report (the heartbeat in
// the Ready condition), as the kubelet's tryUpdateNodeStatus does.
func (a *Agent) updateStatus(ctx context.Context, force bool) error {
	now := a.clk.Now()
	old := a.node.Status
	next := a.status(&old, now)
	if !force && !statusChanged(&old, &next) && now.Sub(a.lastReport) < a.cfg.StatusReportFrequency {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": next})
	if err != nil {
		return err
	}
	updated, err := a.cfg.Client.CoreV1().Nodes().Patch(ctx, a.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted under us: register again, as the kubelet does
			// on its next sync.
			return a.register(ctx)
		}
		return fmt.Errorf("patching node status: %w", err)
	}
	a.node, a.lastReport = updated, now
	return nil
}

// statusChanged ignores heartbeat times.
func statusChanged(old, next *corev1.NodeStatus) bool {
	strip := func(s *corev1.NodeStatus) corev1.NodeStatus {
		c := *s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return c
	}
	a, b := strip(old), strip(next)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) != string(jb)
}

// renewLease creates or renews the node's Lease, owned by the Node so it
// goes with it (the kubelet's nodelease controller).
func (a *Agent) renewLease(ctx context.Context) {
	if err := a.tryRenewLease(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("renewing node lease", "node", a.cfg.NodeName, "err", err)
	}
}

func (a *Agent) tryRenewLease(ctx context.Context) error {
	leases := a.cfg.Client.CoordinationV1().Leases(LeaseNamespace)
	now := metav1.NewMicroTime(a.clk.Now())
	lease, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: LeaseNamespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(a.cfg.NodeName),
				LeaseDurationSeconds: ptr.To(int32(a.cfg.LeaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}
		a.setLeaseOwner(lease)
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.HolderIdentity = ptr.To(a.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(a.cfg.LeaseDuration / time.Second))
	lease.Spec.RenewTime = &now
	a.setLeaseOwner(lease)
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

func (a *Agent) setLeaseOwner(l *coordinationv1.Lease) {
	if a.node == nil || a.node.UID == "" {
		return
	}
	l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: a.node.Name, UID: a.node.UID}}
}
