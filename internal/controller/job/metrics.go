package job

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

// metrics are the controller's terminus_job_* metrics (upstream's
// job_syncs_total, job_pods_finished_total, jobs_finished_total,
// job_pods_creation_total, under terminus names).
type metrics struct {
	syncs        prometheus.Counter
	errors       prometheus.Counter
	podOps       *prometheus.CounterVec
	podsFinished *prometheus.CounterVec
	jobsFinished *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_job_syncs_total",
			Help: "Job syncs, successful or not.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_job_sync_errors_total",
			Help: "Job syncs that failed and were queued for a retry.",
		}),
		podOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_job_pod_operations_total",
			Help: "Pod creates, deletes and tracking-finalizer removals, by operation (create, delete, remove_finalizer) and result (success, error).",
		}, []string{"operation", "result"}),
		podsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_job_pods_finished_total",
			Help: "Finished pods counted in Job status, by result (succeeded, failed).",
		}, []string{"result"}),
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_job_finished_total",
			Help: "Jobs that finished, by result (succeeded, failed) and reason.",
		}, []string{"result", "reason"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.syncs, m.errors, m.podOps, m.podsFinished, m.jobsFinished}
}

// register registers the metrics with reg, if reg is not nil.
func (m *metrics) register(reg prometheus.Registerer) error {
	if err := runner.Register(reg, m.collectors()...); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	return nil
}

// unregister undoes register.
func (m *metrics) unregister(reg prometheus.Registerer) { runner.Unregister(reg, m.collectors()...) }

// observe counts a sync.
func (m *metrics) observe(err error) {
	m.syncs.Inc()
	if err != nil {
		m.errors.Inc()
	}
}

// podOp counts a pod operation.
func (m *metrics) podOp(op string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.podOps.WithLabelValues(op, result).Inc()
}
