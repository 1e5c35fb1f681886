package fieldmanager

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// benchLive is a ConfigMap of ten keys owned by an applier and two
// updaters, as a busy object would be.
func benchLive(b *testing.B, f *fixture, m *Manager) runtime.Object {
	b.Helper()
	var data strings.Builder
	for i := range 10 {
		fmt.Fprintf(&data, "k%d: v%d\n  ", i, i)
	}
	live, err := m.Apply(nil, []byte(cmHeader+"  labels: {app: bench}\ndata:\n  "+data.String()), "applier", false)
	if err != nil {
		b.Fatal(err)
	}
	live = f.roundTrip(b, live)
	for _, mgr := range []string{"editor", "controller"} {
		next, err := m.Update(live, f.mergeUpdate(b, live, "data: {"+mgr+": x}"), mgr)
		if err != nil {
			b.Fatal(err)
		}
		live = f.roundTrip(b, next)
	}
	return live
}

// BenchmarkUpdateConfigMap is the hot path: a non-apply write changing one
// key. Copying the request object (Update writes into it) is excluded.
func BenchmarkUpdateConfigMap(b *testing.B) {
	f := builtinFixture(b, configMapGVK)
	f.clock = nil // the real clock, as in production
	m, err := New(Config{TypeConverter: f.tc, Scheme: f.scheme, GVK: f.gvk})
	if err != nil {
		b.Fatal(err)
	}
	live := benchLive(b, f, m)
	update := live.DeepCopyObject().(*corev1.ConfigMap)
	update.Data["k3"] = "changed"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		newObj := update.DeepCopy()
		b.StartTimer()
		if _, err := m.Update(live, newObj, "editor"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyConfigMap applies a changed value to the same object.
func BenchmarkApplyConfigMap(b *testing.B) {
	f := builtinFixture(b, configMapGVK)
	m, err := New(Config{TypeConverter: f.tc, Scheme: f.scheme, GVK: f.gvk})
	if err != nil {
		b.Fatal(err)
	}
	live := benchLive(b, f, m)
	patch := []byte(cmHeader + "data: {k1: changed, k2: v2}")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Apply(live, patch, "applier", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewBuiltinTypeConverter is the one-off cost at start.
func BenchmarkNewBuiltinTypeConverter(b *testing.B) {
	s := testScheme(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := NewBuiltinTypeConverter(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateConfigMap is a create's ownership record (Create's fast
// path), as `terminus bench --scenario create` writes ConfigMaps.
func BenchmarkCreateConfigMap(b *testing.B) {
	f := builtinFixture(b, configMapGVK)
	f.clock = nil
	m, err := New(Config{TypeConverter: f.tc, Scheme: f.scheme, GVK: f.gvk})
	if err != nil {
		b.Fatal(err)
	}
	obj := &corev1.ConfigMap{}
	obj.Name, obj.Namespace = "bench", "default"
	obj.Labels = map[string]string{"app": "bench", "run": "x"}
	obj.Data = map[string]string{"payload": strings.Repeat("x", 256)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		newObj := obj.DeepCopy()
		b.StartTimer()
		if _, err := m.Create(newObj, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
