package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// churnFinalizer holds every object of a finalizer-churn run.
const churnFinalizer = "bench.terminus.dev/hold"

// runFinalizerChurn measures the life's end of finalizer-held objects, the
// path operators exercise all day (spec B5, C5): N ConfigMaps carrying one
// finalizer are created (not timed); then C workers each DELETE an object
// (which only marks it) and remove its finalizer with a merge patch that
// carries the resourceVersion the DELETE returned (as the GC does, D11),
// which deletes it. The clock per object runs from the DELETE to its
// DELETED watch event; objects/s is N over the time from the first DELETE
// to the last DELETED event.
func runFinalizerChurn(parent context.Context, rc runConfig) ([]metric, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	cms := rc.client.CoreV1().ConfigMaps(rc.ns)
	for i := range rc.count {
		cm := rc.configMap(i)
		cm.Finalizers = []string{churnFinalizer}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create %s: %w", cm.Name, err)
		}
	}
	index := make(map[string]int, rc.count)
	for i := range rc.count {
		index[rc.name(i)] = i
	}
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: rc.selector(), Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("list configmaps: %w", err)
	}
	w, err := cms.Watch(ctx, watchOptions(rc, list.ResourceVersion))
	if err != nil {
		return nil, fmt.Errorf("watch configmaps: %w", err)
	}
	defer w.Stop()

	starts := make([]time.Time, rc.count)
	gone := make([]time.Time, rc.count)
	allGone := make(chan struct{})
	recvDone := make(chan error, 1)
	go func() { recvDone <- receiveDeleted(ctx, w, index, gone, allGone) }()

	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		errCount int
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errCount++
		if firstErr == nil {
			firstErr = err
		}
	}
	begin := time.Now()
	for range min(rc.workers, rc.count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= rc.count || ctx.Err() != nil {
					return
				}
				starts[i] = time.Now()
				if err := churnOne(ctx, cms, rc.name(i)); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	select {
	case <-allGone:
	case <-timer.C:
	case err := <-recvDone:
		recvDone <- err
	}
	end := time.Now()
	cancel()
	if err := <-recvDone; err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	var latencies []time.Duration
	missed, last := 0, begin
	for i := range rc.count {
		if gone[i].IsZero() {
			missed++
			continue
		}
		latencies = append(latencies, gone[i].Sub(starts[i]))
		if gone[i].After(last) {
			last = gone[i]
		}
	}
	if missed > 0 {
		last = end
	}
	elapsed := last.Sub(begin)
	m := []metric{
		{"duration_ms", ms(elapsed)},
		{"objects_per_sec", round3(float64(len(latencies)) / elapsed.Seconds())},
	}
	m = append(m, latencySummary(latencies)...)
	m = append(m, metric{"errors", errCount}, metric{"missed_events", missed})
	if firstErr != nil {
		m = append(m, metric{"first_error", firstErr.Error()})
	}
	return m, nil
}

// churnOne deletes one finalizer-held object and removes its finalizer,
// retrying the removal on a conflict as a controller would (C9).
func churnOne(ctx context.Context, cms interface {
	Delete(context.Context, string, metav1.DeleteOptions) error
	Get(context.Context, string, metav1.GetOptions) (*corev1.ConfigMap, error)
	Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*corev1.ConfigMap, error)
}, name string) error {
	if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := cms.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", name, err)
		}
		patch := fmt.Sprintf(`{"metadata":{"finalizers":null,"resourceVersion":%q}}`, cur.ResourceVersion)
		_, err = cms.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err):
			continue
		default:
			return fmt.Errorf("remove finalizer of %s: %w", name, err)
		}
	}
	return fmt.Errorf("remove finalizer of %s: still conflicting after 5 attempts", name)
}

// receiveDeleted stamps the arrival of each expected DELETED event.
func receiveDeleted(ctx context.Context, w watch.Interface, index map[string]int, gone []time.Time, allGone chan<- struct{}) error {
	remaining := len(index)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return errors.New("watch closed by the server")
			}
			switch ev.Type {
			case watch.Error:
				return apierrors.FromObject(ev.Object)
			case watch.Deleted:
				cm, ok := ev.Object.(*corev1.ConfigMap)
				if !ok {
					continue
				}
				if i, ok := index[cm.Name]; ok && gone[i].IsZero() {
					gone[i] = time.Now()
					if remaining--; remaining == 0 {
						close(allGone)
					}
				}
			}
		}
	}
}
