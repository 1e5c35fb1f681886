// Package app is terminus' one composition root: it turns a Config into
// running parts (storage, registry and watch caches, API server, TLS
// listener) and owns their start and stop order.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/apiserver"
	"github.com/terminus-project/terminus/internal/loopback"
	"github.com/terminus-project/terminus/internal/openapi"
	"github.com/terminus-project/terminus/internal/pki"
	"github.com/terminus-project/terminus/internal/registry"
	"github.com/terminus-project/terminus/internal/storage"
	"github.com/terminus-project/terminus/internal/storage/embedded"
	etcdstore "github.com/terminus-project/terminus/internal/storage/etcd"
	"github.com/terminus-project/terminus/internal/storage/memory"
)

// Storage backends.
const (
	StorageEtcd   = "etcd"
	StorageMemory = "memory"
)

// Config is everything a server needs.
type Config struct {
	// DataDir holds the PKI, the kubeconfig and embedded etcd's data.
	DataDir     string
	BindAddress string
	// SecurePort 0 picks a free port.
	SecurePort int
	// EtcdServers are external etcd endpoints; empty runs embedded etcd.
	EtcdServers []string
	// Storage is StorageEtcd or StorageMemory.
	Storage string
	Version version.Info
	// Profiling serves /debug/pprof to authenticated clients.
	Profiling bool
	// Controllers selects the built-in controllers, as
	// kube-controller-manager's --controllers: "*" all, "name" one,
	// "-name" all but one. Empty means "*".
	Controllers []string
	// NamespaceDeletionDelay delays the namespace controller's work on a
	// terminating namespace (upstream: 5 s; docs/decisions/0003).
	NamespaceDeletionDelay time.Duration
	// Agent, if set, runs a node agent in the server's process.
	Agent  *AgentConfig
	Logger *slog.Logger
	Clock  clock.WithTicker
}

// Info says where a started server is.
type Info struct {
	// URL is the server's https URL.
	URL string
	// Kubeconfig is the admin kubeconfig's path.
	Kubeconfig string
}

