package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// runConfig is everything one run of a client-go scenario needs.
type runConfig struct {
	client  kubernetes.Interface
	ns      string
	runID   string // unique per run; names and labels derive from it
	count   int
	workers int
	payload string
	// owner, when set, is put on every object configMap builds.
	owner *metav1.OwnerReference
	// timeout bounds a run that waits for a server-side controller.
	timeout time.Duration
}

// name of the i-th object of the run.
func (rc runConfig) name(i int) string { return fmt.Sprintf("bench-%s-%d", rc.runID, i) }

// selector matches exactly this run's objects.
func (rc runConfig) selector() string {
	return labels.Set{labelRun: rc.runID}.String()
}

func (rc runConfig) configMap(i int) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:      rc.name(i),
		Namespace: rc.ns,
		Labels:    map[string]string{labelManagedBy: managedByValue, labelRun: rc.runID},
	}}
	if rc.payload != "" {
		cm.Data = map[string]string{"payload": rc.payload}
	}
	if rc.owner != nil {
		cm.OwnerReferences = []metav1.OwnerReference{*rc.owner}
	}
	return cm
}

// createAll creates the run's ConfigMaps with rc.workers goroutines,
// calling before(i) just before and after(i, latency, err) right after each
// Create. It returns the wall-clock time from the first to the last request.
func (rc runConfig) createAll(ctx context.Context, before func(i int), after func(i int, d time.Duration, err error)) time.Duration {
	cms := rc.client.CoreV1().ConfigMaps(rc.ns)
	// Objects are built up front so that their construction is not part
	// of the measured latency.
	objs := make([]*corev1.ConfigMap, rc.count)
	for i := range objs {
		objs[i] = rc.configMap(i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(rc.workers, rc.count) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= rc.count {
					return
				}
				if before != nil {
					before(i)
				}
				t0 := time.Now()
				_, err := cms.Create(ctx, objs[i], metav1.CreateOptions{})
				after(i, time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// runCreate measures create throughput and latency.
func runCreate(ctx context.Context, rc runConfig) ([]metric, error) {
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, rc.count)
		errCount  int
		firstErr  error
	)
	elapsed := rc.createAll(ctx, nil, func(_ int, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errCount++
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		latencies = append(latencies, d)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(latencies) == 0 && firstErr != nil {
		// Nothing succeeded: this is a misconfiguration (RBAC, wrong
		// namespace), not a measurement.
		return nil, fmt.Errorf("every create failed, first error: %w", firstErr)
	}
	m := []metric{
		{"duration_ms", ms(elapsed)},
		{"objects_per_sec", round3(float64(len(latencies)) / elapsed.Seconds())},
	}
	m = append(m, latencySummary(latencies)...)
	m = append(m, metric{"errors", errCount})
	if firstErr != nil {
		m = append(m, metric{"first_error", firstErr.Error()})
	}
	return m, nil
}

// cleanup deletes the run's objects so that runs start from the same state
// and nothing is left behind in a user-supplied namespace.
func (rc runConfig) cleanup(ctx context.Context) error {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	cms := rc.client.CoreV1().ConfigMaps(rc.ns)
	sel := metav1.ListOptions{LabelSelector: rc.selector()}
	// One DeleteCollection does the bulk of the work on a real server. It
	// is optional for a server, though, and client-go's fake even reports
	// success without deleting, so its error is ignored and whatever a
	// List still finds is deleted one by one.
	_ = cms.DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
	list, err := cms.List(ctx, sel)
	if err != nil {
		return fmt.Errorf("cleanup: list configmaps %s: %w", rc.selector(), err)
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range max(1, rc.workers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(list.Items) {
					return
				}
				if len(list.Items[i].Finalizers) > 0 {
					// finalizer-churn leaves held objects behind on failure.
					_, _ = cms.Patch(ctx, list.Items[i].Name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
				}
				err := cms.Delete(ctx, list.Items[i].Name, metav1.DeleteOptions{})
				if err != nil && !apierrors.IsNotFound(err) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("cleanup: %d deletes failed, first: %w", len(errs), errs[0])
	}
	return nil
}
