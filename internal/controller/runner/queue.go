package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// ErrRunTwice is returned by a second Run, or a Run after Close: a queue
// that has been shut down cannot be started again.
var ErrRunTwice = errors.New("Run called twice")

// Config configures a Queue.
type Config[K comparable] struct {
	// Name names the work queue (for workqueue metrics) and prefixes the
	// errors of Watch.
	Name string
	// Clock drives delays and the retry back-off. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the start, stop and sync-failure logs. Default:
	// discard.
	Logger *slog.Logger
	// Workers is the number of keys (or, with GroupOf, groups) synced in
	// parallel. Default 1.
	Workers int
	// RetryBaseDelay and RetryMaxDelay bound a key's exponential back-off
	// after failed syncs. Defaults DefaultRetryBaseDelay and
	// DefaultRetryMaxDelay.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// QPS and Burst bound the retries of all keys together. Defaults
	// DefaultQPS and DefaultBurst.
	QPS   float64
	Burst int

	// Sync brings the world in line for one key. Required unless GroupOf
	// and SyncGroup are set.
	Sync func(ctx context.Context, key K) error
	// GroupOf and SyncGroup, set together instead of Sync, batch keys: a
	// worker takes every queued key of one group at once and syncs them
	// one by one with the function SyncGroup returns for that batch, so
	// that they can share work (pvcprotection makes one live pod LIST per
	// namespace batch). Keys stay in processing until their batch ran, so
	// an event meanwhile queues them again afterwards.
	GroupOf   func(key K) string
	SyncGroup func(group string) func(ctx context.Context, key K) error

	// Observe, if set, sees every sync that was not cut short by the end
	// of Run's context, with its error (nil on success) and its duration
	// on Clock; controllers count their metrics there.
	Observe func(key K, err error, took time.Duration)
	// ErrorMessage is logged, at level Error, for a failed sync. Default
	// "sync failed, will retry".
	ErrorMessage string
	// KeyAttrs are the log attributes naming a key. Default: "key", key.
	KeyAttrs func(key K) []any
	// StartAttrs are logged with "starting", after the worker count.
	StartAttrs []any
}

// Requeuer is implemented by a sync error that is a wait, not a failure
// (the namespace controller's "content remains"): the key comes back after
// RequeueAfter, with no error log and no back-off. Its failure count is
// kept, not forgotten, as upstream does.
type Requeuer interface {
	RequeueAfter() time.Duration
}

// Informer is what a Queue needs of a shared informer.
type Informer interface {
	AddEventHandler(cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error)
	AddEventHandlerWithResyncPeriod(cache.ResourceEventHandler, time.Duration) (cache.ResourceEventHandlerRegistration, error)
	RemoveEventHandler(cache.ResourceEventHandlerRegistration) error
	HasSynced() bool
}

// Queue is a rate-limited work queue of keys K with the informer handlers
// that feed it and the workers that drain it. New and Watch start no
// goroutine: keys added before Run wait in a map and the work queue, whose
// construction starts goroutines, lives exactly as long as Run.
type Queue[K comparable] struct {
	name       string
	clock      clock.WithTicker
	log        *slog.Logger
	workers    int
	base       time.Duration
	maxDelay   time.Duration
	qps        float64
	burst      int
	sync       func(context.Context, K) error
	groupOf    func(K) string
	syncGroup  func(string) func(context.Context, K) error
	observe    func(K, error, time.Duration)
	errMessage string
	keyAttrs   func(K) []any
	startAttrs []any

	mu sync.Mutex
	// state moves from idle to running (Run) or done (Close), and from
	// running to done when Run returns.
	state state
	// wq is set by Run and kept, shut down, after it.
	wq workqueue.TypedRateLimitingInterface[K]
	// pending holds, until Run, each added key with the earliest time it
	// is due.
	pending  map[K]time.Time
	handlers []registration
}

type state int

const (
	idle state = iota
	running
	done
)

type registration struct {
	informer Informer
	reg      cache.ResourceEventHandlerRegistration
}

