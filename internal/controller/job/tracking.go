package job

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// finalizerExpectations record, per Job key, the pods whose tracking
// finalizer this controller removed and whose update the informer has not
// shown yet (upstream uidTrackingExpectations in tracking_utils.go): a
// sync in between must not count those pods again.
type finalizerExpectations struct {
	mu    sync.Mutex
	byKey map[string]map[types.UID]struct{}
}

func newFinalizerExpectations() *finalizerExpectations {
	return &finalizerExpectations{byKey: map[string]map[types.UID]struct{}{}}
}

// expected returns a copy of key's awaited uids.
func (e *finalizerExpectations) expected(key string) map[types.UID]struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[types.UID]struct{}, len(e.byKey[key]))
	for uid := range e.byKey[key] {
		out[uid] = struct{}{}
	}
	return out
}

// expect adds uids to key's awaited removals.
func (e *finalizerExpectations) expect(key string, uids []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	set := e.byKey[key]
	if set == nil {
		set = map[types.UID]struct{}{}
		e.byKey[key] = set
	}
	for _, uid := range uids {
		set[uid] = struct{}{}
	}
}

// observed counts the removal of uid's finalizer as seen (or as never to
// be seen, after a failed patch).
func (e *finalizerExpectations) observed(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if set := e.byKey[key]; set != nil {
		delete(set, uid)
		if len(set) == 0 {
			delete(e.byKey, key)
		}
	}
}

func (e *finalizerExpectations) delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}

// hasTrackingFinalizer reports whether p carries the F5 finalizer.
func hasTrackingFinalizer(p *corev1.Pod) bool {
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer)
}

type finalizerPatch struct {
	Metadata finalizerPatchMeta `json:"metadata"`
}

type finalizerPatchMeta struct {
	DeleteFinalizers []string `json:"$deleteFromPrimitiveList/finalizers"`
}

// removeTrackingFinalizerPatch is the strategic merge patch that removes
// the F5 finalizer, or nil if p has none (upstream
// removeTrackingFinalizerPatch).
func removeTrackingFinalizerPatch(p *corev1.Pod) ([]byte, error) {
	if !hasTrackingFinalizer(p) {
		return nil, nil
	}
	b, err := json.Marshal(finalizerPatch{Metadata: finalizerPatchMeta{DeleteFinalizers: []string{batchv1.JobTrackingFinalizer}}})
	if err != nil {
		return nil, fmt.Errorf("building the finalizer patch: %w", err)
	}
	return b, nil
}

// uidSet is a set of pod uids.
type uidSet map[types.UID]struct{}

func newUIDSet(uids []types.UID) uidSet {
	s := make(uidSet, len(uids))
	for _, u := range uids {
		s[u] = struct{}{}
	}
	return s
}

func (s uidSet) has(uid types.UID) bool { _, ok := s[uid]; return ok }

// cleanUncounted moves the uids of status.uncountedTerminatedPods whose
// pods no longer carry the finalizer (withFinalizer lacks them) into the
// succeeded and failed counters (upstream
// cleanUncountedPodsWithoutFinalizers). It reports whether status changed.
func cleanUncounted(status *batchv1.JobStatus, withFinalizer uidSet) bool {
	u := status.UncountedTerminatedPods
	changed := false
	keep := func(uids []types.UID) []types.UID {
		var out []types.UID
		for _, uid := range uids {
			if withFinalizer.has(uid) {
				out = append(out, uid)
			}
		}
		return out
	}
	if kept := keep(u.Succeeded); len(kept) != len(u.Succeeded) {
		status.Succeeded += int32(len(u.Succeeded) - len(kept))
		u.Succeeded, changed = kept, true
	}
	if kept := keep(u.Failed); len(kept) != len(u.Failed) {
		status.Failed += int32(len(u.Failed) - len(kept))
		u.Failed, changed = kept, true
	}
	return changed
}
