// Command widget-operator runs the Widget controller (see package
// controller) against the cluster named by --kubeconfig (or the usual
// KUBECONFIG / in-cluster configuration), with leader election on a Lease.
package main

import (
	"flag"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/terminus-project/terminus/test/operator/controller"
)

func main() {
	var (
		leaderElect   bool
		leaderID      string
		leaderNS      string
		leaseDuration time.Duration
		renewDeadline time.Duration
		retryPeriod   time.Duration
	)
	flag.BoolVar(&leaderElect, "leader-elect", true, "use leader election (a Lease) so only one replica reconciles")
	flag.StringVar(&leaderID, "leader-election-id", controller.DefaultLeaderElectionID, "name of the leader election Lease")
	flag.StringVar(&leaderNS, "leader-election-namespace", "default", "namespace of the leader election Lease")
	flag.DurationVar(&leaseDuration, "lease-duration", 15*time.Second, "leader election lease duration")
	flag.DurationVar(&renewDeadline, "renew-deadline", 10*time.Second, "leader election renew deadline")
	flag.DurationVar(&retryPeriod, "retry-period", 2*time.Second, "leader election retry period")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	// --kubeconfig is registered by controller-runtime's config package.
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	logger := ctrl.Log.WithName("widget-operator")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		logger.Error(err, "loading the client configuration")
		os.Exit(1)
	}
	mgr, err := controller.NewManager(cfg, controller.Options{
		LeaderElection:          leaderElect,
		LeaderElectionID:        leaderID,
		LeaderElectionNamespace: leaderNS,
		LeaseDuration:           leaseDuration,
		RenewDeadline:           renewDeadline,
		RetryPeriod:             retryPeriod,
	})
	if err != nil {
		logger.Error(err, "building the manager")
		os.Exit(1)
	}
	logger.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		logger.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
	logger.Info("manager stopped")
}
