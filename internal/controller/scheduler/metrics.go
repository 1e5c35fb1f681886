package scheduler

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// Attempt results, as upstream's scheduler_schedule_attempts_total labels
// them.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

type metrics struct {
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
	parked   prometheus.GaugeFunc
}

func newMetrics(parked func() int) *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_scheduler_schedule_attempts_total",
			Help: "Scheduling attempts, by result (scheduled, unschedulable, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "terminus_scheduler_scheduling_attempt_duration_seconds",
			Help:    "Duration of scheduling attempts, binding included, by result, on the injected clock.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result"}),
		parked: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "terminus_scheduler_unschedulable_pods",
			Help: "Pending pods parked as unschedulable, waiting for a cluster change.",
		}, func() float64 { return float64(parked()) }),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	runner.Unregister(reg, m.collectors()...)
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.attempts, m.duration, m.parked}
}

func (m *metrics) observe(result string, took time.Duration) {
	m.attempts.WithLabelValues(result).Inc()
	m.duration.WithLabelValues(result).Observe(took.Seconds())
}
