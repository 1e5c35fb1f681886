// Package memory is an in-process storage.Store: the same contract as the
// etcd store (revisions, compare-on-revision writes, prefix lists at a
// revision, ordered watches, compaction), kept in memory so that tests and
// benchmarks of the layers above run without disks or servers. It is a
// product feature, not a fake: it passes storage/storagetest like the etcd
// store does.
//
// Layout. Every key keeps its versions (oldest first) since the last
// compaction; a sorted slice of keys serves prefix lists with Limit and
// StartKey by binary search; a log of events ordered by revision serves
// watches from a past revision. Values are shared between the versions,
// the log, list results and watch events, so a Store copies a value once
// when it is written and never again; callers must treat returned values as
// read-only (storage.Store says so).
//
// Watches. All writes hold one lock, and a write hands its event to every
// matching watch before the lock is released, so each watch sees events in
// revision order, exactly once, with no goroutine per event or per watch.
// A watch's channel is buffered; a send never blocks the writer. When a
// consumer falls so far behind that its buffer is full, the watch ends with
// an EventError wrapping ErrWatchOverflow (the consumer re-lists and
// watches again, as after a compaction) rather than stalling every writer
// or growing without bound.
package memory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/terminus-project/terminus/internal/storage"
)

// ErrWatchOverflow ends a watch (as the Err of its final EventError) whose
// consumer did not keep up: its buffer of Options.WatchBuffer events was
// full when a new event arrived. Events already in the channel are valid;
// the consumer should list again and watch from the list's revision.
var ErrWatchOverflow = errors.New("storage/memory: watch fell behind its buffer")

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("storage/memory: store closed")

// DefaultWatchBuffer is the per-watch buffer used when Options.WatchBuffer
// is zero: large enough to absorb a burst of writes (a namespace deletion
// or a bulk create) while the consumer decodes, small enough that a stuck
// consumer costs well under a megabyte of Event headers.
const DefaultWatchBuffer = 4096

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives rare diagnostics, such as a watch ended for
	// overflow. nil discards them.
	Logger *slog.Logger
	// WatchBuffer is how many events a watch may hold beyond its catch-up
	// backlog before it ends with ErrWatchOverflow. 0 means
	// DefaultWatchBuffer.
	WatchBuffer int
	// HistoryRevisions, when positive, makes the store compact itself so
	// that it keeps at least that many revisions of history (and at most
	// twice as many), as etcd's revision auto-compaction does. 0 keeps all
	// history until Compact is called.
	HistoryRevisions int64
}

// version is one state of a key. A deleted version is a tombstone: it
// records the revision at which the key stopped existing.
type version struct {
	value     []byte
	createRev int64
	modRev    int64
	deleted   bool
}

// record is every retained version of one key, oldest first.
type record struct {
	versions []version
}

func (r *record) latest() *version { return &r.versions[len(r.versions)-1] }

// at returns the version visible at revision rev, or nil.
func (r *record) at(rev int64) *version {
	i := sort.Search(len(r.versions), func(i int) bool { return r.versions[i].modRev > rev }) - 1
	if i < 0 || r.versions[i].deleted {
		return nil
	}
	return &r.versions[i]
}

func (v *version) kv(key string) storage.KeyValue {
	return storage.KeyValue{Key: key, Value: v.value, CreateRevision: v.createRev, ModRevision: v.modRev}
}

// watcher is one open watch. Only goroutines holding Store.mu (for
// writing) send on or close ch, so a send is never concurrent with a close
// and the room check before a send cannot be invalidated.
type watcher struct {
	prefix string
	after  int64
	ch     chan storage.Event
	stop   func() bool // unregisters the context.AfterFunc
}

// Store is the in-memory storage.Store. Create it with New.
type Store struct {
	log         *slog.Logger
	watchBuffer int
	history     int64

	mu         sync.RWMutex
	closed     bool
	rev        int64 // revision of the latest write
	compactRev int64 // reads below it give ErrCompacted
	keys       keyIndex
	records    map[string]*record
	// dirty holds the keys that compaction may shrink: those with more
	// than one version or a tombstone. A key written once needs nothing,
	// so compaction costs O(changed keys), not O(all keys).
	dirty map[string]struct{}
	// events[i] is the event of revision logBase+i; the log holds every
	// revision from compactRev (or 1) to rev.
	events   []storage.Event
	logBase  int64
	watchers map[*watcher]struct{}
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.ProgressRequester = (*Store)(nil)
)

// New returns an empty store at revision 0.
func New(opts Options) *Store {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	buf := opts.WatchBuffer
	if buf <= 0 {
		buf = DefaultWatchBuffer
	}
	return &Store{
		log:         log,
		watchBuffer: buf,
		history:     opts.HistoryRevisions,
		records:     make(map[string]*record),
		dirty:       make(map[string]struct{}),
		logBase:     1,
		watchers:    make(map[*watcher]struct{}),
	}
}

