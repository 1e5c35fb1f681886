package pvcprotection

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

type metrics struct {
	finalizers *prometheus.CounterVec
	errors     prometheus.Counter
	liveLists  prometheus.Counter
	syncs      prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		finalizers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_pvcprotection_finalizer_changes_total",
			Help: "Changes of kubernetes.io/pvc-protection on claims, by operation (added, removed).",
		}, []string{"operation"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_pvcprotection_sync_errors_total",
			Help: "Claim syncs that failed and were queued for a retry.",
		}),
		liveLists: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_pvcprotection_live_pod_lists_total",
			Help: "Live pod LISTs made to confirm that a terminating claim is unused.",
		}),
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_pvcprotection_syncs_total",
			Help: "Claim syncs, successful or not.",
		}),
	}
}

// register registers the metrics with reg, if reg is not nil.
func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("pvcprotection: %w", err)
	}
	return nil
}

// unregister undoes register.
func (m *metrics) unregister(reg prometheus.Registerer) {
	runner.Unregister(reg, m.collectors()...)
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.finalizers, m.errors, m.liveLists, m.syncs}
}

// observe counts a claim sync.
func (m *metrics) observe(err error) {
	m.syncs.Inc()
	if err != nil {
		m.errors.Inc()
	}
}
