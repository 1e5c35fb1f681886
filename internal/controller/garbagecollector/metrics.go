package garbagecollector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the GC's Prometheus metrics (terminus_gc_*).
type metrics struct {
	controller *Controller // read by the collector at scrape time

	deletes    *prometheus.CounterVec // by propagation policy
	orphans    prometheus.Counter
	refPatches prometheus.Counter
	finalizers *prometheus.CounterVec // by finalizer
	errors     *prometheus.CounterVec // by operation

	monitorSynced *prometheus.Desc
	graphNodes    *prometheus.Desc
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deletes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_gc_deletes_total",
			Help: "Objects the garbage collector deleted, by propagation policy.",
		}, []string{"policy"}),
		orphans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_gc_orphans_total",
			Help: "Dependents whose reference to an owner deleted with orphan propagation was removed.",
		}),
		refPatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_gc_reference_prunes_total",
			Help: "Dependents kept because of a solid owner whose dangling or waiting references were removed.",
		}),
		finalizers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_gc_finalizers_removed_total",
			Help: "GC finalizers (orphan, foregroundDeletion) the garbage collector removed.",
		}, []string{"finalizer"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "terminus_gc_errors_total",
			Help: "Failed garbage collector operations, by operation (attempt_to_delete, attempt_to_orphan, discovery).",
		}, []string{"op"}),
		monitorSynced: prometheus.NewDesc("terminus_gc_monitor_synced",
			"1 if the garbage collector's informer for the resource has synced, else 0.", []string{"resource"}, nil),
		graphNodes: prometheus.NewDesc("terminus_gc_graph_nodes",
			"Nodes (observed and virtual) in the garbage collector's dependency graph.", nil, nil),
	}
	for _, op := range []string{"attempt_to_delete", "attempt_to_orphan", "discovery"} {
		m.errors.WithLabelValues(op)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.deletes, m.orphans, m.refPatches, m.finalizers, m.errors, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Describe implements prometheus.Collector for the scrape-time gauges.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.monitorSynced
	ch <- m.graphNodes
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	c := m.controller
	if c == nil {
		return
	}
	c.monitorLock.RLock()
	for gvr, mon := range c.monitors {
		v := 0.0
		if mon.hasSynced() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(m.monitorSynced, prometheus.GaugeValue, v, resourceName(gvr))
	}
	c.monitorLock.RUnlock()
	ch <- prometheus.MustNewConstMetric(m.graphNodes, prometheus.GaugeValue, float64(c.uidToNode.Len()))
}
