package replicaset

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// metrics are one controller's; the prefix names the kind
// (terminus_replicaset_, terminus_replicationcontroller_) so that both
// controllers can register with one registry.
type metrics struct {
	name   string
	syncs  prometheus.Counter
	errors prometheus.Counter
	podOps *prometheus.CounterVec
}

func newMetrics(name string) *metrics {
	prefix := "terminus_" + name + "_"
	return &metrics{
		name: name,
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prefix + "syncs_total",
			Help: "Owner syncs, successful or not.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prefix + "sync_errors_total",
			Help: "Owner syncs that failed and were queued for a retry.",
		}),
		podOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "pod_operations_total",
			Help: "Pod creates and deletes, by operation (create, delete) and result (success, error).",
		}, []string{"operation", "result"}),
	}
}

// register registers the metrics with reg, if reg is not nil.
func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	return nil
}

// unregister undoes register.
func (m *metrics) unregister(reg prometheus.Registerer) {
	runner.Unregister(reg, m.collectors()...)
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.syncs, m.errors, m.podOps}
}

// observe counts a sync.
func (m *metrics) observe(err error) {
	m.syncs.Inc()
	if err != nil {
		m.errors.Inc()
	}
}

// podOp counts a pod create or delete.
func (m *metrics) podOp(op string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.podOps.WithLabelValues(op, result).Inc()
}
