package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/ptr"
)

// rewatchPause is how long to wait before re-establishing a watch the
// server closed without delivering anything, so a server that closes
// watches at once is not hammered in a tight loop.
const rewatchPause = 100 * time.Millisecond

// incompleteError is a run that hit --timeout while waiting for the
// server. Its metrics are still printed (with what remained) before the
// benchmark stops with this error.
type incompleteError struct {
	after     time.Duration
	waiting   string
	remaining int
}

func (e *incompleteError) Error() string {
	return fmt.Sprintf("timed out after %s (--timeout) waiting for %s: %d objects remaining", e.after, e.waiting, e.remaining)
}

// setupError wraps an error from the untimed part of a run, saying so when
// --timeout (rather than the server) cut it short.
func setupError(parent, ctx context.Context, timeout time.Duration, what string, err error) error {
	if parent.Err() == nil && ctx.Err() != nil {
		return fmt.Errorf("%s: timed out after %s (--timeout): %w", what, timeout, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// rate is n objects over d, 0 when there is nothing to divide.
func rate(n int, d time.Duration) float64 {
	if n == 0 || d <= 0 {
		return 0
	}
	return round3(float64(n) / d.Seconds())
}

// msAfter is the time from t0 to t in milliseconds, or nil (JSON null)
// when t never happened.
func msAfter(t0, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t.Sub(t0))
}

// ownerName is the owner ConfigMap of a cascade run.
func (rc runConfig) ownerName() string { return "bench-owner-" + rc.runID }

// runCascade measures the garbage collector (spec D): an owner ConfigMap
// and rc.count dependent ConfigMaps with an ownerReference to it
// (controller false; blockOwnerDeletion true for Foreground, so that the
// owner waits for them) are created with rc.workers writers and a watch
// started from a List has seen all of them (not timed). Then the owner is
// deleted with policy; the clock runs from just before that DELETE until
// the owner's DELETED event and, for Background and Foreground, every
// dependent's DELETED event, or, for Orphan, an event showing every
// dependent without the ownerReference. The run is bounded by rc.timeout;
// when it expires the line is still printed, with what remained.
func runCascade(parent context.Context, rc runConfig, policy metav1.DeletionPropagation) ([]metric, error) {
	ctx, cancel := context.WithTimeout(parent, rc.timeout)
	defer cancel()
	setupErr := func(what string, err error) error { return setupError(parent, ctx, rc.timeout, what, err) }
	cms := rc.client.CoreV1().ConfigMaps(rc.ns)

	owner, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:      rc.ownerName(),
		Namespace: rc.ns,
		Labels:    map[string]string{labelManagedBy: managedByValue, labelRun: rc.runID},
	}}, metav1.CreateOptions{})
	if err != nil {
		return nil, setupErr("create owner", err)
	}
	rc.owner = &metav1.OwnerReference{
		APIVersion: "v1",
		Kind:       "ConfigMap",
		Name:       owner.Name,
		UID:        owner.UID,
		Controller: ptr.To(false),
	}
	if policy == metav1.DeletePropagationForeground {
		rc.owner.BlockOwnerDeletion = ptr.To(true)
	}
	if err := createAllOrFail(ctx, rc); err != nil {
		if perr := parent.Err(); perr != nil {
			return nil, perr
		}
		return nil, setupErr("create dependents", err)
	}

	t := newCascadeTracker(rc, policy, owner)
	sel := rc.selector()
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, setupErr("list configmaps", err)
	}
	t.resync(list.Items, time.Now())
	// The watch is established before the DELETE (rather than inside the
	// receiver) so that no event can slip past it even on a server that
	// ignores the resourceVersion.
	w, err := cms.Watch(ctx, watchOptions(rc, list.ResourceVersion))
	if err != nil {
		return nil, setupErr("watch configmaps", err)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	recvDone := make(chan error, 1)
	go func() { recvDone <- t.follow(wctx, cms, sel, w, list.ResourceVersion) }()

	select {
	case <-t.synced:
	case <-ctx.Done():
		stop()
		<-recvDone
		if err := parent.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("timed out after %s (--timeout) waiting for the watch to see the owner and %d dependents: saw %d of %d",
			rc.timeout, rc.count, t.seenCount(), rc.count+1)
	case err := <-recvDone:
		return nil, setupErr("watch configmaps", err)
	}

	t.arm()
	t0 := time.Now()
	err = cms.Delete(ctx, owner.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	deleteDur := time.Since(t0)
	if err != nil {
		stop()
		<-recvDone
		return nil, setupErr(fmt.Sprintf("delete owner %s with propagationPolicy %s", owner.Name, policy), err)
	}
	var recvErr error
	received := false
	select {
	case <-t.done:
	case <-ctx.Done():
	case recvErr = <-recvDone:
		received = true
	}
	end := time.Now()
	stop()
	if !received {
		recvErr = <-recvDone
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	s := t.snapshot()
	if !s.finished && ctx.Err() == nil && recvErr != nil {
		return nil, fmt.Errorf("watch configmaps: %w", recvErr)
	}

	elapsed := end.Sub(t0)
	if s.finished {
		elapsed = s.completed.Sub(t0)
	}
	m := []metric{
		{"elapsed_ms", ms(elapsed)},
		{"objects_per_sec", rate(s.resolved, elapsed)},
		{"delete_ms", ms(deleteDur)},
		{"first_dependent_event_ms", msAfter(t0, s.firstDependent)},
		{"owner_gone_ms", msAfter(t0, s.ownerGone)},
		{"remaining", s.remaining},
		{"timed_out", !s.finished},
		{"watch_relists", s.relists},
		{"errors", s.errCount},
	}
	if s.firstErr != nil {
		m = append(m, metric{"first_error", s.firstErr.Error()})
	}
	if !s.finished {
		waiting := "the owner and its dependents to be deleted"
		if policy == metav1.DeletePropagationOrphan {
			waiting = "the owner to be deleted and its dependents orphaned"
		}
		return m, &incompleteError{after: rc.timeout, waiting: waiting, remaining: s.remaining}
	}
	return m, nil
}

// createAllOrFail creates the run's objects with rc.workers writers and
// fails if any Create did: a benchmark over a partial set of objects would
// not be comparable.
func createAllOrFail(ctx context.Context, rc runConfig) error {
	var (
		mu       sync.Mutex
		failed   int
		firstErr error
	)
	rc.createAll(ctx, nil, func(_ int, _ time.Duration, err error) {
		if err == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		failed++
		if firstErr == nil {
			firstErr = err
		}
	})
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return fmt.Errorf("%d of %d creates failed, first error: %w", failed, rc.count, firstErr)
	}
	return nil
}

// cascadeTracker follows the run's ConfigMaps through a List and a watch
// (with relists) and decides when the owner's deletion has finished.
type cascadeTracker struct {
	policy   metav1.DeletionPropagation
	owner    string
	ownerUID types.UID
	index    map[string]int // dependent name -> index

	mu        sync.Mutex
	ownerSeen bool
	seen      []bool
	nSeen     int // the owner included
	// resolved: deleted, or (Orphan) seen without the ownerReference.
	resolved       []bool
	nResolved      int
	armed          bool // the owner's DELETE is about to be sent
	firstDependent time.Time
	ownerGone      time.Time
	completed      time.Time
	relists        int
	errCount       int
	firstErr       error
	synced         chan struct{} // closed once the owner and all dependents were seen
	done           chan struct{} // closed once completed is set
}

func newCascadeTracker(rc runConfig, policy metav1.DeletionPropagation, owner *corev1.ConfigMap) *cascadeTracker {
	t := &cascadeTracker{
		policy:   policy,
		owner:    owner.Name,
		ownerUID: owner.UID,
		index:    make(map[string]int, rc.count),
		seen:     make([]bool, rc.count),
		resolved: make([]bool, rc.count),
		synced:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	for i := range rc.count {
		t.index[rc.name(i)] = i
	}
	return t
}

// arm starts the measurement: from now on deletions and orphanings count.
func (t *cascadeTracker) arm() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = true
}

func (t *cascadeTracker) seenCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nSeen
}