// Close ends every watch and makes further calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for w := range s.watchers {
		s.endWatch(w)
	}
	s.keys, s.records, s.dirty, s.events = keyIndex{}, nil, nil, nil
	return nil
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	if err := ctx.Err(); err != nil {
		return storage.KeyValue{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return storage.KeyValue{}, ErrClosed
	}
	r := s.records[key]
	if r == nil || r.latest().deleted {
		return storage.KeyValue{}, fmt.Errorf("%w: %q", storage.ErrNotFound, key)
	}
	return r.latest().kv(key), nil
}

// List implements storage.Store. It costs O(log n) to find the first key
// plus O(Limit) (and the tombstones skipped on the way).
func (s *Store) List(ctx context.Context, prefix string, opts storage.ListOptions) (storage.ListResult, error) {
	if err := ctx.Err(); err != nil {
		return storage.ListResult{}, err
	}
	start := prefix
	if opts.StartKey != "" {
		if !strings.HasPrefix(opts.StartKey, prefix) {
			return storage.ListResult{}, fmt.Errorf("storage/memory: start key %q is not under prefix %q", opts.StartKey, prefix)
		}
		start = opts.StartKey
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return storage.ListResult{}, ErrClosed
	}
	rev := opts.Revision
	switch {
	case rev == 0:
		rev = s.rev
	case rev > s.rev:
		return storage.ListResult{}, fmt.Errorf("%w: %d (current %d)", storage.ErrFutureRevision, rev, s.rev)
	case rev < s.compactRev:
		return storage.ListResult{}, fmt.Errorf("%w: %d (compacted at %d)", storage.ErrCompacted, rev, s.compactRev)
	}
	res := storage.ListResult{Revision: rev}
	if opts.Limit > 0 {
		res.KVs = make([]storage.KeyValue, 0, min(opts.Limit, 1024))
	}
	s.keys.ascend(start, func(key string) bool {
		if !strings.HasPrefix(key, prefix) {
			return false
		}
		v := s.records[key].at(rev)
		if v == nil {
			return true
		}
		if opts.Limit > 0 && int64(len(res.KVs)) == opts.Limit {
			res.More = true
			return false
		}
		res.KVs = append(res.KVs, v.kv(key))
		return true
	})
	return res, nil
}

// Create implements storage.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	r := s.records[key]
	if r != nil && !r.latest().deleted {
		return 0, fmt.Errorf("%w: %q", storage.ErrExists, key)
	}
	if r == nil {
		r = &record{}
		s.records[key] = r
		s.keys.insert(key)
	} else {
		s.dirty[key] = struct{}{}
	}
	s.rev++
	r.versions = append(r.versions, version{value: slices.Clone(value), createRev: s.rev, modRev: s.rev})
	s.commit(storage.Event{Type: storage.EventPut, KV: r.latest().kv(key), Created: true})
	return s.rev, nil
}

