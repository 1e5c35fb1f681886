// Package etcd is the storage.Store over an etcd cluster, reached through
// go.etcd.io/etcd/client/v3: the embedded server started by
// storage/embedded (in-process client) or an external cluster
// (--etcd-servers). The contract maps onto etcd one to one: the store
// revision is etcd's revision, compare-on-revision writes are single
// transactions, lists are ranges at a revision, and watches are etcd
// watches with previous values, so the store adds no state of its own
// beyond its open watches.
//
// Errors from etcd are mapped to the storage sentinels (ErrCompacted,
// ErrFutureRevision) and wrapped with %w so the original error stays
// visible; everything else is wrapped unchanged.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/terminus-project/terminus/internal/storage"
)

// ErrClosed is returned by Watch after Close.
var ErrClosed = errors.New("storage/etcd: store closed")

// Config configures a Store. Exactly one of Client and Endpoints is set.
type Config struct {
	// Client is an etcd client owned by the caller (for instance
	// embedded.Server.Client()); Close does not close it.
	Client *clientv3.Client
	// Endpoints, when Client is nil, are the URLs of an external cluster;
	// the Store creates a client and closes it on Close.
	Endpoints []string
	// DialTimeout bounds the first connection to Endpoints; 0 means 5s.
	DialTimeout time.Duration
	// Logger receives rare diagnostics. nil discards them.
	Logger *slog.Logger
}

// Store is the etcd storage.Store. Create it with New.
type Store struct {
	client    *clientv3.Client
	ownClient bool
	log       *slog.Logger

	// ctx is cancelled by Close; every watch goroutine runs under it and
	// is counted in wg, so Close returns only once they have all ended.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex // orders wg.Add against Close's wg.Wait
	closed bool
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.ProgressRequester = (*Store)(nil)
)

// New returns a Store over cfg.Client, or over a new client to
// cfg.Endpoints.
func New(cfg Config) (*Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{client: cfg.Client, log: log}
	if s.client == nil {
		if len(cfg.Endpoints) == 0 {
			return nil, errors.New("storage/etcd: neither Client nor Endpoints set")
		}
		dial := cfg.DialTimeout
		if dial <= 0 {
			dial = 5 * time.Second
		}
		c, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: dial, Logger: zap.NewNop()})
		if err != nil {
			return nil, fmt.Errorf("storage/etcd: connect to %v: %w", cfg.Endpoints, err)
		}
		s.client, s.ownClient = c, true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close ends every watch (their channels close) and, when the Store made
// the client, closes it.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if s.ownClient {
		if err := s.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("storage/etcd: close client: %w", err)
		}
	}
	return nil
}

// mapErr turns an etcd error into the storage sentinel it means.
func mapErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w: %s: %w", storage.ErrCompacted, what, err)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("%w: %s: %w", storage.ErrFutureRevision, what, err)
	}
	return fmt.Errorf("storage/etcd: %s: %w", what, err)
}

func toKV(kv *mvccpb.KeyValue) storage.KeyValue {
	return storage.KeyValue{Key: string(kv.Key), Value: kv.Value, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
}

// Get implements storage.Store with a linearizable read.
func (s *Store) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return storage.KeyValue{}, mapErr(err, "get "+key)
	}
	if len(resp.Kvs) == 0 {
		return storage.KeyValue{}, fmt.Errorf("%w: %q", storage.ErrNotFound, key)
	}
	return toKV(resp.Kvs[0]), nil
}

// List implements storage.Store as one range read from StartKey (or
// prefix) to the end of the prefix.
func (s *Store) List(ctx context.Context, prefix string, opts storage.ListOptions) (storage.ListResult, error) {
	start := prefix
	if opts.StartKey != "" {
		if !strings.HasPrefix(opts.StartKey, prefix) {
			return storage.ListResult{}, fmt.Errorf("storage/etcd: start key %q is not under prefix %q", opts.StartKey, prefix)
		}
		start = opts.StartKey
	}
	resp, err := s.client.Get(ctx, start,
		clientv3.WithRange(rangeEnd(prefix)),
		clientv3.WithRev(opts.Revision),
		clientv3.WithLimit(opts.Limit))
	if err != nil {
		return storage.ListResult{}, mapErr(err, fmt.Sprintf("list %s at revision %d", prefix, opts.Revision))
	}
	res := storage.ListResult{Revision: opts.Revision, More: resp.More, KVs: make([]storage.KeyValue, len(resp.Kvs))}
	if res.Revision == 0 {
		res.Revision = resp.Header.Revision
	}
	for i, kv := range resp.Kvs {
		res.KVs[i] = toKV(kv)
	}
	return res, nil
}

