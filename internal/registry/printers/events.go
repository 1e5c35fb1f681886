package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Upstream serves core/v1 and events.k8s.io/v1 events from one storage and
// prints both through the internal Event, so both resources share the same
// columns here; events.k8s.io/v1 objects are first mapped onto the core
// field names their conversion uses (regarding -> involvedObject, note ->
// message, deprecated* -> source/firstTimestamp/lastTimestamp/count).

func addEvents(s *Set) {
	evDoc := corev1.Event{}.SwaggerDoc()
	refDoc := corev1.ObjectReference{}.SwaggerDoc()
	name := nameColumn()
	name.Priority = 1
	cols := []metav1.TableColumnDefinition{
		col("Last Seen", "string", evDoc["lastTimestamp"]),
		col("Type", "string", evDoc["type"]),
		col("Reason", "string", evDoc["reason"]),
		col("Object", "string", evDoc["involvedObject"]),
		wideCol("Subobject", "string", refDoc["fieldPath"]),
		wideCol("Source", "string", evDoc["source"]),
		col("Message", "string", evDoc["message"]),
		wideCol("First Seen", "string", evDoc["firstTimestamp"]),
		wideCol("Count", "string", evDoc["count"]),
		name,
	}
	s.add(Printer{Columns: cols, Cells: cellsOf("events", coreEventCells)}, core("events"))
	s.add(Printer{Columns: cols, Cells: cellsOf("events.events.k8s.io", eventsV1Cells)},
		schema.GroupResource{Group: "events.k8s.io", Resource: "events"})
}

// eventView is the subset of the internal Event that the printer reads.
type eventView struct {
	name                 string
	eventType, reason    string
	message              string
	involved             corev1.ObjectReference
	source               corev1.EventSource
	reportingController  string
	reportingInstance    string
	firstTimestamp       metav1.Time
	lastTimestamp        metav1.Time
	eventTime            metav1.MicroTime
	count                int32
	series               bool
	seriesCount          int32
	seriesLastObservedAt metav1.MicroTime
}

func coreEventCells(ev *corev1.Event, now time.Time) []interface{} {
	v := eventView{
		name: ev.Name, eventType: ev.Type, reason: ev.Reason, message: ev.Message,
		involved: ev.InvolvedObject, source: ev.Source,
		reportingController: ev.ReportingController, reportingInstance: ev.ReportingInstance,
		firstTimestamp: ev.FirstTimestamp, lastTimestamp: ev.LastTimestamp, eventTime: ev.EventTime,
		count: ev.Count,
	}
	if ev.Series != nil {
		v.series, v.seriesCount, v.seriesLastObservedAt = true, ev.Series.Count, ev.Series.LastObservedTime
	}
	return eventCells(&v, now)
}

func eventsV1Cells(ev *eventsv1.Event, now time.Time) []interface{} {
	v := eventView{
		name: ev.Name, eventType: ev.Type, reason: ev.Reason, message: ev.Note,
		involved: ev.Regarding, source: ev.DeprecatedSource,
		reportingController: ev.ReportingController, reportingInstance: ev.ReportingInstance,
		firstTimestamp: ev.DeprecatedFirstTimestamp, lastTimestamp: ev.DeprecatedLastTimestamp, eventTime: ev.EventTime,
		count: ev.DeprecatedCount,
	}
	if ev.Series != nil {
		v.series, v.seriesCount, v.seriesLastObservedAt = true, ev.Series.Count, ev.Series.LastObservedTime
	}
	return eventCells(&v, now)
}

// eventCells reproduces upstream's printEvent: timestamps fall back from the
// deprecated first/last timestamps to eventTime, a series overrides LAST
// SEEN and COUNT, and a singleton new-style event counts as 1.
func eventCells(ev *eventView, now time.Time) []interface{} {
	first := translateTimestampSince(ev.firstTimestamp, now)
	if ev.firstTimestamp.IsZero() {
		first = translateMicroTimestampSince(ev.eventTime, now)
	}
	last := translateTimestampSince(ev.lastTimestamp, now)
	if ev.lastTimestamp.IsZero() {
		last = first
	}
	count := ev.count
	if ev.series {
		last = translateMicroTimestampSince(ev.seriesLastObservedAt, now)
		count = ev.seriesCount
	} else if count == 0 {
		count = 1
	}

	target := strings.ToLower(ev.involved.Kind)
	if ev.involved.Name != "" {
		target = fmt.Sprintf("%s/%s", strings.ToLower(ev.involved.Kind), ev.involved.Name)
	}
	return []interface{}{
		last, ev.eventType, ev.reason, target,
		ev.involved.FieldPath,
		formatEventSource(ev.source, ev.reportingController, ev.reportingInstance),
		strings.TrimSpace(ev.message),
		first, int64(count), ev.name,
	}
}

// formatEventSource renders "component, host", preferring source fields and
// falling back to reportingController/reportingInstance, omitting an empty
// host.
func formatEventSource(es corev1.EventSource, reportingController, reportingInstance string) string {
	component := es.Component
	if component == "" {
		component = reportingController
	}
	host := es.Host
	if host == "" {
		host = reportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}
