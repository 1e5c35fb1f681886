package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/terminus-project/terminus/internal/storage"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/clock"
)

// watchCache holds one resource's current objects and a window of recent
// events, fed by one storage watch, and fans events out to every API
// watcher (DESIGN decision 3): N informers cost one etcd watch.
type watchCache struct {
	res    *Resource
	store  storage.Store
	decode func(storage.KeyValue) (runtime.Object, error)
	clock  clock.WithTicker
	log    *slog.Logger
	// capacity is the number of recent events kept for watches that start
	// at an older resourceVersion.
	capacity int
	// bufferSize is each watcher's queue; a watcher that falls this far
	// behind is ended and its client re-watches from its last version.
	bufferSize int

	mu      sync.RWMutex
	objects map[string]runtime.Object
	ring    []cacheEvent
	head    int // index of the oldest event in ring
	size    int
	// rev is the revision up to which the cache has seen every change.
	rev int64
	// oldest is the revision below which the window has no events: a
	// watch from N is served only when N >= oldest.
	oldest   int64
	synced   bool
	advanced chan struct{} // closed and replaced whenever rev moves
	watchers map[*cacheWatcher]struct{}
}

type cacheEvent struct {
	typ  watch.EventType
	key  string
	obj  runtime.Object
	prev runtime.Object // nil for ADDED
	rev  int64
}

func newWatchCache(res *Resource, st storage.Store, decode func(storage.KeyValue) (runtime.Object, error), clk clock.WithTicker, log *slog.Logger) *watchCache {
	return &watchCache{
		res: res, store: st, decode: decode, clock: clk, log: log,
		capacity: 4096, bufferSize: 1024,
		objects:  map[string]runtime.Object{},
		advanced: make(chan struct{}),
		watchers: map[*cacheWatcher]struct{}{},
	}
}

// run keeps the cache in step with storage until ctx ends: list, then watch
// from the list's revision; on a broken watch (compaction, store error) it
// ends every API watcher, so that clients re-watch, and lists again.
func (c *watchCache) run(ctx context.Context) {
	prefix := c.res.KeyPrefix + "/"
	for ctx.Err() == nil {
		if err := c.syncOnce(ctx, prefix); err != nil && ctx.Err() == nil {
			c.log.Warn("watch cache restarting", "resource", c.res.GVR.String(), "err", err)
			select {
			case <-ctx.Done():
			case <-c.clock.After(100 * time.Millisecond):
			}
		}
	}
	c.mu.Lock()
	for w := range c.watchers {
		w.terminate()
	}
	c.watchers = map[*cacheWatcher]struct{}{}
	c.mu.Unlock()
}

func (c *watchCache) syncOnce(ctx context.Context, prefix string) error {
	list, err := c.store.List(ctx, prefix, storage.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing %s: %w", prefix, err)
	}
	objects := make(map[string]runtime.Object, len(list.KVs))
	for _, kv := range list.KVs {
		obj, err := c.decode(kv)
		if err != nil {
			c.log.Error("undecodable object in storage", "key", kv.Key, "err", err)
			continue
		}
		objects[kv.Key] = obj
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := c.store.Watch(wctx, prefix, list.Revision)
	if err != nil {
		return fmt.Errorf("watching %s: %w", prefix, err)
	}
	c.mu.Lock()
	for w := range c.watchers {
		w.terminate()
	}
	c.watchers = map[*cacheWatcher]struct{}{}
	c.objects = objects
	c.ring = make([]cacheEvent, c.capacity)
	c.head, c.size = 0, 0
	c.oldest = list.Revision
	c.synced = true
	c.rev = list.Revision
	c.broadcastLocked()
	c.mu.Unlock()

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("storage watch closed")
			}
			if err := c.apply(ev); err != nil {
				return err
			}
		}
	}
}