// rangeEnd is the end of the range of keys under prefix; for the empty
// prefix, every key ("\x00" means "to the end" in etcd).
func rangeEnd(prefix string) string {
	if prefix == "" {
		return "\x00"
	}
	return clientv3.GetPrefixRangeEnd(prefix)
}

// Create implements storage.Store: put if the key's CreateRevision is 0,
// that is, if it does not exist.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Commit()
	if err != nil {
		return 0, mapErr(err, "create "+key)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("%w: %q", storage.ErrExists, key)
	}
	return resp.Header.Revision, nil
}

// Update implements storage.Store: put if the key's ModRevision is the
// expected one; when not, the else branch reads the key to tell a conflict
// from a missing key in the same round trip.
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	if expectedRevision <= 0 {
		// ModRevision == 0 holds for a missing key; never let an update
		// create one.
		if _, err := s.Get(ctx, key); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %q: expected revision %d", storage.ErrConflict, key, expectedRevision)
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expectedRevision)).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if err != nil {
		return 0, mapErr(err, "update "+key)
	}
	if !resp.Succeeded {
		return 0, conflictOrNotFound(resp, key, expectedRevision)
	}
	return resp.Header.Revision, nil
}

func conflictOrNotFound(resp *clientv3.TxnResponse, key string, expected int64) error {
	if len(resp.Responses) == 1 {
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
			return fmt.Errorf("%w: %q is at revision %d, not %d", storage.ErrConflict, key, kvs[0].ModRevision, expected)
		}
	}
	return fmt.Errorf("%w: %q", storage.ErrNotFound, key)
}

// Delete implements storage.Store, returning the deleted key's last state
// from the same transaction (WithPrevKV).
func (s *Store) Delete(ctx context.Context, key string, expectedRevision int64) (int64, storage.KeyValue, error) {
	if expectedRevision == 0 {
		resp, err := s.client.Delete(ctx, key, clientv3.WithPrevKV())
		if err != nil {
			return 0, storage.KeyValue{}, mapErr(err, "delete "+key)
		}
		if len(resp.PrevKvs) == 0 {
			return 0, storage.KeyValue{}, fmt.Errorf("%w: %q", storage.ErrNotFound, key)
		}
		return resp.Header.Revision, toKV(resp.PrevKvs[0]), nil
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expectedRevision)).
		Then(clientv3.OpDelete(key, clientv3.WithPrevKV())).
		Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if err != nil {
		return 0, storage.KeyValue{}, mapErr(err, "delete "+key)
	}
	if !resp.Succeeded {
		return 0, storage.KeyValue{}, conflictOrNotFound(resp, key, expectedRevision)
	}
	prev := resp.Responses[0].GetResponseDeleteRange().GetPrevKvs()
	if len(prev) == 0 {
		// Unreachable: the compare proved the key exists.
		return 0, storage.KeyValue{}, fmt.Errorf("%w: %q", storage.ErrNotFound, key)
	}
	return resp.Header.Revision, toKV(prev[0]), nil
}

// CurrentRevision implements storage.Store: the header of a linearizable
// count-only read carries the store revision.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, "/", clientv3.WithCountOnly())
	if err != nil {
		return 0, mapErr(err, "current revision")
	}
	return resp.Header.Revision, nil
}

// Compact implements storage.Store. It returns once the compaction is
// applied (reads below revision fail), without waiting for the physical
// removal from the backend, which etcd does in the background.
func (s *Store) Compact(ctx context.Context, revision int64) error {
	if _, err := s.client.Compact(ctx, revision); err != nil {
		return mapErr(err, fmt.Sprintf("compact at %d", revision))
	}
	return nil
}
