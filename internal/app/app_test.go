package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// testServer is a full terminus server on the memory store, in process.
type testServer struct {
	info   Info
	config *rest.Config
	client kubernetes.Interface
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	// The API tests run no controllers: they would write objects
	// of their own (kube-root-ca.crt, default ServiceAccounts).
	return startServerWith(t, []string{"-*"})
}

func startServerWith(t *testing.T, controllers []string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{DataDir: t.TempDir(), BindAddress: "127.0.0.1", Storage: StorageMemory, Controllers: controllers}, func(i Info) { started <- i })
	}()
	var info Info
	select {
	case info = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start within 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop within 15s")
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", info.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	return &testServer{info: info, config: cfg, client: kubernetes.NewForConfigOrDie(cfg)}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
