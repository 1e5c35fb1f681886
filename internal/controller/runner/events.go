package runner

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// StartEvents starts recording a controller's events as core/v1 Events
// through client, aggregated by the correlator on clk (so tests stepping a
// fake clock see upstream's counts), and at debug level also to log. It
// returns the recorder, with component as the event source, and the
// function that stops the broadcaster.
func StartEvents(client kubernetes.Interface, clk clock.PassiveClock, log *slog.Logger, component string) (record.EventRecorder, func()) {
	b := record.NewBroadcasterWithCorrelatorOptions(record.CorrelatorOptions{Clock: clk})
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	if log != nil && log.Enabled(context.Background(), slog.LevelDebug) {
		b.StartEventWatcher(func(e *corev1.Event) {
			log.Debug("event", "object", e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name, "type", e.Type, "reason", e.Reason, "message", e.Message)
		})
	}
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}), b.Shutdown
}
