package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// eventTimeout is how long to wait, after the last Create returned, for
// ADDED events still in flight. Events later than this are reported as
// missed rather than hanging the benchmark.
const eventTimeout = 30 * time.Second

// runWatchLatency measures create-to-ADDED-event latency.
func runWatchLatency(parent context.Context, rc runConfig) ([]metric, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	// Index names so the receiver can map events back to requests.
	index := make(map[string]int, rc.count)
	for i := range rc.count {
		index[rc.name(i)] = i
	}
	arrived := make([]time.Time, rc.count)
	starts := make([]time.Time, rc.count)
	created := make([]bool, rc.count)

	// Start the watch from the resourceVersion of a List, so events for
	// objects created after this point are delivered even if the server
	// registers the watcher lazily after sending response headers.
	cms := rc.client.CoreV1().ConfigMaps(rc.ns)
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: rc.selector(), Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("list configmaps: %w", err)
	}
	w, err := cms.Watch(ctx, watchOptions(rc, list.ResourceVersion))
	if err != nil {
		return nil, fmt.Errorf("watch configmaps: %w", err)
	}

	allArrived := make(chan struct{})
	recvDone := make(chan error, 1)
	go func() { recvDone <- receive(ctx, rc, w, list.ResourceVersion, index, arrived, allArrived) }()

	var (
		mu       sync.Mutex
		errCount int
		firstErr error
	)
	elapsed := rc.createAll(ctx,
		func(i int) { starts[i] = time.Now() },
		func(i int, _ time.Duration, err error) {
			if err == nil {
				created[i] = true
				return
			}
			mu.Lock()
			defer mu.Unlock()
			errCount++
			if firstErr == nil {
				firstErr = err
			}
		})

	var recvErr error
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	if errCount < rc.count { // no events to wait for when everything failed
		select {
		case <-allArrived:
		case <-timer.C:
		case <-ctx.Done():
		case recvErr = <-recvDone:
			recvDone <- recvErr // put back for the final receive below
		}
	}
	cancel()
	if err := <-recvDone; err != nil && !errors.Is(err, context.Canceled) {
		recvErr = err
	}
	if recvErr != nil {
		return nil, fmt.Errorf("watch: %w", recvErr)
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if errCount == rc.count {
		return nil, fmt.Errorf("every create failed, first error: %w", firstErr)
	}

	var latencies []time.Duration
	missed := 0
	for i := range rc.count {
		switch {
		case !created[i]:
		case arrived[i].IsZero():
			missed++
		default:
			latencies = append(latencies, arrived[i].Sub(starts[i]))
		}
	}
	m := []metric{{"duration_ms", ms(elapsed)}}
	m = append(m, latencySummary(latencies)...)
	m = append(m, metric{"errors", errCount}, metric{"missed_events", missed})
	if firstErr != nil {
		m = append(m, metric{"first_error", firstErr.Error()})
	}
	return m, nil
}

func watchOptions(rc runConfig, rv string) metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: rc.selector(), ResourceVersion: rv}
}

// receive consumes watch events, stamping the arrival time of each
// expected ADDED event, until all have arrived (closing allArrived) or ctx
// ends. A watch the server closes (timeouts, restarts of a cache) is
// resumed from the last seen resourceVersion, like a reflector would.
func receive(ctx context.Context, rc runConfig, w watch.Interface, lastRV string, index map[string]int,
	arrived []time.Time, allArrived chan<- struct{}) error {
	remaining := len(index)
	for {
		closed, err := func() (bool, error) {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return false, ctx.Err()
				case ev, ok := <-w.ResultChan():
					if !ok {
						return true, nil
					}
					now := time.Now()
					switch ev.Type {
					case watch.Error:
						return false, apierrors.FromObject(ev.Object)
					case watch.Added:
						cm, ok := ev.Object.(*corev1.ConfigMap)
						if !ok {
							continue
						}
						lastRV = cm.ResourceVersion
						if i, ok := index[cm.Name]; ok && arrived[i].IsZero() {
							arrived[i] = now
							if remaining--; remaining == 0 {
								close(allArrived)
								// Keep draining until cancelled so the
								// server never blocks on a full stream.
							}
						}
					default:
						if obj, ok := ev.Object.(metav1.Object); ok {
							lastRV = obj.GetResourceVersion()
						}
					}
				}
			}
		}()
		if !closed {
			return err
		}
		w, err = rc.client.CoreV1().ConfigMaps(rc.ns).Watch(ctx, watchOptions(rc, lastRV))
		if err != nil {
			return fmt.Errorf("re-establish watch: %w", err)
		}
	}
}
