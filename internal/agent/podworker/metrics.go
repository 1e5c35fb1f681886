package podworker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

type metrics struct {
	pods              prometheus.Gauge
	starts            prometheus.Counter
	kills             *prometheus.CounterVec
	deadContainers    prometheus.Gauge
	containersRemoved prometheus.Counter
	gcDuration        prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		pods: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "terminus_podworker_pods", Help: "Pods with a worker on this node.",
		}),
		starts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_podworker_container_starts_total", Help: "Container attempts started.",
		}),
		kills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_podworker_stop_signals_total", Help: "Signals sent to stop containers (G6), by signal.",
		}, []string{"signal"}),
		deadContainers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "terminus_agent_dead_containers", Help: "Dead containers kept on the node after the last container GC pass (H2).",
		}),
		containersRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_agent_container_gc_removed_total", Help: "Dead containers removed by container GC, periodic and eager (H3, H4).",
		}),
		gcDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "terminus_agent_container_gc_duration_seconds", Help: "Time of one container GC pass.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.pods, m.starts, m.kills, m.deadContainers, m.containersRemoved, m.gcDuration}
}

// register registers every metric or, on failure, none.
func (m *metrics) register(r prometheus.Registerer) error {
	if err := runner.Register(r, m.collectors()...); err != nil {
		return fmt.Errorf("podworker: %w", err)
	}
	return nil
}

func (m *metrics) unregister(r prometheus.Registerer) { runner.Unregister(r, m.collectors()...) }
