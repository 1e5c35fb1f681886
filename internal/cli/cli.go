// Package cli holds terminus' cobra commands. It is the only place that
// reads flags, and, with terminustest, the only importer of app.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/version"
)

// KubernetesVersion is the Kubernetes API version terminus reproduces.
const KubernetesVersion = "v1.37.2"

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "terminus",
		Short:         "A Kubernetes-compatible control plane, faithful in how objects die",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCommand(stdout, stderr), newEtcdCommand(stdout, stderr), newAgentCommand(stdout, stderr), newVersionCommand(stdout), newBenchCommand(stdout), newImageCommand(stdout, stderr))
	return root
}

// terminusVersion is the module version the binary was built from.
func terminusVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func versionInfo() version.Info {
	commit := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	return version.Info{
		Major:        "1",
		Minor:        "37",
		GitVersion:   KubernetesVersion + "+terminus-" + terminusVersion(),
		GitCommit:    commit,
		GitTreeState: "clean",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print terminus' version and the Kubernetes API version it serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo()
			fmt.Fprintf(stdout, "terminus %s\nKubernetes API %s\n%s %s\n", terminusVersion(), KubernetesVersion, v.GoVersion, v.Platform)
			return nil
		},
	}
}

// newLogger is quiet by default: warnings and errors to stderr.
func newLogger(stderr io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
