// Command terminus is a Kubernetes-compatible control plane in one binary,
// faithful above all in how objects die. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/terminus-project/terminus/internal/agent/process"
	"github.com/terminus-project/terminus/internal/cli"
)

func main() {
	// A container's shim is this binary re-executed: it must take over
	// before anything else runs (internal/agent/process).
	process.MaybeRunShim()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
