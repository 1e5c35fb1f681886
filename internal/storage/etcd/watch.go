package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/terminus-project/terminus/internal/storage"
)

// Watch implements storage.Store over one etcd watch with WithPrevKV.
//
// Before the etcd watch starts, a count-only read (one round trip) pins
// the start: for afterRevision 0 it reads the current revision, so "from
// now on" means "after this call began" even though etcd registers a
// watch asynchronously; for a past revision it reads at afterRevision+1,
// so a compacted start is reported synchronously as ErrCompacted. A
// compaction racing with that check still ends the watch with an
// EventError wrapping ErrCompacted.
//
// One goroutine per watch converts etcd responses; it stops when ctx ends,
// when the Store closes, or after an EventError.
func (s *Store) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan storage.Event, error) {
	if afterRevision < 0 {
		afterRevision = 0
	}
	check := []clientv3.OpOption{clientv3.WithCountOnly()}
	if afterRevision > 0 {
		check = append(check, clientv3.WithRev(afterRevision+1))
	}
	// Any non-empty key will do: only the header and the revision check
	// matter.
	resp, err := s.client.Get(ctx, "/", check...)
	switch {
	case err == nil:
		if afterRevision == 0 {
			afterRevision = resp.Header.Revision
		}
	case afterRevision > 0 && isFutureRev(err):
		// Watching from a revision not reached yet is allowed: the
		// events arrive when it is.
	default:
		return nil, mapErr(err, fmt.Sprintf("watch %s after %d", prefix, afterRevision))
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()

	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	// WithPrefix of "" watches every key.
	opts := []clientv3.OpOption{clientv3.WithRev(afterRevision + 1), clientv3.WithPrevKV(), clientv3.WithPrefix()}
	// WithRequireLeader makes a member cut off from the leader end the
	// watch instead of silently delivering nothing.
	wch := s.client.Watch(clientv3.WithRequireLeader(wctx), prefix, opts...)
	out := make(chan storage.Event, 64)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer stop()
		defer cancel()
		s.pump(wctx, wch, out)
	}()
	return out, nil
}

// RequestProgress implements storage.ProgressRequester with etcd's
// progress request. The context carries the same require-leader metadata
// as the watches, because the client sends the request on the watch stream
// whose metadata matches, and all of this Store's watches share that one.
func (s *Store) RequestProgress(ctx context.Context) error {
	if err := s.client.RequestProgress(clientv3.WithRequireLeader(ctx)); err != nil {
		return mapErr(err, "request watch progress")
	}
	return nil
}

func isFutureRev(err error) bool { return errors.Is(err, rpctypes.ErrFutureRev) }

// pump forwards etcd events to out until the watch ends.
func (s *Store) pump(ctx context.Context, wch clientv3.WatchChan, out chan<- storage.Event) {
	send := func(ev storage.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) {
		send(storage.Event{Type: storage.EventError, Err: err})
	}
	for resp := range wch {
		if resp.CompactRevision != 0 {
			fail(fmt.Errorf("%w: watch compacted at %d", storage.ErrCompacted, resp.CompactRevision))
			return
		}
		if err := resp.Err(); err != nil {
			if ctx.Err() != nil {
				return // our own cancellation
			}
			fail(mapErr(err, "watch"))
			return
		}
		if resp.IsProgressNotify() {
			// etcd answers a progress request only once the watch has
			// sent every event up to the header revision.
			if !send(storage.Event{Type: storage.EventProgress, KV: storage.KeyValue{ModRevision: resp.Header.Revision}}) {
				return
			}
			continue
		}
		for _, e := range resp.Events {
			ev, err := s.convert(ctx, e)
			if err != nil {
				fail(err)
				return
			}
			if !send(ev) {
				return
			}
		}
	}
	// The etcd channel closed: ctx ended (ours or the Store's) and the
	// caller sees the channel close; otherwise the client went away and
	// the caller must learn that the watch did not end normally.
	if ctx.Err() == nil {
		fail(errors.New("storage/etcd: watch channel closed by the client"))
	}
}

// convert maps one etcd event. A delete must carry the previous state
// (spec I5); etcd omits it only when it could not read it, and then it is
// read at the revision before the delete, or the watch ends as compacted.
func (s *Store) convert(ctx context.Context, e *clientv3.Event) (storage.Event, error) {
	switch e.Type {
	case clientv3.EventTypePut:
		ev := storage.Event{Type: storage.EventPut, KV: toKV(e.Kv), Created: e.IsCreate()}
		if e.PrevKv != nil && !ev.Created {
			prev := toKV(e.PrevKv)
			ev.Prev = &prev
		}
		return ev, nil
	default:
		ev := storage.Event{Type: storage.EventDelete, KV: storage.KeyValue{Key: string(e.Kv.Key), ModRevision: e.Kv.ModRevision}}
		if e.PrevKv != nil {
			prev := toKV(e.PrevKv)
			ev.Prev = &prev
			return ev, nil
		}
		resp, err := s.client.Get(ctx, ev.KV.Key, clientv3.WithRev(e.Kv.ModRevision-1))
		if err != nil {
			return storage.Event{}, mapErr(err, "previous state of deleted "+ev.KV.Key)
		}
		if len(resp.Kvs) == 0 {
			return storage.Event{}, fmt.Errorf("storage/etcd: no previous state for delete of %q at %d", ev.KV.Key, e.Kv.ModRevision)
		}
		prev := toKV(resp.Kvs[0])
		ev.Prev = &prev
		return ev, nil
	}
}
