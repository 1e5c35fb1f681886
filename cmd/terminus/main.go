// Command terminus is a Kubernetes-compatible control plane in one binary,
// faithful above all in how objects die. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/terminus-project/terminus/internal/agent/podworker"
	"github.com/terminus-project/terminus/internal/agent/process"
	"github.com/terminus-project/terminus/internal/cli"
)

func main() {
	// A container's shim is this binary re-executed: it must take over
	// before anything else runs (internal/agent/process).
	process.MaybeRunShim()
	// So is the stand-in for containers with neither image nor command.
	podworker.MaybeRunPause()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
