package controller

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	examplev1 "github.com/terminus-project/terminus/test/operator/api/v1"
)

// Scheme is the built-in Kubernetes types plus example.com/v1.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(examplev1.AddToScheme(s))
	return s
}

// Options configures NewManager.
type Options struct {
	// LeaderElection turns leader election on (a Lease named
	// LeaderElectionID in LeaderElectionNamespace).
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod default to
	// controller-runtime's 15s, 10s and 2s when zero.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// SkipNameValidation lets several managers run the "widget" controller
	// in one process (the tests do).
	SkipNameValidation bool
}

// DefaultLeaderElectionID is the Lease name cmd/widget-operator uses.
const DefaultLeaderElectionID = "widget-operator.example.com"

// NewManager builds a manager with the Widget reconciler registered, metrics
// and health probes off, leader election as opts says (released on cancel).
func NewManager(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	scheme := Scheme()
	mo := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Client:                        client.Options{FieldOwner: FieldManager},
	}
	if opts.LeaseDuration > 0 {
		mo.LeaseDuration = &opts.LeaseDuration
	}
	if opts.RenewDeadline > 0 {
		mo.RenewDeadline = &opts.RenewDeadline
	}
	if opts.RetryPeriod > 0 {
		mo.RetryPeriod = &opts.RetryPeriod
	}
	if opts.SkipNameValidation {
		skip := true
		mo.Controller = config.Controller{SkipNameValidation: &skip}
	}
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	r := &WidgetReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the widget controller: %w", err)
	}
	return mgr, nil
}
