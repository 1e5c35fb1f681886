// Package apptest starts a whole terminus server in a test, on the memory
// store, for the tests of packages that act as API clients (controllers,
// the agent). It is internal: the public test environment is terminustest
// (issue 9).
package apptest

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/terminus-project/terminus/internal/app"
)

// Options tune the server.
type Options struct {
	// Controllers selects the built-in controllers to run, with
	// kube-controller-manager's syntax ("*", "-gc", "namespace"). Empty
	// runs none, so a test can run its own instance of the controller it
	// tests against the server.
	Controllers []string
}

// Server is a running test server.
type Server struct {
	// Config is an admin client config (bearer token over HTTPS).
	Config *rest.Config
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// URL is the server's https URL.
	URL string
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Info, 1)
	done := make(chan error, 1)
	controllers := o.Controllers
	if len(controllers) == 0 {
		controllers = []string{"-*"}
	}
	go func() {
		done <- app.Run(ctx, app.Config{
			DataDir: t.TempDir(), BindAddress: "127.0.0.1", Storage: app.StorageMemory,
			Controllers: controllers,
		}, func(i app.Info) { started <- i })
	}()
	var info app.Info
	select {
	case info = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("apptest: server did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("apptest: server did not start within 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("apptest: server stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("apptest: server did not stop within 15s")
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", info.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	return &Server{Config: cfg, Kubeconfig: info.Kubeconfig, URL: info.URL}
}
