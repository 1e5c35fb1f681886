package deployment

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// metrics are the controller's terminus_deployment_* metrics.
type metrics struct {
	syncs    prometheus.Counter
	errors   prometheus.Counter
	rsScales *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_deployment_syncs_total",
			Help: "Deployment syncs, successful or not.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_deployment_sync_errors_total",
			Help: "Deployment syncs that failed and were queued for a retry.",
		}),
		rsScales: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_deployment_replicaset_operations_total",
			Help: "ReplicaSet writes, by operation (create, scale, delete) and result (success, error).",
		}, []string{"operation", "result"}),
	}
}

// register registers the metrics with reg, if reg is not nil.
func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	return nil
}

// unregister undoes register.
func (m *metrics) unregister(reg prometheus.Registerer) { runner.Unregister(reg, m.collectors()...) }

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.syncs, m.errors, m.rsScales}
}

// observe counts a sync.
func (m *metrics) observe(err error) {
	m.syncs.Inc()
	if err != nil {
		m.errors.Inc()
	}
}

// rsOp counts a ReplicaSet write.
func (m *metrics) rsOp(op string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.rsScales.WithLabelValues(op, result).Inc()
}
