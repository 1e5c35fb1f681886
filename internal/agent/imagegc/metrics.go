package imagegc

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/controller/runner"
)

type metrics struct {
	bytesFreed    prometheus.Counter
	imagesRemoved prometheus.Counter
	images        prometheus.Gauge
	duration      prometheus.Histogram
	usage         prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		bytesFreed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_agent_image_gc_bytes_freed_total",
			Help: "Bytes of images removed by image GC, max-age and space passes (H7).",
		}),
		imagesRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "terminus_agent_image_gc_images_removed_total",
			Help: "Images removed by image GC, max-age and space passes (H7).",
		}),
		images: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "terminus_agent_images",
			Help: "Images in the local store after the last image GC pass.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "terminus_agent_image_gc_duration_seconds",
			Help:    "Time of one image GC pass.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		usage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "terminus_agent_image_fs_usage_percent",
			Help: "Usage of the image filesystem in percent, as image GC computes it (H7), at the last pass.",
		}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.bytesFreed, m.imagesRemoved, m.images, m.duration, m.usage}
}

// register registers every metric or, on failure, none.
func (m *metrics) register(r prometheus.Registerer) error {
	if err := runner.Register(r, m.collectors()...); err != nil {
		return fmt.Errorf("imagegc: %w", err)
	}
	return nil
}
