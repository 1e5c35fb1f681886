// Command terminus is a Kubernetes-compatible control plane in one binary,
// faithful above all in how objects die. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/terminus-project/terminus/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
