package scenario

import (
	"fmt"
	"slices"
	"time"
)

// Finalizer names used by scenarios (qualified, so valid everywhere).
const (
	hold  = "example.com/hold"
	hold2 = "example.com/hold2"
)

func metaFor(name string, finalizers []string) Obj {
	m := Obj{"name": name}
	if len(finalizers) > 0 {
		m["finalizers"] = finalizers
	}
	return m
}

// CM is a ConfigMap body.
func CM(name string, finalizers ...string) Obj {
	return Obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": metaFor(name, finalizers), "data": Obj{"k": "v"}}
}

// Pod is a pod body; node "" leaves it unscheduled.
func Pod(name, node string, finalizers ...string) Obj {
	spec := Obj{"containers": []Obj{{"name": "c", "image": "busybox"}}}
	if node != "" {
		spec["nodeName"] = node
	}
	return Obj{"apiVersion": "v1", "kind": "Pod", "metadata": metaFor(name, finalizers), "spec": spec}
}

func podTemplate(labels Obj) Obj {
	return Obj{
		"metadata": Obj{"labels": labels},
		"spec": Obj{
			"restartPolicy": "Never",
			"containers":    []Obj{{"name": "c", "image": "busybox"}},
		},
	}
}

// Job is a batch/v1 Job body with no finalizers of its own unless given.
func Job(name string, finalizers ...string) Obj {
	return Obj{"apiVersion": "batch/v1", "kind": "Job", "metadata": metaFor(name, finalizers),
		"spec": Obj{"template": podTemplate(nil)}}
}

// RC is a v1 ReplicationController body.
func RC(name string, finalizers ...string) Obj {
	labels := Obj{"app": name}
	t := podTemplate(labels)
	t["spec"].(Obj)["restartPolicy"] = "Always"
	return Obj{"apiVersion": "v1", "kind": "ReplicationController", "metadata": metaFor(name, finalizers),
		"spec": Obj{"replicas": 0, "selector": labels, "template": t}}
}

// Deployment is an apps/v1 Deployment body.
func Deployment(name string, finalizers ...string) Obj {
	labels := Obj{"app": name}
	t := podTemplate(labels)
	t["spec"].(Obj)["restartPolicy"] = "Always"
	return Obj{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metaFor(name, finalizers),
		"spec": Obj{"replicas": 0, "selector": Obj{"matchLabels": labels}, "template": t}}
}

// Service is a v1 Service body.
func Service(name string) Obj {
	return Obj{"apiVersion": "v1", "kind": "Service", "metadata": metaFor(name, nil),
		"spec": Obj{"selector": Obj{"app": name}, "ports": []Obj{{"port": 80}}}}
}

// EventObj is a v1 Event body about a ConfigMap in ns.
func EventObj(name, ns string, finalizers ...string) Obj {
	return Obj{"apiVersion": "v1", "kind": "Event", "metadata": metaFor(name, finalizers),
		"involvedObject": Obj{"kind": "ConfigMap", "name": "x", "namespace": ns, "apiVersion": "v1"},
		"reason":         "Scenario", "message": "m", "type": "Normal", "source": Obj{"component": "scenario"}}
}

// Namespace is a v1 Namespace body.
func Namespace(name string) Obj {
	return Obj{"apiVersion": "v1", "kind": "Namespace", "metadata": metaFor(name, nil)}
}

// DeleteOpts is a DeleteOptions body; fields are given as key/value pairs.
func DeleteOpts(kv ...any) Obj {
	o := Obj{"kind": "DeleteOptions", "apiVersion": "v1"}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i].(string)] = kv[i+1]
	}
	return o
}

// Create POSTs body to a collection and wants 201.
func (h *H) Create(collection string, body Obj) Obj {
	h.Helper()
	return h.Want(h.Post(collection, body), 201)
}

// Gen returns a scenario-unique object name with the given prefix.
func (h *H) Gen(prefix string) string {
	h.seq++
	return fmt.Sprintf("%s-%d", prefix, h.seq)
}

// Sub is a namespace name derived from the scenario's own.
func (h *H) Sub(suffix string) string { return h.NS + "-" + suffix }

// Gone fails unless GET path answers 404.
func (h *H) Gone(path string) {
	h.Helper()
	if r := h.Get(path); r.Code != 404 {
		h.Errorf("GET %s after removal: want 404, got %s", path, r)
	}
}

// Terminating GETs path, wants it present with a deletionTimestamp, and returns it.
func (h *H) Terminating(path string) Obj {
	h.Helper()
	o := h.Want(h.Get(path), 200)
	if _, ok := DeletionTime(h, o); !ok {
		h.Errorf("GET %s: want a deletionTimestamp, got none: %s", path, js(o["metadata"]))
	}
	return o
}

// WantFinalizers checks metadata.finalizers exactly (nil means none).
func (h *H) WantFinalizers(what string, o Obj, want ...string) {
	h.Helper()
	if got := Finalizers(o); !slices.Equal(got, want) {
		h.Errorf("%s: finalizers %q, want %q", what, got, want)
	}
}

// WantGeneration checks metadata.generation (0 means absent).
func (h *H) WantGeneration(what string, o Obj, want int64) {
	h.Helper()
	got, ok := N(o, "metadata", "generation")
	if want == 0 && ok {
		h.Errorf("%s: generation %d, want the field absent", what, got)
	} else if got != want {
		h.Errorf("%s: generation %d (present %v), want %d", what, got, ok, want)
	}
}

// WantGrace checks metadata.deletionGracePeriodSeconds; want < 0 means absent.
func (h *H) WantGrace(what string, o Obj, want int64) {
	h.Helper()
	got, ok := N(o, "metadata", "deletionGracePeriodSeconds")
	switch {
	case want < 0 && ok:
		h.Errorf("%s: deletionGracePeriodSeconds %d, want the field absent", what, got)
	case want >= 0 && (!ok || got != want):
		h.Errorf("%s: deletionGracePeriodSeconds %d (present %v), want %d", what, got, ok, want)
	}
}

// tolerance for wall-clock comparisons.
const slack = 2 * time.Second

// WantDeletionNear checks deletionTimestamp ≈ at (within slack).
func (h *H) WantDeletionNear(what string, o Obj, at time.Time) time.Time {
	h.Helper()
	ts, ok := DeletionTime(h, o)
	if !ok {
		h.Errorf("%s: no deletionTimestamp, want ≈ %s", what, at.UTC().Format(time.RFC3339))
		return ts
	}
	if d := ts.Sub(at); d < -slack || d > slack {
		h.Errorf("%s: deletionTimestamp %s, want %s ± %v", what, ts.Format(time.RFC3339), at.UTC().Format(time.RFC3339), slack)
	}
	return ts
}
