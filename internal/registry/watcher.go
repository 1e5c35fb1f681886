package registry

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// InitialEventsEndAnnotation marks the bookmark that ends a watch's initial
// events (spec I8).
const InitialEventsEndAnnotation = metav1.InitialEventsAnnotationKey

// cacheWatcher is one API watch served from a watchCache. The cache offers
// events without blocking; the watcher's own goroutine filters them and
// hands them to the API handler through ResultChan.
type cacheWatcher struct {
	cache *watchCache
	req   watchRequest
	in    chan cacheEvent
	out   chan watch.Event
	// stop is closed by Stop (the consumer is gone); done by the cache
	// (no more input: too slow, or the cache restarted).
	stopOnce, doneOnce sync.Once
	stop, done         chan struct{}
}

func newCacheWatcher(c *watchCache, req watchRequest) *cacheWatcher {
	return &cacheWatcher{
		cache: c, req: req,
		in:   make(chan cacheEvent, c.bufferSize),
		out:  make(chan watch.Event),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// ResultChan implements watch.Interface. It is closed when the watch ends.
func (w *cacheWatcher) ResultChan() <-chan watch.Event { return w.out }

// Stop implements watch.Interface.
func (w *cacheWatcher) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	w.cache.remove(w)
}

// offer queues ev without blocking; false means the watcher is too slow.
// Called with the cache lock held.
func (w *cacheWatcher) offer(ev cacheEvent) bool {
	select {
	case <-w.done:
		return true
	default:
	}
	select {
	case w.in <- ev:
		return true
	default:
		return false
	}
}

// terminate tells the watcher no more input comes. Called with the cache
// lock held.
func (w *cacheWatcher) terminate() {
	w.doneOnce.Do(func() { close(w.done) })
}

func (w *cacheWatcher) run(ctx context.Context, initial []cacheEvent, initialRev int64) {
	defer close(w.out)
	defer w.cache.remove(w)
	lastRev := initialRev
	if !w.req.initialEvents && w.req.fromRev > 0 && w.req.fromRev < lastRev {
		lastRev = w.req.fromRev
	}
	for _, ev := range initial {
		if w.req.initialEvents {
			if !w.req.filter(ev.obj) {
				continue
			}
			if !w.send(ctx, watch.Event{Type: watch.Added, Object: ev.obj}) {
				return
			}
			continue
		}
		if !w.deliver(ctx, ev) {
			return
		}
		lastRev = ev.rev
	}
	if w.req.initialEvents {
		lastRev = initialRev
		if w.req.initialEventsEnd {
			if !w.send(ctx, watch.Event{Type: watch.Bookmark, Object: w.bookmark(initialRev, true)}) {
				return
			}
		}
	}
	var tick <-chan time.Time
	if w.req.bookmarks && w.req.bookmarkPeriod > 0 {
		t := w.cache.clock.NewTicker(w.req.bookmarkPeriod)
		defer t.Stop()
		tick = t.C()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case ev := <-w.in:
			if ev.rev <= lastRev {
				continue
			}
			if !w.deliver(ctx, ev) {
				return
			}
			lastRev = ev.rev
		case <-tick:
			// A bookmark promises every change up to its version has been
			// sent, so it may only carry the cache's version when nothing
			// is queued for this watcher; events are queued under the cache
			// lock before the version moves, so reading both under that
			// lock is consistent.
			if rev, idle := w.cache.revIfIdle(w); idle && rev > lastRev {
				lastRev = rev
			}
			if !w.send(ctx, watch.Event{Type: watch.Bookmark, Object: w.bookmark(lastRev, false)}) {
				return
			}
		case <-w.done:
			// Drain what was queued before the end, then finish.
			for {
				select {
				case ev := <-w.in:
					if ev.rev > lastRev && !w.deliver(ctx, ev) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// deliver applies the watch's filters with spec I6's transitions: an object
// that stops matching is sent as DELETED, one that starts matching as
// ADDED.
func (w *cacheWatcher) deliver(ctx context.Context, ev cacheEvent) bool {
	if !hasPrefix(ev.key, w.req.prefix) {
		return true
	}
	cur := ev.typ != watch.Deleted && w.req.filter(ev.obj)
	prev := ev.prev != nil && w.req.filter(ev.prev)
	switch ev.typ {
	case watch.Added:
		if cur {
			return w.send(ctx, watch.Event{Type: watch.Added, Object: ev.obj})
		}
	case watch.Modified:
		switch {
		case cur && prev:
			return w.send(ctx, watch.Event{Type: watch.Modified, Object: ev.obj})
		case cur:
			return w.send(ctx, watch.Event{Type: watch.Added, Object: ev.obj})
		case prev:
			return w.send(ctx, watch.Event{Type: watch.Deleted, Object: ev.obj})
		}
	case watch.Deleted:
		if w.req.filter(ev.obj) {
			return w.send(ctx, watch.Event{Type: watch.Deleted, Object: ev.obj})
		}
	}
	return true
}

func (w *cacheWatcher) send(ctx context.Context, ev watch.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-w.stop:
		return false
	}
}

// bookmark builds a BOOKMARK object: only kind, apiVersion and
// resourceVersion (spec I9), plus the initial-events-end annotation (I8).
func (w *cacheWatcher) bookmark(rev int64, initialEventsEnd bool) runtime.Object {
	obj := w.cache.res.New()
	setResourceVersion(obj, rev)
	if initialEventsEnd {
		obj.(metav1.Object).SetAnnotations(map[string]string{InitialEventsEndAnnotation: "true"})
	}
	return obj
}
