// Package agent is the node agent put together: the Node and its Lease
// (agent/node), the pod workers that run the node's pods as local
// processes (agent/podworker on agent/process), and the kubelet API the
// API server proxies logs, exec, attach and port-forward to
// (agent/kubeletapi). `terminus serve` runs one in-process; `terminus
// agent` runs one against any terminus server, several per machine if
// wanted (each with its own node name, root directory and port).
//
// The agent is an API client like a kubelet: everything it knows of the
// cluster comes through its kubernetes.Interface. Its containers outlive
// it (their shims are processes of their own), so stopping the agent
// leaves pods running and the next agent on the same root directory picks
// them up again, keeping termination deadlines (issue 6).
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/agent/images"
	"github.com/terminus-project/terminus/internal/agent/kubeletapi"
	"github.com/terminus-project/terminus/internal/agent/node"
	"github.com/terminus-project/terminus/internal/agent/podworker"
	"github.com/terminus-project/terminus/internal/agent/process"
)

// Config configures an agent.
type Config struct {
	// Client is the agent's connection to the API server. Required.
	Client kubernetes.Interface
	// NodeName is the Node the agent registers and runs the pods of.
	// Required.
	NodeName string
	// RootDir holds the pods' directories and the serving certificate
	// (the kubelet's --root-dir). Required; created if missing.
	RootDir string
	// NodeIP is the node's InternalIP, where the API server reaches the
	// kubelet API and the IP of every pod (they use the host's network).
	// Required.
	NodeIP net.IP
	// Address is the IP the kubelet API listens on (the kubelet's
	// --address). Nil means all addresses.
	Address net.IP
	// Port is the kubelet API's port; 0 picks a free one, which the Node
	// reports in status.daemonEndpoints.
	Port int
	// ServingCert is the kubelet API's certificate. Nil: a self-signed
	// one kept in RootDir/pki, as the kubelet makes without
	// --tls-cert-file.
	ServingCert *tls.Certificate
	// ClientCAs verifies the API server's client certificate (the
	// kubelet's --client-ca-file). Required.
	ClientCAs *x509.CertPool
	// Labels and Taints are registered with the Node (--node-labels,
	// --register-with-taints).
	Labels map[string]string
	Taints []corev1.Taint
	// MaxPods is the pods capacity; 0 means the kubelet's 110.
	MaxPods int
	// Version fills status.nodeInfo.kubeletVersion.
	Version string
	// Executable is the program re-executed as container shim (which also
	// stands in for pause); it must call process.MaybeRunShim first.
	// Empty: os.Executable().
	Executable string
	Clock      clock.WithTicker
	Logger     *slog.Logger
	// Registerer receives the agent's metrics; nil: none.
	Registerer prometheus.Registerer
	// GC is the node's garbage collection of dead containers and unused
	// images (spec H). Nil: the kubelet's defaults.
	GC *GC
	// PullImages pulls images from registries by imagePullPolicy
	// (podworker.Config.PullImages).
	PullImages bool
	// ShutdownGracePeriod, if positive, makes the end of Run's ctx a
	// graceful node shutdown (the kubelet's shutdownGracePeriod): the
	// pods are stopped, the critical ones last with
	// ShutdownGracePeriodCriticalPods, and left Failed, before Run
	// returns. Zero: the pods go on running when the agent stops (their
	// processes outlive it) and the next agent takes them over.
	ShutdownGracePeriod, ShutdownGracePeriodCriticalPods time.Duration
}

// Info says where a started agent is.
type Info struct {
	// KubeletAddr is the kubelet API's listening address.
	KubeletAddr net.Addr
}