// hasOwnerRef reports whether cm still refers to the tracked owner.
func (t *cascadeTracker) hasOwnerRef(cm *corev1.ConfigMap) bool {
	for _, r := range cm.OwnerReferences {
		if r.Kind == "ConfigMap" && r.Name == t.owner && r.UID == t.ownerUID {
			return true
		}
	}
	return false
}

func (t *cascadeTracker) fail(err error) {
	t.errCount++
	if t.firstErr == nil {
		t.firstErr = err
	}
}

// observe applies one event (or, from a relist, watch.Modified for a
// present object and watch.Deleted for a vanished one) received at now.
func (t *cascadeTracker) observe(typ watch.EventType, cm *corev1.ConfigMap, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.check(now)
	if cm.Name == t.owner {
		if typ == watch.Deleted {
			if t.armed && t.ownerGone.IsZero() {
				t.ownerGone = now
			}
		} else if !t.ownerSeen {
			t.ownerSeen = true
			t.nSeen++
		}
		return
	}
	i, ok := t.index[cm.Name]
	if !ok {
		return
	}
	if !t.armed {
		if typ != watch.Deleted && !t.seen[i] {
			t.seen[i] = true
			t.nSeen++
			if !t.hasOwnerRef(cm) {
				t.fail(fmt.Errorf("dependent %s was stored without its ownerReference", cm.Name))
			}
		}
		return
	}
	if t.firstDependent.IsZero() {
		t.firstDependent = now
	}
	if t.resolved[i] {
		return
	}
	switch {
	case typ == watch.Deleted:
		if t.policy == metav1.DeletePropagationOrphan {
			t.fail(fmt.Errorf("dependent %s was deleted under propagationPolicy Orphan", cm.Name))
		}
	case t.policy == metav1.DeletePropagationOrphan && !t.hasOwnerRef(cm):
	default:
		return
	}
	t.resolved[i] = true
	t.nResolved++
}

