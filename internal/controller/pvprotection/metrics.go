package pvprotection

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	finalizers *prometheus.CounterVec
	errors     prometheus.Counter
	syncs      prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		finalizers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_pvprotection_finalizer_changes_total",
			Help: "Changes of kubernetes.io/pv-protection on volumes, by operation (added, removed).",
		}, []string{"operation"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_pvprotection_sync_errors_total",
			Help: "Volume syncs that failed and were queued for a retry.",
		}),
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_pvprotection_syncs_total",
			Help: "Volume syncs, successful or not.",
		}),
	}
}

// register registers the metrics with reg, if reg is not nil.
func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	cs := []prometheus.Collector{m.finalizers, m.errors, m.syncs}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("pvprotection: registering metrics: %w", err)
		}
	}
	return nil
}
