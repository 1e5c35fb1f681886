package apiserver

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
)

// encodeCache keeps the encoded bytes of recent watch event objects, so
// that an event fanned out to N watchers in one format is encoded once
// rather than N times. The watch cache hands every watcher the same object
// pointer for an event; holding the pointer as the key keeps the object
// alive, so an address cannot be reused while its bytes are cached.
type encodeCache struct {
	mu      sync.Mutex
	entries map[encodeKey][]byte
	ring    []encodeKey
	next    int
}

type encodeKey struct {
	obj    runtime.Object
	format string
}

func newEncodeCache(size int) *encodeCache {
	return &encodeCache{entries: make(map[encodeKey][]byte, size), ring: make([]encodeKey, size)}
}

// get returns the bytes of obj in format, encoding them with encode on a
// miss. The returned slice must not be modified.
func (c *encodeCache) get(obj runtime.Object, format string, encode func() ([]byte, error)) ([]byte, error) {
	k := encodeKey{obj, format}
	c.mu.Lock()
	b, ok := c.entries[k]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := encode()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return b, nil
	}
	if old := c.ring[c.next]; old.obj != nil {
		delete(c.entries, old)
	}
	c.ring[c.next] = k
	c.next = (c.next + 1) % len(c.ring)
	c.entries[k] = b
	return b, nil
}
