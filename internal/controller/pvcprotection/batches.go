package pvcprotection

import (
	"sync"

	"k8s.io/client-go/util/workqueue"
)

// batches groups queued claim keys by namespace (upstream
// pvcProcessingStore). A namespace is queued once however many of its
// claims wait; the worker that takes it takes all of them.
type batches struct {
	mu         sync.Mutex
	pending    map[string][]string
	namespaces workqueue.TypedInterface[string]
}

func newBatches() *batches {
	return &batches{
		pending:    map[string][]string{},
		namespaces: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: "pvcprotection_namespaces"}),
	}
}

// add files key under namespace ns.
func (b *batches) add(ns, key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.pending[ns]; !ok {
		b.namespaces.Add(ns)
	}
	b.pending[ns] = append(b.pending[ns], key)
}

// next blocks for a namespace and returns its keys; ok is false once the
// batches are shut down.
func (b *batches) next() (ns string, keys []string, ok bool) {
	ns, quit := b.namespaces.Get()
	if quit {
		return "", nil, false
	}
	b.mu.Lock()
	keys = b.pending[ns]
	delete(b.pending, ns)
	b.mu.Unlock()
	b.namespaces.Done(ns)
	return ns, keys, true
}

func (b *batches) shutDown() { b.namespaces.ShutDown() }
