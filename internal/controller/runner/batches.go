package runner

import (
	"sync"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// batches groups queued keys (upstream pvcprotection's
// pvcProcessingStore). A group is queued once however many of its keys
// wait; the worker that takes it takes all of them.
type batches[K comparable] struct {
	mu      sync.Mutex
	pending map[string][]K
	groups  workqueue.TypedInterface[string]
}

func newBatches[K comparable](name string, clk clock.WithTicker) *batches[K] {
	return &batches[K]{
		pending: map[string][]K{},
		groups:  workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: name, Clock: clk}),
	}
}

// add files key under group.
func (b *batches[K]) add(group string, key K) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.pending[group]; !ok {
		b.groups.Add(group)
	}
	b.pending[group] = append(b.pending[group], key)
}

// next blocks for a group and returns its keys; ok is false once the
// batches are shut down.
func (b *batches[K]) next() (group string, keys []K, ok bool) {
	group, quit := b.groups.Get()
	if quit {
		return "", nil, false
	}
	b.mu.Lock()
	keys = b.pending[group]
	delete(b.pending, group)
	b.mu.Unlock()
	b.groups.Done(group)
	return group, keys, true
}

func (b *batches[K]) shutDown() { b.groups.ShutDown() }
