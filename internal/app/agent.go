package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/terminus-project/terminus/internal/agent"
	"github.com/terminus-project/terminus/internal/pki"
)

// AgentConfig configures the node agent serve runs in-process (issue 6).
type AgentConfig struct {
	// NodeName is the Node the agent registers. Required.
	NodeName string
	// NodeIP is the node's InternalIP and the kubelet API's listening
	// address. Required.
	NodeIP net.IP
	// Port is the kubelet API's port; 0 picks a free one.
	Port int
	// RootDir holds the pods' directories; empty means <data-dir>/agent.
	RootDir string
	// MaxPods is the node's pods capacity; 0 means 110.
	MaxPods int
	// Executable is re-executed as container shim (and pause stand-in);
	// empty means this binary.
	Executable string
	// GC is the node's garbage collection (spec H); nil: the kubelet's
	// defaults.
	GC *agent.GC
	// PullImages pulls images from registries by imagePullPolicy.
	PullImages bool
}

// startAgent runs the in-process node agent as a client of this server
// through the loopback, until ctx ends; wait returns once it has stopped.
// Its pods' processes outlive it (the next start finds them again).
func startAgent(ctx context.Context, cfg Config, loopback *rest.Config, bundle *pki.Bundle, reg prometheus.Registerer, log *slog.Logger) (wait func(), err error) {
	ac := cfg.Agent
	restCfg := rest.CopyConfig(loopback)
	restCfg.UserAgent = "terminus-agent/" + ac.NodeName
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	root := ac.RootDir
	if root == "" {
		root = filepath.Join(cfg.DataDir, "agent")
	}
	acfg := agent.Config{
		Client: client, NodeName: ac.NodeName, RootDir: root, NodeIP: ac.NodeIP, Address: ac.NodeIP,
		Port: ac.Port, ClientCAs: bundle.CAPool, Version: cfg.Version.GitVersion,
		MaxPods: ac.MaxPods, Executable: ac.Executable, GC: ac.GC, PullImages: ac.PullImages, Clock: cfg.Clock, Logger: log.With("component", "agent"), Registerer: reg,
	}
	errc := make(chan error, 1)
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := agent.Run(ctx, acfg, func(agent.Info) { close(started) })
		if err != nil {
			log.Error("node agent stopped", "err", err)
		}
		errc <- err
	})
	select {
	case <-started:
		return wg.Wait, nil
	case err := <-errc:
		wg.Wait()
		return nil, fmt.Errorf("node agent: %w", err)
	}
}
