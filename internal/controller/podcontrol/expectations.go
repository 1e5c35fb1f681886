package podcontrol

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long expectations hold a controller back
// when the events it waits for never come (a dropped watch event): then
// it syncs anyway (upstream controller.ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// Expectations record, per controller key, the pod creates and deletes a
// controller has issued and its informer has not yet shown it, so that a
// sync in between does not create or delete the same pods again
// (upstream ControllerExpectations with UIDTrackingControllerExpectations
// for deletes). Deletes are tracked by pod key, so that a pod seen first
// as terminating and then as deleted counts once. Expectations run on the
// injected clock, which upstream's (on the wall clock) do not.
//
// A key with no expectations, fulfilled ones, or ones older than
// ExpectationsTimeout is satisfied.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	byKey map[string]*expectation
}

type expectation struct {
	add, del int64
	// deletes are the pod keys whose deletion is still awaited.
	deletes map[string]struct{}
	at      time.Time
}

// NewExpectations returns empty expectations on clk.
func NewExpectations(clk clock.PassiveClock) *Expectations {
	return &Expectations{clock: clk, byKey: map[string]*expectation{}}
}

// Satisfied reports whether key's controller may sync: no expectations,
// all observed, or expired.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byKey[key]
	if !ok {
		return true
	}
	return (x.add <= 0 && x.del <= 0) || e.clock.Since(x.at) > ExpectationsTimeout
}

// ExpectCreations replaces key's expectations with n creates.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.set(key, &expectation{add: int64(n)})
}

// ExpectDeletions replaces key's expectations with the deletion of the
// pods podKeys (PodKey).
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	x := &expectation{deletes: make(map[string]struct{}, len(podKeys))}
	for _, k := range podKeys {
		x.deletes[k] = struct{}{}
	}
	x.del = int64(len(x.deletes))
	e.set(key, x)
}

func (e *Expectations) set(key string, x *expectation) {
	x.at = e.clock.Now()
	e.mu.Lock()
	e.byKey[key] = x
	e.mu.Unlock()
}

// CreationObserved counts one awaited create of key as seen, or as never
// to be seen (a create that was skipped or failed).
func (e *Expectations) CreationObserved(key string) { e.LowerCreations(key, 1) }

// LowerCreations counts n awaited creates of key as seen.
func (e *Expectations) LowerCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok {
		x.add -= int64(n)
	}
}

// DeletionObserved counts the deletion of the pod podKey as seen, if key
// awaited it: a pod is counted once, whether seen terminating or gone.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok {
		if _, awaited := x.deletes[podKey]; awaited {
			delete(x.deletes, podKey)
			x.del--
		}
	}
}

// Delete forgets key's expectations, e.g. when its owner is deleted, so
// that a new owner of the same name starts clean.
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	delete(e.byKey, key)
	e.mu.Unlock()
}

// Get returns key's outstanding creates and deletes; ok is false if it
// has none recorded.
func (e *Expectations) Get(key string) (add, del int64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byKey[key]
	if !ok {
		return 0, 0, false
	}
	return x.add, x.del, true
}