// Run starts the server, calls started once it accepts requests, and
// serves until ctx ends; then it stops listening, ends watches, and closes
// storage (embedded etcd last, so no acknowledged write is lost).
func Run(ctx context.Context, cfg Config, started func(Info)) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	bundle, err := pki.Ensure(cfg.DataDir, pki.Options{ExtraSANs: []string{cfg.BindAddress}})
	if err != nil {
		return fmt.Errorf("preparing certificates: %w", err)
	}
	store, closeStore, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeStore(); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()

	scheme, err := registry.NewScheme()
	if err != nil {
		return err
	}
	resources := registry.BuiltinResources()
	reg, err := registry.New(registry.Config{Storage: store, Scheme: scheme, Resources: resources, Clock: cfg.Clock, Logger: log})
	if err != nil {
		return err
	}
	controllers := &controllerSet{}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The API server reaches node agents (logs, exec, port-forward) with
	// the admin client certificate; agents' serving certificates are not
	// verified, as kube-apiserver without --kubelet-certificate-authority:
	// a standalone agent makes its own.
	kubeletTransport, kubeletInsecure := apiserver.NewKubeletTransports(apiserver.KubeletTLS{ClientCert: &bundle.AdminCert})
	srv, err := apiserver.New(apiserver.Config{
		Kubelet:       apiserver.KubeletConfig{Transport: kubeletTransport, InsecureTransport: kubeletInsecure},
		Registry:      reg,
		Scheme:        scheme,
		Authenticator: apiserver.TokenCertAuthenticator{AdminToken: bundle.AdminToken},
		Version:       cfg.Version,
		LiveChecks:    []apiserver.HealthCheck{storageCheck(store)},
		ReadyChecks: []apiserver.HealthCheck{storageCheck(store), {Name: "gc-monitors", Check: controllers.ready}, {Name: "watch-cache-sync", Check: func(context.Context) error {
			if !reg.Synced() {
				return errors.New("watch caches not synced")
			}
			return nil
		}}},
		OpenAPI: func(mux *http.ServeMux) error {
			svc, err := openapi.Install(openapi.ServeMux(mux), openapi.Config{Scheme: scheme, Resources: OpenAPIResources(resources), Version: cfg.Version.GitVersion})
			if err != nil {
				return err
			}
			reg.OnResourcesChanged(func() { svc.SetCustomResources(EstablishedCRDs(reg.Resources())) })
			return nil
		},
		Clock:      cfg.Clock,
		Logger:     log,
		Profiling:  cfg.Profiling,
		Registerer: promReg,
		Gatherer:   promReg,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.SecurePort)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	host := cfg.BindAddress
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := "https://" + net.JoinHostPort(host, strconv.Itoa(port))
	kubeconfig := filepath.Join(cfg.DataDir, "kubeconfig")
	if err := pki.WriteKubeconfig(kubeconfig, url, bundle); err != nil {
		ln.Close()
		return fmt.Errorf("writing kubeconfig: %w", err)
	}

	// Requests run under serveCtx, cancelled at shutdown, so that open
	// watches end and Shutdown does not wait for them.
	serveCtx, cancelServe := context.WithCancel(context.Background())
	defer cancelServe()
	httpSrv := &http.Server{
		Handler:           srv,
		TLSConfig:         bundle.TLSConfig(),
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return serveCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	g, gctx := errgroup.WithContext(ctx)
	regCtx, stopReg := context.WithCancel(context.Background())
	var regDone sync.WaitGroup
	regDone.Add(1)
	go func() {
		defer regDone.Done()
		_ = reg.Run(regCtx)
	}()
	defer func() {
		stopReg()
		regDone.Wait()
	}()
	if err := reg.WaitSynced(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("waiting for watch caches: %w", err)
	}
	if err := bootstrap(ctx, reg); err != nil {
		ln.Close()
		return err
	}
	g.Go(func() error {
		err := httpSrv.Serve(tls.NewListener(ln, httpSrv.TLSConfig))
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		cancelServe()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	// Controllers are API clients of this server, with the admin
	// credentials, through the same authenticated handler chain as kubectl
	// but in memory: no TCP, no TLS (DESIGN section 1).
	loopbackConfig := loopback.Config(loopback.New(serveCtx, srv), url, bundle.AdminToken, "terminus-controllers")
	waitControllers, err := startControllers(gctx, cfg, loopbackConfig, bundle.CAPEM, promReg, log, controllers)
	if err != nil {
		cancelServe()
		_ = httpSrv.Close()
		return err
	}
	defer waitControllers()
	if cfg.Agent != nil {
		waitAgent, err := startAgent(gctx, cfg, loopbackConfig, bundle, promReg, log)
		if err != nil {
			cancelServe()
			_ = httpSrv.Close()
			return err
		}
		defer waitAgent()
	}
	if started != nil {
		started(Info{URL: url, Kubeconfig: kubeconfig})
	}
	log.Info("serving", "url", url, "kubeconfig", kubeconfig)
	return g.Wait()
}

func storageCheck(st storage.Store) apiserver.HealthCheck {
	return apiserver.HealthCheck{Name: "etcd", Check: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := st.CurrentRevision(ctx)
		return err
	}}
}

// openStorage opens the configured backend and returns its closer.
func openStorage(ctx context.Context, cfg Config) (storage.Store, func() error, error) {
	switch cfg.Storage {
	case StorageMemory:
		st := memory.New(memory.Options{Logger: cfg.Logger})
		return st, st.Close, nil
	case StorageEtcd, "":
	default:
		return nil, nil, fmt.Errorf("unknown storage %q (want %s or %s)", cfg.Storage, StorageEtcd, StorageMemory)
	}
	if len(cfg.EtcdServers) > 0 {
		st, err := etcdstore.New(etcdstore.Config{Endpoints: cfg.EtcdServers, Logger: cfg.Logger})
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	etcd, err := embedded.Start(ctx, embedded.Config{DataDir: filepath.Join(cfg.DataDir, "etcd"), Logger: cfg.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("starting embedded etcd: %w", err)
	}
	st, err := etcdstore.New(etcdstore.Config{Client: etcd.Client(), Logger: cfg.Logger})
	if err != nil {
		etcd.Close()
		return nil, nil, err
	}
	return st, func() error {
		return errors.Join(st.Close(), etcd.Close())
	}, nil
}