// Update implements storage.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	r := s.records[key]
	if r == nil || r.latest().deleted {
		return 0, fmt.Errorf("%w: %q", storage.ErrNotFound, key)
	}
	prev := r.latest().kv(key)
	if prev.ModRevision != expectedRevision {
		return 0, fmt.Errorf("%w: %q is at revision %d, not %d", storage.ErrConflict, key, prev.ModRevision, expectedRevision)
	}
	s.rev++
	r.versions = append(r.versions, version{value: slices.Clone(value), createRev: prev.CreateRevision, modRev: s.rev})
	s.dirty[key] = struct{}{}
	s.commit(storage.Event{Type: storage.EventPut, KV: r.latest().kv(key), Prev: &prev})
	return s.rev, nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string, expectedRevision int64) (int64, storage.KeyValue, error) {
	if err := ctx.Err(); err != nil {
		return 0, storage.KeyValue{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, storage.KeyValue{}, ErrClosed
	}
	r := s.records[key]
	if r == nil || r.latest().deleted {
		return 0, storage.KeyValue{}, fmt.Errorf("%w: %q", storage.ErrNotFound, key)
	}
	prev := r.latest().kv(key)
	if expectedRevision != 0 && prev.ModRevision != expectedRevision {
		return 0, storage.KeyValue{}, fmt.Errorf("%w: %q is at revision %d, not %d", storage.ErrConflict, key, prev.ModRevision, expectedRevision)
	}
	s.rev++
	r.versions = append(r.versions, version{modRev: s.rev, deleted: true})
	s.dirty[key] = struct{}{}
	s.commit(storage.Event{Type: storage.EventDelete, KV: storage.KeyValue{Key: key, ModRevision: s.rev}, Prev: &prev})
	return s.rev, prev, nil
}

// commit appends the event of the write at s.rev to the log, hands it to
// the watches, and compacts when the history bound says so. The caller
// holds s.mu for writing.
func (s *Store) commit(ev storage.Event) {
	s.events = append(s.events, ev)
	for w := range s.watchers {
		if ev.KV.ModRevision <= w.after || !strings.HasPrefix(ev.KV.Key, w.prefix) {
			continue
		}
		s.deliver(w, ev)
	}
	if s.history > 0 && s.rev-max(s.compactRev, 1) >= 2*s.history {
		s.compact(s.rev - s.history)
	}
}

// deliver queues ev on w without blocking, or ends w with
// ErrWatchOverflow when its buffer is full. The caller holds s.mu for
// writing.
func (s *Store) deliver(w *watcher, ev storage.Event) {
	// One slot is kept free for the EventError, so the end of a watch can
	// always be delivered without blocking.
	if len(w.ch) >= cap(w.ch)-1 {
		s.log.Warn("storage/memory: watch ended, consumer too slow", "prefix", w.prefix, "revision", s.rev, "buffer", cap(w.ch)-1)
		w.ch <- storage.Event{Type: storage.EventError, Err: fmt.Errorf("%w at revision %d (prefix %q)", ErrWatchOverflow, s.rev, w.prefix)}
		s.endWatch(w)
		return
	}
	w.ch <- ev
}

// RequestProgress implements storage.ProgressRequester: every open watch
// gets an EventProgress at the current revision, behind the events it has
// not read yet (so everything before it has been delivered). A watch
// whose start lies in the future gets none.
func (s *Store) RequestProgress(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for w := range s.watchers {
		if s.rev >= w.after {
			s.deliver(w, storage.Event{Type: storage.EventProgress, KV: storage.KeyValue{ModRevision: s.rev}})
		}
	}
	return nil
}

// Watch implements storage.Store. The backlog (events after afterRevision
// that are already in the log) is put in the channel at once, which is
// therefore sized to hold it plus the watch buffer.
func (s *Store) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if afterRevision < 0 {
		afterRevision = 0
	}
	if afterRevision > 0 && afterRevision+1 < s.compactRev {
		return nil, fmt.Errorf("%w: watch after %d (compacted at %d)", storage.ErrCompacted, afterRevision, s.compactRev)
	}
	var backlog []storage.Event
	if afterRevision == 0 {
		afterRevision = s.rev
	} else if afterRevision < s.rev {
		backlog = s.events[afterRevision+1-s.logBase:]
	}
	n := 0
	for i := range backlog {
		if strings.HasPrefix(backlog[i].KV.Key, prefix) {
			n++
		}
	}
	w := &watcher{prefix: prefix, after: afterRevision, ch: make(chan storage.Event, n+s.watchBuffer+1)}
	for i := range backlog {
		if strings.HasPrefix(backlog[i].KV.Key, prefix) {
			w.ch <- backlog[i]
		}
	}
	s.watchers[w] = struct{}{}
	// AfterFunc starts a goroutine only once ctx is done, and stop()
	// releases it when the watch ends first, so an idle watch costs no
	// goroutine at all.
	w.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.watchers[w]; ok {
			s.endWatch(w)
		}
	})
	return w.ch, nil
}

// endWatch closes a registered watch. The caller holds s.mu for writing.
func (s *Store) endWatch(w *watcher) {
	delete(s.watchers, w)
	close(w.ch)
	if w.stop != nil {
		w.stop()
	}
}

// CurrentRevision implements storage.Store.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.rev, nil
}

// Compact implements storage.Store. As in etcd, compacting at or below
// the current compaction revision gives ErrCompacted and beyond the
// current revision ErrFutureRevision. It costs one pass over the keys
// changed since they were created or last compacted.
func (s *Store) Compact(ctx context.Context, revision int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	switch {
	case revision > s.rev:
		return fmt.Errorf("%w: compact at %d (current %d)", storage.ErrFutureRevision, revision, s.rev)
	case revision <= s.compactRev:
		return fmt.Errorf("%w: compact at %d (compacted at %d)", storage.ErrCompacted, revision, s.compactRev)
	}
	s.compact(revision)
	return nil
}

// compact drops every version not needed to read at revision >= rev: for
// each key, the versions older than the one visible at rev, and that one
// too when it is a tombstone. Keys left with no version leave the index.
func (s *Store) compact(rev int64) {
	for key := range s.dirty {
		r := s.records[key]
		vs := r.versions
		j := sort.Search(len(vs), func(i int) bool { return vs[i].modRev > rev }) - 1
		if j >= 0 && vs[j].deleted {
			j++
		}
		if j > 0 {
			// Copy rather than reslice so the dropped versions' values
			// can be collected.
			r.versions = slices.Clone(vs[j:])
		}
		switch {
		case len(r.versions) == 0:
			delete(s.records, key)
			delete(s.dirty, key)
			s.keys.remove(key)
		case len(r.versions) == 1 && !r.versions[0].deleted:
			delete(s.dirty, key)
		}
	}
	if drop := rev - s.logBase; drop > 0 {
		s.events = slices.Clone(s.events[drop:])
		s.logBase = rev
	}
	s.compactRev = rev
}
