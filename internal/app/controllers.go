package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiextensionsinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/terminus-project/terminus/internal/controller/crdcleanup"
	"github.com/terminus-project/terminus/internal/controller/crdnaming"
	"github.com/terminus-project/terminus/internal/controller/cronjob"
	deploymentctl "github.com/terminus-project/terminus/internal/controller/deployment"
	"github.com/terminus-project/terminus/internal/controller/endpoint"
	"github.com/terminus-project/terminus/internal/controller/endpointslice"
	"github.com/terminus-project/terminus/internal/controller/garbagecollector"
	"github.com/terminus-project/terminus/internal/controller/job"
	"github.com/terminus-project/terminus/internal/controller/namespace"
	"github.com/terminus-project/terminus/internal/controller/nodelifecycle"
	"github.com/terminus-project/terminus/internal/controller/podgc"
	"github.com/terminus-project/terminus/internal/controller/pvcprotection"
	"github.com/terminus-project/terminus/internal/controller/pvprotection"
	"github.com/terminus-project/terminus/internal/controller/replicaset"
	"github.com/terminus-project/terminus/internal/controller/rootcacert"
	"github.com/terminus-project/terminus/internal/controller/scheduler"
	"github.com/terminus-project/terminus/internal/controller/serviceaccount"
	"github.com/terminus-project/terminus/internal/controller/ttlafterfinished"
)

// ControllerNames are the built-in controllers, as --controllers names
// them (kube-controller-manager's names).
// The scheduler is a separate binary upstream; here it is one more
// controller.
var ControllerNames = []string{"garbagecollector", "namespace", "serviceaccount", "root-ca-cert-publisher", "pvc-protection", "pv-protection", "podgc",
	"node-lifecycle-controller", "scheduler", "replicaset", "replicationcontroller", "deployment", "endpointslice", "endpoint", "job", "cronjob", "ttl-after-finished-controller"}

// controllerEnabled applies kube-controller-manager's --controllers syntax:
// "*" all, "name" one, "-name" not that one; the first match wins.
func controllerEnabled(selection []string, name string) bool {
	if len(selection) == 0 {
		selection = []string{"*"}
	}
	for _, s := range selection {
		switch {
		case s == name:
			return true
		case s == "-"+name:
			return false
		}
	}
	return slices.Contains(selection, "*")
}

// ValidateControllers rejects unknown controller names.
func ValidateControllers(selection []string) error {
	for _, s := range selection {
		n := strings.TrimPrefix(s, "-")
		if n != "*" && !slices.Contains(ControllerNames, n) {
			return fmt.Errorf("unknown controller %q (known: %s)", n, strings.Join(ControllerNames, ", "))
		}
	}
	return nil
}

// informerResync is the shared informers' default resync period.
const informerResync = 12 * time.Hour

type runner interface{ Run(context.Context) error }

// controllerSet is the started controllers and what they need.
type controllerSet struct {
	gc *garbagecollector.Controller
}

// ready backs the /readyz check of the garbage collector's monitors.
func (c *controllerSet) ready(context.Context) error {
	if c == nil || c.gc == nil {
		return nil
	}
	return c.gc.Ready()
}

