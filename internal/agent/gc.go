package agent

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/agent/containergc"
	"github.com/terminus-project/terminus/internal/agent/imagegc"
	"github.com/terminus-project/terminus/internal/agent/images"
)

// GC is the node's garbage collection configuration (spec H).
type GC struct {
	// Images is the image GC policy (H5).
	Images imagegc.Policy
	// ImageFSCapacity, if positive, is the image file system's capacity
	// in bytes, its usage being the store's images: tests and small
	// setups cross the thresholds with small images. Zero: statfs(2) of
	// the store's file system.
	ImageFSCapacity int64
	// ImageGCPeriod is the time between image GC passes (H1: 5 min);
	// zero means that, negative none.
	ImageGCPeriod time.Duration
	// Containers is the container GC policy (H2).
	Containers containergc.Policy
	// ContainerGCPeriod is the time between container GC passes (H1:
	// 1 min); zero means that, negative none (H4's clean-up on a
	// container's death still runs).
	ContainerGCPeriod time.Duration
}

// DefaultGC is the kubelet's defaults.
func DefaultGC() *GC {
	return &GC{Images: imagegc.DefaultPolicy(), Containers: containergc.DefaultPolicy()}
}

// nodeRef is how the kubelet refers to its Node in events: its uid is
// the node's name.
func nodeRef(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: name, UID: types.UID(name)}
}

// newRecorder is the agent's one event recorder, as the kubelet's
// (source component "kubelet", host the node): pods' events and the
// Node's GC events. stop flushes and ends it.
func newRecorder(client kubernetes.Interface, nodeName string, clk clock.Clock) (record.EventRecorder, func()) {
	b := record.NewBroadcasterWithCorrelatorOptions(record.CorrelatorOptions{Clock: clk})
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: nodeName}), b.Shutdown
}

// newImageGC is the image collector over the store.
func newImageGC(store *images.Store, gc *GC, cfg Config, recorder record.EventRecorder) (*imagegc.Collector, error) {
	icfg := imagegc.Config{
		Store: store, Policy: gc.Images, StatfsPath: store.Dir(), Period: gc.ImageGCPeriod,
		Clock: cfg.Clock, Logger: cfg.Logger.With("component", "imagegc", "node", cfg.NodeName),
		Recorder: recorder, NodeRef: nodeRef(cfg.NodeName), Registerer: cfg.Registerer,
	}
	if gc.ImageFSCapacity > 0 {
		icfg.Stats = imagegc.CapacityStats(gc.ImageFSCapacity, store)
	}
	return imagegc.New(icfg)
}