// check closes synced and done when their conditions first hold.
// t.mu must be held.
func (t *cascadeTracker) check(now time.Time) {
	select {
	case <-t.synced:
	default:
		if t.nSeen == len(t.index)+1 {
			close(t.synced)
		}
	}
	if t.completed.IsZero() && !t.ownerGone.IsZero() && t.nResolved == len(t.index) {
		t.completed = now
		close(t.done)
	}
}

// resync reconciles a full List: present objects count as modified,
// objects seen before but missing as deleted (at now, the best bound).
func (t *cascadeTracker) resync(items []corev1.ConfigMap, now time.Time) {
	present := make(map[string]bool, len(items))
	for i := range items {
		present[items[i].Name] = true
		t.observe(watch.Modified, &items[i], now)
	}
	t.mu.Lock()
	var gone []string
	if t.ownerSeen && !present[t.owner] {
		gone = append(gone, t.owner)
	}
	for name, i := range t.index {
		if t.seen[i] && !present[name] {
			gone = append(gone, name)
		}
	}
	t.mu.Unlock()
	for _, name := range gone {
		t.observe(watch.Deleted, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, now)
	}
}

// follow consumes w and its successors until ctx ends. A watch the server
// closes is resumed from the last resourceVersion seen; an ERROR event
// (typically 410 Gone after a compaction) leads to a fresh List that is
// reconciled, as a reflector would do.
func (t *cascadeTracker) follow(ctx context.Context, cms typedcorev1.ConfigMapInterface, sel string, w watch.Interface, rv string) error {
	for {
		relist, events, err := t.consume(ctx, w, &rv)
		w.Stop()
		if err != nil {
			return err
		}
		for {
			if relist {
				list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: sel})
				if err != nil {
					return fmt.Errorf("relist: %w", err)
				}
				t.resync(list.Items, time.Now())
				rv = list.ResourceVersion
			} else if events == 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(rewatchPause):
				}
			}
			w, err = cms.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
			if err == nil {
				break
			}
			if relist || !(apierrors.IsResourceExpired(err) || apierrors.IsGone(err)) {
				return fmt.Errorf("re-establish watch: %w", err)
			}
			t.mu.Lock()
			t.relists++
			t.mu.Unlock()
			relist = true
		}
	}
}

// consume reads w until it closes (relist false), delivers an ERROR event
// (relist true) or ctx ends (err).
func (t *cascadeTracker) consume(ctx context.Context, w watch.Interface, rv *string) (relist bool, events int, err error) {
	for {
		select {
		case <-ctx.Done():
			return false, events, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, events, nil
			}
			now := time.Now()
			events++
			if ev.Type == watch.Error {
				t.mu.Lock()
				t.relists++
				t.mu.Unlock()
				return true, events, nil
			}
			if obj, ok := ev.Object.(metav1.Object); ok && obj.GetResourceVersion() != "" {
				*rv = obj.GetResourceVersion()
			}
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && ev.Type != watch.Bookmark {
				t.observe(ev.Type, cm, now)
			}
		}
	}
}

// cascadeState is a consistent copy of a tracker's results.
type cascadeState struct {
	finished                             bool
	completed, firstDependent, ownerGone time.Time
	resolved, remaining                  int
	relists, errCount                    int
	firstErr                             error
}

func (t *cascadeTracker) snapshot() cascadeState {
	t.mu.Lock()
	defer t.mu.Unlock()
	remaining := len(t.index) - t.nResolved
	if t.ownerGone.IsZero() {
		remaining++
	}
	return cascadeState{
		finished:       !t.completed.IsZero(),
		completed:      t.completed,
		firstDependent: t.firstDependent,
		ownerGone:      t.ownerGone,
		resolved:       t.nResolved,
		remaining:      remaining,
		relists:        t.relists,
		errCount:       t.errCount,
		firstErr:       t.firstErr,
	}
}
