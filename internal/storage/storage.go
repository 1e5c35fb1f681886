// Package storage is the contract between the registry and the key/value
// engines that hold objects: a revisioned store with compare-on-revision
// writes, prefix lists at a revision, and ordered watches from a revision
// (DESIGN decision 2, kine's idea).
//
// The revision is a single counter shared by every key that strictly
// increases with each persisted write; the registry exposes it unchanged as
// metadata.resourceVersion (spec A5). Values are opaque bytes to the store.
//
// Implementations: storage/etcd (embedded or external etcd) and
// storage/memory; both pass storage/storagetest.
package storage

import (
	"context"
	"errors"
)

// Sentinel errors. Implementations wrap them with %w; callers test with
// errors.Is. The apiserver turns them into Kubernetes Status values in one
// place.
var (
	// ErrNotFound: the key does not exist (Get, Update, Delete).
	ErrNotFound = errors.New("storage: key not found")
	// ErrExists: Create of a key that already exists.
	ErrExists = errors.New("storage: key already exists")
	// ErrConflict: the key's modification revision is not the expected one.
	ErrConflict = errors.New("storage: revision conflict")
	// ErrCompacted: the requested revision is older than the retained history
	// (List at a revision, Watch from a revision).
	ErrCompacted = errors.New("storage: revision compacted")
	// ErrFutureRevision: List at a revision the store has not reached yet.
	ErrFutureRevision = errors.New("storage: revision not yet reached")
)

// KeyValue is one stored key at one revision.
type KeyValue struct {
	Key   string
	Value []byte
	// CreateRevision is the revision of the write that created the key.
	CreateRevision int64
	// ModRevision is the revision of the key's last write; the object's
	// resourceVersion.
	ModRevision int64
}

// EventType says what happened to a key.
type EventType int

const (
	// EventPut is a create or an update; Event.Created tells which.
	EventPut EventType = iota + 1
	// EventDelete is a removal. Event.KV.Value is empty; Event.Prev holds
	// the last stored state (spec I5).
	EventDelete
	// EventError ends a watch: Event.Err says why (ErrCompacted when the
	// watch fell behind compaction). No event follows it.
	EventError
	// EventProgress carries no change: KV.ModRevision is a revision up to
	// which every change under the watched prefix has been delivered. It
	// is sent only after ProgressRequester.RequestProgress.
	EventProgress
)

// Event is one change seen by a watch.
type Event struct {
	Type EventType
	// KV is the key after the change. For a delete, KV.Key is set,
	// KV.Value is empty and KV.ModRevision is the revision of the delete.
	KV KeyValue
	// Prev is the key before the change: nil for a create; for a delete,
	// the last stored state (never nil).
	Prev *KeyValue
	// Created is true for the Put that created the key.
	Created bool
	// Err is set only for EventError.
	Err error
}

// ListOptions narrow a List.
type ListOptions struct {
	// Revision reads at that revision; 0 reads at the current revision.
	// A compacted revision gives ErrCompacted; a future one
	// ErrFutureRevision.
	Revision int64
	// Limit caps the number of keys returned; 0 means no cap.
	Limit int64
	// StartKey, when set, begins the listing at that key (inclusive); it
	// must lie under the prefix. Used for continue tokens.
	StartKey string
}

// ListResult is the answer to a List.
type ListResult struct {
	// KVs are in ascending key order.
	KVs []KeyValue
	// Revision is the revision the list was read at.
	Revision int64
	// More is true when Limit cut the result short.
	More bool
}

// ProgressRequester is implemented by stores whose watches can report
// progress. A watch cache needs it to know that it has seen every change
// up to a revision even when its prefix had no change there (a LIST of one
// resource returns the global revision, and the next WATCH starts there).
type ProgressRequester interface {
	// RequestProgress asks every open watch of the store to send an
	// EventProgress soon.
	RequestProgress(ctx context.Context) error
}

// Store is the contract. Every method is safe for concurrent use.
//
// Values: a Store does not keep the caller's value slice after a write
// returns, and the Value slices it returns (Get, List, watch events) may be
// shared with other readers, so callers must treat them as read-only. This
// lets storage/memory hand out what it holds without a copy per read.
type Store interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns the keys under prefix (a plain string prefix, usually
	// ending in "/").
	List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error)
	// Create writes key only if it does not exist (ErrExists otherwise)
	// and returns the new revision.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update writes key only if its ModRevision equals expectedRevision;
	// otherwise ErrConflict (or ErrNotFound when the key is gone). It
	// returns the new revision.
	Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error)
	// Delete removes key. When expectedRevision is non-zero the key's
	// ModRevision must equal it (ErrConflict otherwise). It returns the
	// revision of the delete and the last stored state.
	Delete(ctx context.Context, key string, expectedRevision int64) (int64, KeyValue, error)
	// Watch streams, in revision order and exactly once, every change to
	// keys under prefix with a revision greater than afterRevision
	// (0: changes from now on). A compacted afterRevision gives
	// ErrCompacted, either at once or as a final EventError. The channel
	// is closed when ctx ends or after an EventError.
	Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan Event, error)
	// CurrentRevision is the revision of the latest write to the store.
	CurrentRevision(ctx context.Context) (int64, error)
	// Compact discards history before revision, as etcd does (current
	// values stay): afterwards a List with 0 < Revision < revision, and a
	// Watch with afterRevision+1 < revision, give ErrCompacted. As in
	// etcd, compacting at or below an earlier compaction gives
	// ErrCompacted and beyond the current revision ErrFutureRevision.
	Compact(ctx context.Context, revision int64) error
	// Close releases the store's resources; watches end (their channels
	// close). Calling it again is harmless.
	Close() error
}
