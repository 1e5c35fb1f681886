package endpointslice

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// metrics are the controller's terminus_endpointslice_* series.
type metrics struct {
	syncs   prometheus.Counter
	errors  prometheus.Counter
	changes *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_endpointslice_syncs_total",
			Help: "Service syncs, successful or not.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_endpointslice_sync_errors_total",
			Help: "Service syncs that failed and were queued for a retry.",
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_endpointslice_changes_total",
			Help: "EndpointSlice writes, by operation (create, update, delete) and result (success, error).",
		}, []string{"operation", "result"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.syncs, m.errors, m.changes}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("endpointslice: %w", err)
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) { runner.Unregister(reg, m.collectors()...) }

// observe counts a sync; a wait for a stale cache is not an error.
func (m *metrics) observe(err error) {
	m.syncs.Inc()
	if err != nil && !isStale(err) {
		m.errors.Inc()
	}
}

// change counts a slice write.
func (m *metrics) change(op string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.changes.WithLabelValues(op, result).Inc()
}
