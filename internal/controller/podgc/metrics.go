package podgc

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

type metrics struct {
	deletions *prometheus.CounterVec
	errors    *prometheus.CounterVec
	passes    prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		deletions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_podgc_force_delete_pods_total",
			Help: "Pods force-deleted by the pod GC, by namespace and reason (terminated, out-of-service, orphaned, unscheduled).",
		}, []string{"namespace", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_podgc_force_delete_pod_errors_total",
			Help: "Errors force-deleting pods, by namespace and reason.",
		}, []string{"namespace", "reason"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_podgc_passes_total",
			Help: "Completed pod GC passes.",
		}),
	}
}

// register registers the metrics with reg, if reg is not nil.
func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.deletions, m.errors, m.passes); err != nil {
		return fmt.Errorf("podgc: %w", err)
	}
	return nil
}