// New builds a queue; it starts no goroutine.
func New[K comparable](cfg Config[K]) (*Queue[K], error) {
	grouped := cfg.GroupOf != nil || cfg.SyncGroup != nil
	switch {
	case grouped && (cfg.GroupOf == nil || cfg.SyncGroup == nil):
		return nil, fmt.Errorf("runner %s: GroupOf and SyncGroup go together", cfg.Name)
	case grouped == (cfg.Sync != nil):
		return nil, fmt.Errorf("runner %s: exactly one of Sync and GroupOf/SyncGroup is required", cfg.Name)
	case cfg.RetryBaseDelay < 0 || cfg.RetryMaxDelay < 0 || cfg.QPS < 0 || cfg.Burst < 0:
		return nil, fmt.Errorf("runner %s: negative retry settings", cfg.Name)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.RetryBaseDelay == 0 {
		cfg.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if cfg.RetryMaxDelay == 0 {
		cfg.RetryMaxDelay = DefaultRetryMaxDelay
	}
	if cfg.QPS == 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.ErrorMessage == "" {
		cfg.ErrorMessage = "sync failed, will retry"
	}
	if cfg.KeyAttrs == nil {
		cfg.KeyAttrs = func(key K) []any { return []any{"key", key} }
	}
	return &Queue[K]{
		name:       cfg.Name,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		workers:    cfg.Workers,
		base:       cfg.RetryBaseDelay,
		maxDelay:   cfg.RetryMaxDelay,
		qps:        cfg.QPS,
		burst:      cfg.Burst,
		sync:       cfg.Sync,
		groupOf:    cfg.GroupOf,
		syncGroup:  cfg.SyncGroup,
		observe:    cfg.Observe,
		errMessage: cfg.ErrorMessage,
		keyAttrs:   cfg.KeyAttrs,
		startAttrs: cfg.StartAttrs,
		pending:    map[K]time.Time{},
	}, nil
}

// Watch registers h on inf until Run returns (or Close), and makes Run wait
// for both to sync before it starts the workers. A resync period > 0 asks
// inf for periodic resyncs; 0 takes the informer's default.
//
// Call Watch from the controller's New, before the informer starts: a
// resync period asked of a running informer that had none is ignored,
// since client-go fixes the resync check period when the informer starts.
func (q *Queue[K]) Watch(inf Informer, h cache.ResourceEventHandler, resync time.Duration) error {
	q.mu.Lock()
	st := q.state
	q.mu.Unlock()
	if st != idle {
		return fmt.Errorf("%s: Watch after Run or Close", q.name)
	}
	var reg cache.ResourceEventHandlerRegistration
	var err error
	if resync > 0 {
		reg, err = inf.AddEventHandlerWithResyncPeriod(h, resync)
	} else {
		reg, err = inf.AddEventHandler(h)
	}
	if err != nil {
		return fmt.Errorf("%s: adding an event handler: %w", q.name, err)
	}
	q.mu.Lock()
	q.handlers = append(q.handlers, registration{inf, reg})
	q.mu.Unlock()
	return nil
}

// Close undoes New and Watch for a queue whose Run will not be called: it
// removes the event handlers. It does nothing once Run has been called.
func (q *Queue[K]) Close() {
	q.mu.Lock()
	if q.state != idle {
		q.mu.Unlock()
		return
	}
	q.state = done
	q.pending = nil
	q.mu.Unlock()
	q.removeHandlers()
}

// Add queues key now.
func (q *Queue[K]) Add(key K) { q.AddAfter(key, 0) }

// AddAfter queues key after d on the clock. Before Run the key waits in
// memory (Run queues it at its due time); after Run it is dropped.
func (q *Queue[K]) AddAfter(key K, d time.Duration) {
	q.mu.Lock()
	wq, st := q.wq, q.state
	if wq == nil && st == idle {
		at := q.clock.Now().Add(d)
		if old, ok := q.pending[key]; !ok || at.Before(old) {
			q.pending[key] = at
		}
	}
	q.mu.Unlock()
	if wq != nil {
		// A shut-down work queue ignores the key.
		wq.AddAfter(key, d)
	}
}

// Run waits for the watched informers to sync, then syncs queued keys with
// the workers until ctx ends. It then removes the event handlers, shuts the
// queue down, waits for the workers and returns nil. It may be called
// once.
func (q *Queue[K]) Run(ctx context.Context) error {
	wq, synced, err := q.start()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var groups *batches[K]
	defer func() {
		q.removeHandlers()
		wq.ShutDown()
		if groups != nil {
			groups.shutDown()
		}
		wg.Wait()
		q.mu.Lock()
		q.state = done
		q.mu.Unlock()
		q.log.Info("stopped")
	}()
	q.log.Info("starting", append([]any{"workers", q.workers}, q.startAttrs...)...)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	if q.groupOf == nil {
		for range q.workers {
			wg.Go(func() {
				for q.processNext(ctx, wq) {
				}
			})
		}
	} else {
		groups = newBatches[K](q.name+"_groups", q.clock)
		wg.Go(func() { q.dispatch(wq, groups) })
		for range q.workers {
			wg.Go(func() {
				for q.processGroup(ctx, wq, groups) {
				}
			})
		}
	}
	<-ctx.Done()
	return nil
}

// start builds the work queue, moves the keys added before Run into it and
// returns what Run waits for.
func (q *Queue[K]) start() (workqueue.TypedRateLimitingInterface[K], []cache.InformerSynced, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != idle {
		return nil, nil, ErrRunTwice
	}
	q.state = running
	q.wq = workqueue.NewTypedRateLimitingQueueWithConfig(
		NewRateLimiter[K](q.clock, q.base, q.maxDelay, q.qps, q.burst),
		workqueue.TypedRateLimitingQueueConfig[K]{Name: q.name, Clock: q.clock},
	)
	now := q.clock.Now()
	for key, at := range q.pending {
		q.wq.AddAfter(key, at.Sub(now))
	}
	q.pending = nil
	var synced []cache.InformerSynced
	for _, h := range q.handlers {
		synced = append(synced, h.informer.HasSynced, h.reg.HasSynced)
	}
	return q.wq, synced, nil
}

func (q *Queue[K]) removeHandlers() {
	q.mu.Lock()
	handlers := q.handlers
	q.handlers = nil
	q.mu.Unlock()
	for _, h := range handlers {
		if err := h.informer.RemoveEventHandler(h.reg); err != nil {
			q.log.Warn("removing event handler", "err", err)
		}
	}
}

// processNext syncs one key; it returns false once the queue is shut down.
func (q *Queue[K]) processNext(ctx context.Context, wq workqueue.TypedRateLimitingInterface[K]) bool {
	key, quit := wq.Get()
	if quit {
		return false
	}
	defer wq.Done(key)
	q.syncKey(ctx, wq, key, q.sync)
	return true
}

// dispatch moves keys from the rate-limited queue into their groups' batches.
// A key stays in processing (not Done) until its batch ran.
func (q *Queue[K]) dispatch(wq workqueue.TypedRateLimitingInterface[K], groups *batches[K]) {
	for {
		key, quit := wq.Get()
		if quit {
			return
		}
		groups.add(q.groupOf(key), key)
	}
}

// processGroup syncs the keys of one group; it returns false once the
// batches are shut down.
func (q *Queue[K]) processGroup(ctx context.Context, wq workqueue.TypedRateLimitingInterface[K], groups *batches[K]) bool {
	group, keys, ok := groups.next()
	if !ok {
		return false
	}
	sync := q.syncGroup(group)
	for _, key := range keys {
		q.syncKey(ctx, wq, key, sync)
		wq.Done(key)
	}
	return true
}

// syncKey runs one sync and settles the key: forgotten on success, back
// after its wait for a Requeuer, back after its back-off on failure.
func (q *Queue[K]) syncKey(ctx context.Context, wq workqueue.TypedRateLimitingInterface[K], key K, sync func(context.Context, K) error) {
	start := q.clock.Now()
	err := sync(ctx, key)
	took := q.clock.Since(start)
	var requeue Requeuer
	switch {
	case err == nil:
		wq.Forget(key)
	case errors.As(err, &requeue):
		wq.AddAfter(key, requeue.RequeueAfter())
	case ctx.Err() != nil:
		// Shutting down: the failure is ours, not the key's.
		return
	default:
		q.log.Error(q.errMessage, append(q.keyAttrs(key), "err", err)...)
		wq.AddRateLimited(key)
	}
	if q.observe != nil {
		q.observe(key, err, took)
	}
}
