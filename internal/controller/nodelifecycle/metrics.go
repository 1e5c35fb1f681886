package nodelifecycle

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// metrics follow upstream's node_collector_* family where it has one
// (zone size, unhealthy nodes, pass duration).
type metrics struct {
	passes       prometheus.Counter
	passDuration prometheus.Histogram
	unknown      prometheus.Counter
	taints       *prometheus.CounterVec
	errors       *prometheus.CounterVec
	zoneSize     *prometheus.GaugeVec
	unhealthy    *prometheus.GaugeVec
}

func newMetrics() *metrics {
	return &metrics{
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_nodelifecycle_monitor_passes_total",
			Help: "Node health monitor passes.",
		}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "terminus_nodelifecycle_monitor_pass_duration_seconds",
			Help:    "Duration of node health monitor passes, on the injected clock.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		unknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_nodelifecycle_nodes_marked_unknown_total",
			Help: "Times a node's conditions were set to Unknown because it stopped posting status and renewing its lease.",
		}),
		taints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_nodelifecycle_taint_changes_total",
			Help: "Taints added or removed on nodes, by key, effect and operation (added, removed).",
		}, []string{"key", "effect", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_nodelifecycle_errors_total",
			Help: "Failed writes, by what was written (status, taints, pods).",
		}, []string{"write"}),
		zoneSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "terminus_nodelifecycle_zone_size",
			Help: "Nodes per zone counted for disruption (upstream node_collector_zone_size).",
		}, []string{"zone"}),
		unhealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "terminus_nodelifecycle_unhealthy_nodes",
			Help: "Nodes per zone whose Ready condition is not True (upstream node_collector_unhealthy_nodes_in_zone).",
		}, []string{"zone"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.passes, m.passDuration, m.unknown, m.taints, m.errors, m.zoneSize, m.unhealthy}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("nodelifecycle: %w", err)
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	runner.Unregister(reg, m.collectors()...)
}
