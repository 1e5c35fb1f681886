package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

// Clientset returns a typed admin client of the server.
func (s *Server) Clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		t.Fatalf("apptest: clientset: %v", err)
	}
	return c
}

// Metadata returns a metadata admin client of the server.
func (s *Server) Metadata(t testing.TB) metadata.Interface {
	t.Helper()
	c, err := metadata.NewForConfig(s.Config)
	if err != nil {
		t.Fatalf("apptest: metadata client: %v", err)
	}
	return c
}

// Discovery returns a discovery admin client of the server.
func (s *Server) Discovery(t testing.TB) *discovery.DiscoveryClient {
	t.Helper()
	c, err := discovery.NewDiscoveryClientForConfig(s.Config)
	if err != nil {
		t.Fatalf("apptest: discovery client: %v", err)
	}
	return c
}

// Runner is a long-running part (DESIGN section 4): Run returns when ctx
// ends.
type Runner interface {
	Run(ctx context.Context) error
}

// Factory is an informer factory, typed or metadata.
type Factory interface {
	Start(stopCh <-chan struct{})
	Shutdown()
}

// Run runs r and then starts the factories, in the order the app does it
// (the controller's New registered its informers and handlers before),
// until the test ends. Cleanup then ends r's context, fails the test if r
// does not return nil, and shuts the factories down, so that the test
// leaks no goroutine.
func Run(t testing.TB, r Runner, factories ...Factory) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for _, f := range factories {
		f.Start(ctx.Done())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		for _, f := range factories {
			f.Shutdown()
		}
	})
}

// Eventually polls cond every 20 ms until it holds; an error from cond, or
// 20 s without success, fails the test.
func Eventually(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// Counter sums the values of the counter (or gauge) family name in g: 0
// if g has none yet.
func Counter(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("apptest: gathering metrics: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}