// startControllers builds the selected controllers as API clients of
// loopback and runs them until ctx ends; wait returns once all stopped.
func startControllers(ctx context.Context, cfg Config, loopback *rest.Config, rootCA []byte, reg prometheus.Registerer, log *slog.Logger, set *controllerSet) (wait func(), err error) {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(loopback)
	if err != nil {
		return nil, err
	}
	// A default resync > 0, as kube-controller-manager's (12 h), lets a
	// handler ask for a shorter one (the namespace controller's 5 min):
	// an informer built with 0 cannot resync at all.
	factory := informers.NewSharedInformerFactory(client, informerResync)
	extClient, err := apiextensionsclient.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	extFactory := apiextensionsinformers.NewSharedInformerFactory(extClient, informerResync)
	clk := cfg.Clock
	var runners []runner
	// The CRD naming and cleanup controllers belong to the API server
	// (upstream's apiextensions-apiserver runs them in process): without
	// them no CRD is served and none can be deleted, so --controllers
	// does not select them.
	naming, err := crdnaming.New(crdnaming.Config{Client: extClient, Informers: extFactory, Clock: clk, Logger: log.With("controller", "crd-naming"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("controller crd-naming: %w", err)
	}
	cleanup, err := crdcleanup.New(crdcleanup.Config{Client: extClient, Metadata: meta, Informers: extFactory, Clock: clk, Logger: log.With("controller", "crd-finalizer"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("controller crd-finalizer: %w", err)
	}
	runners = append(runners, naming, cleanup)
	add := func(name string, build func() (runner, error)) error {
		if !controllerEnabled(cfg.Controllers, name) {
			return nil
		}
		r, err := build()
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		runners = append(runners, r)
		return nil
	}
	l := func(name string) *slog.Logger { return log.With("controller", name) }
	steps := []struct {
		name  string
		build func() (runner, error)
	}{
		{"garbagecollector", func() (runner, error) {
			gc, err := garbagecollector.New(garbagecollector.Config{Metadata: meta, Discovery: disc, Client: client, Clock: clk, Logger: l("garbagecollector"), Registerer: reg})
			set.gc = gc
			return gc, err
		}},
		{"namespace", func() (runner, error) {
			return namespace.New(namespace.Config{Client: client, Metadata: meta, Discovery: disc, Informers: factory, Clock: clk,
				Logger: l("namespace"), Registerer: reg, DeletionDelay: cfg.NamespaceDeletionDelay})
		}},
		{"serviceaccount", func() (runner, error) {
			return serviceaccount.New(serviceaccount.Config{Client: client, Informers: factory, Clock: clk, Logger: l("serviceaccount"), Registerer: reg})
		}},
		{"root-ca-cert-publisher", func() (runner, error) {
			return rootcacert.New(rootcacert.Config{Client: client, Informers: factory, RootCA: rootCA, Clock: clk, Logger: l("root-ca-cert-publisher"), Registerer: reg})
		}},
		{"pvc-protection", func() (runner, error) {
			return pvcprotection.New(pvcprotection.Config{Client: client, Informers: factory, Clock: clk, Logger: l("pvc-protection"), Registerer: reg})
		}},
		{"pv-protection", func() (runner, error) {
			return pvprotection.New(pvprotection.Config{Client: client, Informers: factory, Clock: clk, Logger: l("pv-protection"), Registerer: reg})
		}},
		{"podgc", func() (runner, error) {
			return podgc.New(podgc.Config{Client: client, Informers: factory, Clock: clk, Logger: l("podgc"), Registerer: reg})
		}},
		{"node-lifecycle-controller", func() (runner, error) {
			return nodelifecycle.New(nodelifecycle.Config{Client: client, Informers: factory, Clock: clk, Logger: l("node-lifecycle-controller"), Registerer: reg})
		}},
		{"scheduler", func() (runner, error) {
			return scheduler.New(scheduler.Config{Client: client, Informers: factory, Clock: clk, Logger: l("scheduler"), Registerer: reg})
		}},
		{"replicaset", func() (runner, error) {
			return replicaset.New(replicaset.Config{Client: client, Informers: factory, Clock: clk, Logger: l("replicaset"), Registerer: reg})
		}},
		{"deployment", func() (runner, error) {
			return deploymentctl.New(deploymentctl.Config{Client: client, Informers: factory, Clock: clk, Logger: l("deployment"), Registerer: reg})
		}},
		{"endpointslice", func() (runner, error) {
			return endpointslice.New(endpointslice.Config{Client: client, Informers: factory, Clock: clk, Logger: l("endpointslice"), Registerer: reg})
		}},
		{"endpoint", func() (runner, error) {
			return endpoint.New(endpoint.Config{Client: client, Informers: factory, Clock: clk, Logger: l("endpoint"), Registerer: reg})
		}},
		{"job", func() (runner, error) {
			return job.New(job.Config{Client: client, Informers: factory, Clock: clk, Logger: l("job"), Registerer: reg})
		}},
		{"cronjob", func() (runner, error) {
			return cronjob.New(cronjob.Config{Client: client, Informers: factory, Clock: clk, Logger: l("cronjob"), Registerer: reg})
		}},
		{"ttl-after-finished-controller", func() (runner, error) {
			return ttlafterfinished.New(ttlafterfinished.Config{Client: client, Informers: factory, Clock: clk, Logger: l("ttl-after-finished-controller"), Registerer: reg})
		}},
		{"replicationcontroller", func() (runner, error) {
			return replicaset.NewReplicationManager(replicaset.Config{Client: client, Informers: factory, Clock: clk, Logger: l("replicationcontroller"), Registerer: reg})
		}},
	}
	for _, s := range steps {
		if err := add(s.name, s.build); err != nil {
			return nil, err
		}
	}
	factory.Start(ctx.Done())
	extFactory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				log.Error("controller stopped", "err", err)
			}
		}()
	}
	return func() { wg.Wait(); factory.Shutdown(); extFactory.Shutdown() }, nil
}