func (c *watchCache) apply(ev storage.Event) error {
	switch ev.Type {
	case storage.EventError:
		return fmt.Errorf("storage watch ended: %w", ev.Err)
	case storage.EventProgress:
		c.mu.Lock()
		c.advanceLocked(ev.KV.ModRevision)
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ce := cacheEvent{key: ev.KV.Key, rev: ev.KV.ModRevision}
	old := c.objects[ev.KV.Key]
	switch ev.Type {
	case storage.EventPut:
		obj, err := c.decode(ev.KV)
		if err != nil {
			c.log.Error("undecodable object in storage", "key", ev.KV.Key, "err", err)
			c.advanceLocked(ev.KV.ModRevision)
			return nil
		}
		ce.obj, ce.prev, ce.typ = obj, old, watch.Modified
		if old == nil {
			ce.typ = watch.Added
		}
		c.objects[ev.KV.Key] = obj
	case storage.EventDelete:
		// Spec I5: the last stored state, at the revision of the delete.
		var last runtime.Object
		if old != nil {
			last = old.DeepCopyObject()
		} else if ev.Prev != nil {
			o, err := c.decode(*ev.Prev)
			if err != nil {
				c.advanceLocked(ev.KV.ModRevision)
				return nil
			}
			last = o
		} else {
			c.advanceLocked(ev.KV.ModRevision)
			return nil
		}
		setResourceVersion(last, ev.KV.ModRevision)
		ce.obj, ce.prev, ce.typ = last, old, watch.Deleted
		delete(c.objects, ev.KV.Key)
	default:
		return nil
	}
	c.pushLocked(ce)
	c.advanceLocked(ce.rev)
	for w := range c.watchers {
		if !w.offer(ce) {
			c.log.Debug("watcher too slow, ending it", "resource", c.res.GVR.String())
			w.terminate()
			delete(c.watchers, w)
		}
	}
	return nil
}

func (c *watchCache) pushLocked(ev cacheEvent) {
	if c.size == len(c.ring) {
		// The evicted event's revision becomes the floor of the window.
		c.oldest = c.ring[c.head].rev
		c.head = (c.head + 1) % len(c.ring)
		c.size--
	}
	c.ring[(c.head+c.size)%len(c.ring)] = ev
	c.size++
}

func (c *watchCache) advanceLocked(rev int64) {
	if rev <= c.rev {
		return
	}
	c.rev = rev
	c.broadcastLocked()
}

// broadcastLocked wakes every waiter on the cache's state.
func (c *watchCache) broadcastLocked() {
	close(c.advanced)
	c.advanced = make(chan struct{})
}

// waitFor blocks until the cache has seen every change up to rev, for at
// most 3 s (spec I1), asking storage for progress so that a revision
// reached by other resources' writes is confirmed without a change here.
func (c *watchCache) waitFor(ctx context.Context, rev int64) error {
	deadline := c.clock.Now().Add(3 * time.Second)
	asked := false
	for {
		c.mu.RLock()
		cur, synced, ch := c.rev, c.synced, c.advanced
		c.mu.RUnlock()
		if synced && cur >= rev {
			return nil
		}
		if synced && !asked {
			if pr, ok := c.store.(storage.ProgressRequester); ok {
				if err := pr.RequestProgress(ctx); err != nil {
					c.log.Debug("progress request failed", "err", err)
				}
			}
			asked = true
		}
		remaining := deadline.Sub(c.clock.Now())
		if remaining <= 0 {
			return tooLargeResourceVersion(rev, cur)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-c.clock.After(remaining):
		}
	}
}

func tooLargeResourceVersion(rev, cur int64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", rev, cur), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{
		Type:    "ResourceVersionTooLarge",
		Message: "Too large resource version",
	}}
	return err
}

// snapshot returns the current objects (sorted by key) and the revision
// they are at. The objects are shared: callers must not mutate them.
func (c *watchCache) snapshot() ([]string, []runtime.Object, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	keys := make([]string, 0, len(c.objects))
	for k := range c.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	objs := make([]runtime.Object, len(keys))
	for i, k := range keys {
		objs[i] = c.objects[k]
	}
	return keys, objs, c.rev
}

// get returns the cached object at key (shared; do not mutate).
func (c *watchCache) get(key string) (runtime.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.objects[key]
	return o, ok
}

// watchRequest says where a new watcher starts.
type watchRequest struct {
	// fromRev: replay events after it; ignored when initialEvents.
	fromRev int64
	// initialEvents: send the current state as ADDED first (spec I7).
	initialEvents bool
	// initialEventsEnd: after the initial events, send the bookmark
	// annotated k8s.io/initial-events-end (spec I8).
	initialEventsEnd bool
	bookmarks        bool
	prefix           string
	filter           func(runtime.Object) bool
	bookmarkPeriod   time.Duration
}

// errTooOld marks a watch from a revision older than the window (spec I10).
type errTooOld struct{ requested, oldest int64 }

func (e errTooOld) Error() string {
	return fmt.Sprintf("too old resource version: %d (%d)", e.requested, e.oldest)
}

func (c *watchCache) watch(ctx context.Context, req watchRequest) (*cacheWatcher, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.synced {
		return nil, apierrors.NewServiceUnavailable("watch cache for " + c.res.GVR.Resource + " is not ready")
	}
	w := newCacheWatcher(c, req)
	var initial []cacheEvent
	if req.initialEvents {
		keys := make([]string, 0, len(c.objects))
		for k := range c.objects {
			if hasPrefix(k, req.prefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			initial = append(initial, cacheEvent{typ: watch.Added, key: k, obj: c.objects[k], rev: c.rev})
		}
	} else {
		if req.fromRev < c.oldest {
			return nil, errTooOld{req.fromRev, c.oldest}
		}
		for i := 0; i < c.size; i++ {
			ev := c.ring[(c.head+i)%len(c.ring)]
			if ev.rev > req.fromRev {
				initial = append(initial, ev)
			}
		}
	}
	c.watchers[w] = struct{}{}
	go w.run(ctx, initial, c.rev)
	return w, nil
}

func (c *watchCache) remove(w *cacheWatcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.watchers[w]; ok {
		delete(c.watchers, w)
		w.terminate()
	}
}

// revIfIdle returns the cache's revision and whether w has no event queued.
func (c *watchCache) revIfIdle(w *cacheWatcher) (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev, len(w.in) == 0
}

func (c *watchCache) currentRev() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

func (c *watchCache) isSynced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
