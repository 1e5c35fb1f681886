package garbagecollector

import (
	"fmt"
	"runtime"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGraphMemoryPerObject feeds 100k objects (10k owners, 90k dependents
// with one reference each) through the graph builder and reports the
// graph's own heap per object, and the heap including the objects'
// metadata (which an informer's store would hold anyway).
func TestGraphMemoryPerObject(t *testing.T) {
	if testing.Short() {
		t.Skip("100k objects")
	}
	const total, owners = 100_000, 10_000
	e := newStepEnv(t)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	start := heap()
	objs := make([]*metav1.PartialObjectMetadata, total)
	for i := range objs {
		name, uid := fmt.Sprintf("obj-%06d", i), fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		if i < owners {
			objs[i] = obj(cmGVK, "ns", name, uid)
			continue
		}
		o := i % owners
		objs[i] = obj(cmGVK, "ns", name, uid,
			ownerRef(cmGVK, fmt.Sprintf("obj-%06d", o), fmt.Sprintf("00000000-0000-0000-0000-%012d", o), true))
	}
	withObjects := heap()
	for _, o := range objs {
		e.c.graphChanges.Add(&event{eventType: addEvent, obj: o, gvk: cmGVK})
		e.c.processGraphChanges()
	}
	after := heap()
	runtime.KeepAlive(objs)
	if n := e.c.uidToNode.Len(); n != total {
		t.Fatalf("graph has %d nodes, want %d", n, total)
	}
	if q := e.c.attemptToDelete.Len(); q != 0 {
		t.Fatalf("attemptToDelete has %d items, want 0", q)
	}
	graph := float64(after-withObjects) / total
	all := float64(after-start) / total
	t.Logf("graph: %.0f bytes/object; graph plus object metadata: %.0f bytes/object (%d objects)", graph, all, total)
	if graph > 1024 {
		t.Errorf("graph uses %.0f bytes/object, budget 1024", graph)
	}
}
