package pvcprotection

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
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
	if reg == nil {
		return nil
	}
	cs := []prometheus.Collector{m.finalizers, m.errors, m.liveLists, m.syncs}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("pvcprotection: registering metrics: %w", err)
		}
	}
	return nil
}