// Run runs the agent until ctx ends. started, if not nil, is called once
// the kubelet API listens (before the Node is registered).
func Run(ctx context.Context, cfg Config, started func(Info)) error {
	if cfg.Client == nil || cfg.NodeName == "" || cfg.RootDir == "" || cfg.NodeIP == nil || cfg.ClientCAs == nil {
		return errors.New("agent: Client, NodeName, RootDir, NodeIP and ClientCAs are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("node", cfg.NodeName)
	if err := os.MkdirAll(cfg.RootDir, 0o750); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	cert := cfg.ServingCert
	if cert == nil {
		c, err := ensureServingCert(filepath.Join(cfg.RootDir, "pki"), cfg.NodeName, cfg.NodeIP)
		if err != nil {
			return err
		}
		cert = &c
	}
	machine, err := node.ReadMachine(cfg.RootDir, cfg.MaxPods)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}

	var shuttingDown shutdownFlag
	runtime, err := process.New(process.Config{Logger: log.With("component", "runtime"), Clock: cfg.Clock, Executable: cfg.Executable})
	if err != nil {
		return err
	}
	store, err := images.Open(filepath.Join(cfg.RootDir, "images"), images.Options{Clock: cfg.Clock, Logger: log.With("component", "images")})
	if err != nil {
		return fmt.Errorf("agent: image store: %w", err)
	}
	gc := cfg.GC
	if gc == nil {
		gc = DefaultGC()
	}
	recorder, stopEvents := newRecorder(cfg.Client, cfg.NodeName, cfg.Clock)
	defer stopEvents()
	imageGC, err := newImageGC(store, gc, cfg, recorder)
	if err != nil {
		return fmt.Errorf("agent: image gc: %w", err)
	}
	pods, err := podworker.New(podworker.Config{
		Client: cfg.Client, NodeName: cfg.NodeName, Runtime: runtime, RootDir: cfg.RootDir, Images: store, PullImages: cfg.PullImages,
		NodeIP: cfg.NodeIP.String(), Clock: cfg.Clock, Logger: log, Registerer: cfg.Registerer,
		ContainerGC: &gc.Containers, ContainerGCPeriod: gc.ContainerGCPeriod, Recorder: recorder,
	})
	if err != nil {
		return err
	}

	address := cfg.Address
	if address == nil {
		address = net.IPv6unspecified
	}
	api, err := kubeletapi.New(kubeletapi.Config{
		Address:     net.JoinHostPort(address.String(), strconv.Itoa(cfg.Port)),
		ServingCert: *cert,
		ClientCAs:   cfg.ClientCAs,
		Pods:        &kubeletPods{pods: pods, runtime: runtime},
		Logger:      log.With("component", "kubeletapi"),
		Clock:       cfg.Clock,
	})
	if err != nil {
		return err
	}
	port := api.Addr().(*net.TCPAddr).Port
	hostname, _ := os.Hostname()
	addresses := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.NodeIP.String()}}
	if hostname != "" {
		addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
	}
	registration, err := node.New(node.Config{
		Client: cfg.Client, NodeName: cfg.NodeName, Addresses: addresses, Port: int32(port),
		Machine: machine, Labels: cfg.Labels, Taints: cfg.Taints,
		KubeletVersion: cfg.Version, RuntimeVersion: "terminus://" + cfg.Version,
		Images:  func() ([]node.Image, error) { return nodeImages(store) },
		Healthy: shuttingDown.err,
		Clock:   cfg.Clock, Logger: log,
	})
	if err != nil {
		return err
	}
	if started != nil {
		started(Info{KubeletAddr: api.Addr()})
	}
	log.Info("node agent running", "kubelet", api.Addr().String(), "root", cfg.RootDir)

	// The pod workers and the kubelet API run until ctx ends; the node
	// registration retries on its own. Each returns nil on ctx's end, so
	// the first error stops the rest.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		if cfg.ShutdownGracePeriod > 0 {
			shuttingDown.set()
			log.Info("node shutdown", "gracePeriod", cfg.ShutdownGracePeriod, "criticalPods", cfg.ShutdownGracePeriodCriticalPods)
			sctx, cancel := context.WithTimeout(runCtx, cfg.ShutdownGracePeriod+5*time.Second)
			pods.Shutdown(sctx, cfg.ShutdownGracePeriod, cfg.ShutdownGracePeriodCriticalPods)
			cancel()
		}
		stop()
	}()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return api.Run(gctx) })
	g.Go(func() error { return pods.Run(gctx) })
	g.Go(func() error { return registration.Run(gctx) })
	if gc.ImageGCPeriod >= 0 {
		g.Go(func() error { return imageGC.Run(gctx) })
	}
	return g.Wait()
}

// nodeImages is the store's images as the Node's status.images needs
// them.
func nodeImages(store *images.Store) ([]node.Image, error) {
	list, err := store.List()
	if err != nil {
		return nil, err
	}
	out := make([]node.Image, len(list))
	for i, img := range list {
		out[i] = node.Image{RepoDigests: img.RepoDigests, RepoTags: img.RepoTags, Size: img.Size}
	}
	return out, nil
}

// shutdownFlag makes the node NotReady once a shutdown began, as the
// kubelet's node shutdown manager does.
type shutdownFlag struct{ on atomic.Bool }

func (f *shutdownFlag) set() { f.on.Store(true) }

func (f *shutdownFlag) err() error {
	if f.on.Load() {
		return errors.New("node is shutting down")
	}
	return nil
}
