// Package scenario holds terminus' behaviour scenarios: black-box checks of
// the deletion lifecycle written once against a small Cluster interface and
// named by the rule id of /work/shared/spec/lifecycle.md that they check
// ("B6 pending delete returns 200 with the object").
//
// A scenario talks to the cluster over HTTPS only: raw requests for exact
// status codes, bodies and headers, and raw watch streams
// (?watch=1&resourceVersion=N) for exact event sequences. It imports only the
// standard library and k8s.io/* modules, so the same scenarios can run
// against terminus, an in-process test server or a real kube-apiserver.
package scenario

import (
	"net/http"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// Cluster is what a scenario needs from the system under test.
type Cluster interface {
	// Config is an admin client configuration (host, TLS, bearer token).
	Config() *rest.Config
	// Namespace returns a fresh, empty, Active namespace for one scenario.
	Namespace(t *testing.T) string
}

// Scenario is one behaviour check.
type Scenario struct {
	// Name starts with the spec rule id(s), e.g. "B6 pending delete returns 200 with the object".
	Name string
	Run  func(h *H)
}

// All lists every scenario, in spec order.
func All() []Scenario {
	var all []Scenario
	all = append(all, scenariosA()...)
	all = append(all, scenariosB()...)
	all = append(all, scenariosC()...)
	all = append(all, scenariosE()...)
	all = append(all, scenariosG()...)
	all = append(all, scenariosIJ()...)
	return all
}

// WithControllers lists the scenarios that need the controllers running
// (garbage collector, namespace controller, pvc/pv protection, podgc), in
// spec order. They are kept apart from All, whose scenarios observe the API
// server alone and run against a server without controllers. They wait on
// conditions with a deadline (ControllerTimeout) long enough for upstream's
// 5 s namespace deletion delay, its requeue intervals and podgc's period.
func WithControllers() []Scenario {
	var all []Scenario
	all = append(all, scenariosD()...)
	all = append(all, scenariosEControllers()...)
	all = append(all, scenariosF()...)
	return all
}

// Run runs every scenario of All as a parallel subtest of t, each in its
// own namespace.
func Run(t *testing.T, c Cluster) {
	t.Helper()
	RunSet(t, c, All())
}

// RunSet runs the given scenarios as parallel subtests of t, each in its
// own namespace.
func RunSet(t *testing.T, c Cluster, set []Scenario) {
	cfg := rest.CopyConfig(c.Config())
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("scenario: http client: %v", err)
	}
	base := strings.TrimSuffix(cfg.Host, "/")
	for _, s := range set {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			h := &H{T: t, NS: c.Namespace(t), base: base, hc: hc}
			s.Run(h)
		})
	}
}

// H is the per-scenario harness: the test, its namespace and an
// authenticated HTTP client.
type H struct {
	*testing.T
	NS   string
	base string
	hc   *http.Client
	seq  int
}
