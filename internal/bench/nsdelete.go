package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// namespacePollInterval is how often the namespace is polled when its
// watch cannot be used.
const namespacePollInterval = 10 * time.Millisecond

// runNamespaceDelete measures the namespace controller (spec E): a fresh
// namespace (rc.ns is set to it) with rc.count ConfigMaps created by
// rc.workers writers (not timed) is deleted, and the clock runs from just
// before the DELETE until the namespace is gone: its DELETED event on a
// watch with fieldSelector metadata.name=<ns> set up before the DELETE,
// or, if that watch fails, a GET answering NotFound (polled every 10 ms).
// The run is bounded by rc.timeout; a namespace still there then (usually
// Terminating) is left behind and reported, only our ConfigMaps in it are
// removed.
func runNamespaceDelete(parent context.Context, rc *runConfig) (m []metric, err error) {
	ctx, cancel := context.WithTimeout(parent, rc.timeout)
	defer cancel()
	setupErr := func(what string, err error) error { return setupError(parent, ctx, rc.timeout, what, err) }
	nsc := rc.client.CoreV1().Namespaces()

	ns, err := createNamespace(ctx, rc.client)
	if err != nil {
		return nil, setupErr("create namespace", err)
	}
	rc.ns = ns
	deleted, gone := false, false
	defer func() {
		if gone {
			return
		}
		// Our ConfigMaps first, so nothing is left even on a server whose
		// namespace controller never finishes.
		if cerr := rc.cleanup(parent); cerr != nil {
			err = errors.Join(err, cerr)
		}
		if deleted {
			return // left Terminating; reported in the line
		}
		cctx, ccancel := cleanupContext(parent)
		defer ccancel()
		if derr := nsc.Delete(cctx, ns, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
			err = errors.Join(err, fmt.Errorf("delete namespace %s: %w", ns, derr))
		}
	}()

	if rc.count > 0 {
		if err := createAllOrFail(ctx, *rc); err != nil {
			if perr := parent.Err(); perr != nil {
				return nil, perr
			}
			return nil, setupErr("create configmaps", err)
		}
	}

	nw := &namespaceWaiter{nsc: nsc, name: ns, sel: fields.OneTermEqualSelector("metadata.name", ns).String()}
	w := nw.startWatch(ctx)
	t0 := time.Now()
	err = nsc.Delete(ctx, ns, metav1.DeleteOptions{})
	deleteDur := time.Since(t0)
	if err != nil && !apierrors.IsNotFound(err) {
		if w != nil {
			w.Stop()
		}
		return nil, setupErr("delete namespace "+ns, err)
	}
	deleted = true
	goneAt, waitErr := nw.wait(ctx, w)
	end := time.Now()
	if perr := parent.Err(); perr != nil {
		return nil, perr
	}
	if waitErr == nil {
		gone = true
		end = goneAt
	}
	elapsed := end.Sub(t0)
	remaining, phase := 0, ""
	if !gone {
		// Partial progress, read on a context that outlives the timeout.
		cctx, ccancel := cleanupContext(parent)
		defer ccancel()
		remaining = -1 // unknown
		if list, lerr := rc.client.CoreV1().ConfigMaps(ns).List(cctx, metav1.ListOptions{LabelSelector: rc.selector()}); lerr == nil {
			remaining = len(list.Items)
		}
		phase = "unknown"
		switch cur, gerr := nsc.Get(cctx, ns, metav1.GetOptions{}); {
		case gerr == nil:
			phase = string(cur.Status.Phase)
		case apierrors.IsNotFound(gerr):
			phase = "NotFound" // gone just after the deadline
		}
		err = &incompleteError{after: rc.timeout, waiting: "namespace " + ns + " to be deleted", remaining: remaining}
	}
	removed := rc.count - remaining // on a timeout, only what went
	if remaining < 0 {
		removed = 0
	}
	m = []metric{
		{"elapsed_ms", ms(elapsed)},
		{"objects_per_sec", rate(removed, elapsed)},
		{"delete_ms", ms(deleteDur)},
		{"observed_by", nw.via},
		{"remaining", remaining},
		{"timed_out", !gone},
	}
	if !gone {
		m = append(m, metric{"namespace_phase", phase})
		gone = phase == "NotFound"
	}
	m = append(m, metric{"errors", nw.errCount})
	if nw.firstErr != nil {
		m = append(m, metric{"first_error", nw.firstErr.Error()})
	}
	return m, err
}

// namespaceWaiter waits for one namespace to be gone.
type namespaceWaiter struct {
	nsc       typedcorev1.NamespaceInterface
	name, sel string
	via       string // "watch" or "poll": what saw the namespace gone
	errCount  int    // failed requests while waiting (the wait goes on)
	firstErr  error
}

func (nw *namespaceWaiter) note(err error) {
	nw.errCount++
	if nw.firstErr == nil {
		nw.firstErr = err
	}
}

// startWatch watches the namespace from a List's resourceVersion, or
// returns a nil watch (and polling takes over) if the server refuses.
func (nw *namespaceWaiter) startWatch(ctx context.Context) watch.Interface {
	list, err := nw.nsc.List(ctx, metav1.ListOptions{FieldSelector: nw.sel})
	if err != nil {
		nw.note(fmt.Errorf("list namespace %s: %w", nw.name, err))
		return nil
	}
	w, err := nw.nsc.Watch(ctx, metav1.ListOptions{FieldSelector: nw.sel, ResourceVersion: list.ResourceVersion})
	if err != nil {
		nw.note(fmt.Errorf("watch namespace %s: %w", nw.name, err))
		return nil
	}
	return w
}

// wait returns when the namespace is gone, or ctx's error.
func (nw *namespaceWaiter) wait(ctx context.Context, w watch.Interface) (time.Time, error) {
	if w != nil {
		nw.via = "watch"
		if at, ok := nw.watch(ctx, w); ok {
			return at, nil
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
	}
	nw.via = "poll"
	return nw.poll(ctx)
}

// watch reads w until the namespace's DELETED event (true) or until the
// watch ends or fails, or ctx ends (false).
func (nw *namespaceWaiter) watch(ctx context.Context, w watch.Interface) (time.Time, bool) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case ev, ok := <-w.ResultChan():
			now := time.Now()
			if !ok {
				// Closed by the server (its watch timeout is far longer
				// than a namespace deletion should take): poll instead.
				return time.Time{}, false
			}
			switch ev.Type {
			case watch.Error:
				nw.note(fmt.Errorf("watch namespace %s: %w", nw.name, apierrors.FromObject(ev.Object)))
				return time.Time{}, false
			case watch.Deleted:
				if obj, ok := ev.Object.(metav1.Object); ok && obj.GetName() == nw.name {
					return now, true
				}
			}
		}
	}
}

// poll GETs the namespace every namespacePollInterval until NotFound.
func (nw *namespaceWaiter) poll(ctx context.Context) (time.Time, error) {
	tick := time.NewTicker(namespacePollInterval)
	defer tick.Stop()
	for {
		_, err := nw.nsc.Get(ctx, nw.name, metav1.GetOptions{})
		now := time.Now()
		switch {
		case apierrors.IsNotFound(err):
			return now, nil
		case err != nil && ctx.Err() == nil:
			nw.note(fmt.Errorf("get namespace %s: %w", nw.name, err))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-tick.C:
		}
	}
}
