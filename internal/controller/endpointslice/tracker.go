package endpointslice

import (
	"strconv"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// tracker remembers, per service, the version of each slice this
// controller last wrote and the slices it deleted (upstream
// EndpointSliceTracker), so that a sync never acts on an informer cache
// older than its own writes (it would undo them, or create a second set
// of slices), and so that the informer's echo of a write does not queue
// the service again.
//
// The version is metadata.generation, as upstream, when the server sets
// it; else the resourceVersion read as a number, which terminus' store
// revisions are (spec A5) and etcd-backed servers' are too. A slice of
// neither kind is never taken as stale.
type tracker struct {
	mu sync.Mutex
	// versions maps a service key to its slices' versions by UID.
	versions map[string]map[types.UID]int64
}

// deletionExpected marks a slice this controller deleted.
const deletionExpected = -1

func newTracker() *tracker { return &tracker{versions: map[string]map[types.UID]int64{}} }

// sliceVersion returns the version of a slice, ok false if it has none.
func sliceVersion(s *discoveryv1.EndpointSlice) (int64, bool) {
	if s.Generation > 0 {
		return s.Generation, true
	}
	rv, err := strconv.ParseInt(s.ResourceVersion, 10, 64)
	if err != nil || rv <= 0 {
		return 0, false
	}
	return rv, true
}

// serviceOf is the key of the service a slice belongs to, by its label.
func serviceOf(s *discoveryv1.EndpointSlice) string {
	return s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
}

// has reports whether the slice is tracked.
func (t *tracker) has(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.versions[serviceOf(s)][s.UID]
	return ok
}

// shouldSync reports whether a cached slice is news: untracked, or newer
// than this controller's last write.
func (t *tracker) shouldSync(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.versions[serviceOf(s)][s.UID]
	if !ok {
		return true
	}
	cur, known := sliceVersion(s)
	return !known || cur > v
}

// stale reports whether the cached slices of the service key are older
// than this controller's writes: a slice older than written, one deleted
// but still cached, or one written but not cached yet.
func (t *tracker) stale(key string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	versions, ok := t.versions[key]
	if !ok {
		return false
	}
	seen := make(map[types.UID]bool, len(cached))
	for _, s := range cached {
		seen[s.UID] = true
		v, ok := versions[s.UID]
		if !ok {
			continue
		}
		if v == deletionExpected {
			return true
		}
		if cur, known := sliceVersion(s); known && v > cur {
			return true
		}
	}
	for uid, v := range versions {
		if v != deletionExpected && !seen[uid] {
			return true
		}
	}
	return false
}

// update records a slice this controller created or updated, as the API
// returned it.
func (t *tracker) update(s *discoveryv1.EndpointSlice) {
	v, ok := sliceVersion(s)
	if !ok {
		// Untrackable: the next sync reads the cache as it is.
		return
	}
	t.set(serviceOf(s), s.UID, v)
}

// expectDeletion records a slice this controller deleted.
func (t *tracker) expectDeletion(s *discoveryv1.EndpointSlice) {
	t.set(serviceOf(s), s.UID, deletionExpected)
}

func (t *tracker) set(key string, uid types.UID, v int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.versions[key] == nil {
		t.versions[key] = map[types.UID]int64{}
	}
	t.versions[key][uid] = v
}

// handleDeletion forgets a slice the informer saw go; it returns false if
// this controller did not delete it (someone else did: resync).
func (t *tracker) handleDeletion(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	versions := t.versions[serviceOf(s)]
	v, ok := versions[s.UID]
	delete(versions, s.UID)
	return !ok || v == deletionExpected
}

// forget drops a deleted service.
func (t *tracker) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.versions, key)
}
