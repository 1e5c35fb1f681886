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
		Short: "Measure an API server (terminus or any Kubernetes): ready, create, watch-latency",
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
                 allowed); time until NotFound`,
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
