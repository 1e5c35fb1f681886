package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/terminus-project/terminus/internal/bench"
)

func newBenchCommand(stdout io.Writer) *cobra.Command {
	var o bench.Options
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure an API server (terminus or any Kubernetes): ready, create, watch-latency, pods",
		Long: `bench prints one JSON line per run.

  ready          launch a server command (--launch) and time it to /readyz
  create         create --count ConfigMaps with --concurrency workers
  watch-latency  time from create start to the ADDED watch event
  finalizer-churn  delete finalizer-held ConfigMaps and remove their
                 finalizers with --concurrency workers; objects/s from
                 DELETE to the DELETED event
  cascade-background|cascade-foreground|orphan
                 delete an owner with --count dependents using that
                 policy; time until owner and dependents are gone
                 (orphan: until the dependents are unowned)
  namespace-delete  delete a namespace with --count ConfigMaps (0
                 allowed); time until NotFound

Pod scenarios (issue 6) need nodes: a scheduler and kubelets, or terminus
serve's in-process agent. Each run uses a fresh namespace and deletes it
afterwards (untimed).

  pod-start      create --count pods (default 100), --concurrency at a
                 time: each worker creates a pod and waits for it to be
                 Running and Ready before its next; time from each Create
                 to the watch showing it Running and Ready; pods/s.
                 Default image
                 registry.k8s.io/pause, no command; --pod-command
                 "sleep 3600" runs busybox with that command
  pod-delete     pods whose program exits 0 on TERM are deleted (default
                 grace) once all are Ready, --concurrency at a time (a
                 worker deletes its next pod once its last is gone);
                 DELETE -> DELETED event, and process exit -> DELETED from
                 the exit times the programs write to --marks-dir
  pod-kill       pods that ignore TERM, --grace-period 2, are deleted as
                 in pod-delete; the SIGKILL's lateness: process exit (seen
                 through a pidfd) minus (DELETE + grace period)
  pods-idle      --count pods (default 200) Running, then the CPU time of
                 --pid (the terminus serve process) over --duration, in
                 percent of one core; pods the node has no room for (110
                 by default) are reported as unschedulable

These work against any Kubernetes, except that the marks files (pod-delete),
the pidfds (pod-kill) and --pid (pods-idle) need the benchmark to run on the
pods' node, as it does next to terminus serve; elsewhere pod-delete and
pod-kill report DELETE -> DELETED only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return bench.Run(cmd.Context(), o, stdout)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
