package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/ptr"
)

// Images of the pod scenarios. terminus's agent runs pause's stand-in
// (which exits on TERM) and busybox's command on the host; a kubelet pulls
// them, so the figures compare.
const (
	pauseImage   = "registry.k8s.io/pause:3.10"
	busyboxImage = "busybox:1.37"
)

const (
	// serviceAccountWait bounds the wait for a fresh namespace's "default"
	// ServiceAccount, which kube-apiserver's admission requires before it
	// accepts pods; a server without a serviceaccount controller is given
	// the pods anyway after this long.
	serviceAccountWait = 10 * time.Second
	// saPollInterval is how often that ServiceAccount is polled.
	saPollInterval = 20 * time.Millisecond
	// markEnv names the marks-file prefix of a pod-delete or pod-kill
	// program (an environment variable, so no path is quoted into sh).
	markEnv = "BENCH_MARK"
)

func isPodScenario(s string) bool {
	return s == ScenarioPodStart || s == ScenarioPodDelete || s == ScenarioPodKill || s == ScenarioPodsIdle
}

// validatePods checks the options of the pod scenarios.
func (o *Options) validatePods() []error {
	var errs []error
	if o.Launch != "" || o.LaunchKubeconfig != "" {
		errs = append(errs, fmt.Errorf("--launch and --launch-kubeconfig only apply to the ready scenario, not %q", o.Scenario))
	}
	imageScenario := o.Scenario == ScenarioPodStart || o.Scenario == ScenarioPodsIdle
	if (o.PodImage != "" || o.PodCommand != "") && !imageScenario {
		errs = append(errs, fmt.Errorf("--pod-image and --pod-command only apply to pod-start and pods-idle, not %q (its program is fixed)", o.Scenario))
	}
	if o.PodCommand != "" {
		if args, err := splitCommandLine(o.PodCommand); err != nil {
			errs = append(errs, fmt.Errorf("--pod-command: %w", err))
		} else if len(args) == 0 {
			errs = append(errs, errors.New("--pod-command is empty"))
		}
	}
	if o.MarksDir != "" && o.Scenario != ScenarioPodDelete && o.Scenario != ScenarioPodKill {
		errs = append(errs, fmt.Errorf("--marks-dir only applies to pod-delete and pod-kill, not %q", o.Scenario))
	}
	if o.GracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--grace-period must not be negative, got %d", o.GracePeriod))
	}
	if o.Scenario == ScenarioPodsIdle {
		if o.PID <= 0 {
			errs = append(errs, errors.New("--pid is required for pods-idle: the process (on this machine) whose CPU time to sample"))
		}
	} else if o.PID != 0 {
		errs = append(errs, fmt.Errorf("--pid only applies to pods-idle, not %q", o.Scenario))
	}
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("--duration must not be negative, got %s", o.Duration))
	}
	return errs
}

// headerMetrics are the first keys of a result line after the common
// header: what the run was configured with.
func headerMetrics(o Options, ns string) []metric {
	if !isPodScenario(o.Scenario) {
		return []metric{{"namespace", ns}, {"payload_bytes", o.PayloadBytes}, {"content_type", o.ContentType}}
	}
	m := []metric{{"namespace", ns}, {"content_type", o.ContentType}}
	switch o.Scenario {
	case ScenarioPodStart, ScenarioPodsIdle:
		image, command := o.podContainer()
		m = append(m, metric{"image", image}, metric{"command", strings.Join(command, " ")})
	case ScenarioPodKill:
		m = append(m, metric{"grace_period_s", o.GracePeriod})
	}
	return m
}

// podContainer is the image and command of pod-start's and pods-idle's
// container. Validate has checked that PodCommand splits.
func (o Options) podContainer() (string, []string) {
	command, _ := splitCommandLine(o.PodCommand)
	image := o.PodImage
	if image == "" {
		image = pauseImage
		if len(command) > 0 {
			image = busyboxImage
		}
	}
	return image, command
}

// pod builds the run's i-th pod. The pods tolerate nothing and request
// nothing, so any schedulable node takes them; the service account token
// is not mounted because no program of ours talks to the API.
func (rc runConfig) pod(i int, image string, command []string, env []corev1.EnvVar, grace *int64) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      rc.name(i),
			Namespace: rc.ns,
			Labels:    map[string]string{labelManagedBy: managedByValue, labelRun: rc.runID},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "c", Image: image, Command: command, Env: env,
				ImagePullPolicy: corev1.PullIfNotPresent,
			}},
			TerminationGracePeriodSeconds: grace,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
		},
	}
}

// forEach calls fn(i) for i in [0, n) from up to workers goroutines and
// returns when all calls have, or ctx has ended and the calls under way
// have returned.
func forEach(ctx context.Context, n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// errorCounter counts failed requests and keeps the first error.
type errorCounter struct {
	mu    sync.Mutex
	n     int
	first error
}

func (e *errorCounter) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.first == nil {
		e.first = err
	}
}

// metrics are the "errors" and, if any, "first_error" keys.
func (e *errorCounter) metrics() []metric {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := []metric{{"errors", e.n}}
	if e.first != nil {
		m = append(m, metric{"first_error", e.first.Error()})
	}
	return m
}

// createPods creates the run's pods with rc.workers writers, stamping
// starts[i] just before each Create. It returns which were created. A
// non-nil after is called after each successful Create by the worker
// that made it, which goes on to its next pod only when it returns.
func createPods(ctx context.Context, rc runConfig, build func(i int) *corev1.Pod, starts []time.Time, errs *errorCounter, after func(i int)) []bool {
	pods := rc.client.CoreV1().Pods(rc.ns)
	objs := make([]*corev1.Pod, rc.count)
	for i := range objs {
		objs[i] = build(i)
	}
	created := make([]bool, rc.count)
	forEach(ctx, rc.count, rc.workers, func(i int) {
		if starts != nil {
			starts[i] = time.Now()
		}
		if _, err := pods.Create(ctx, objs[i], metav1.CreateOptions{}); err != nil {
			errs.add(fmt.Errorf("create pod %s: %w", objs[i].Name, err))
			return
		}
		created[i] = true
		if after != nil {
			after(i)
		}
	})
	return created
}

// waitServiceAccount waits (untimed, bounded by serviceAccountWait) for
// the namespace's default ServiceAccount, without which kube-apiserver
// refuses pods.
func waitServiceAccount(ctx context.Context, client kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(ctx, serviceAccountWait)
	defer cancel()
	tick := time.NewTicker(saPollInterval)
	defer tick.Stop()
	for {
		if _, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// deleteNamespaceAndWait deletes ns and waits until it is gone, so the
// next run (and the caller) starts with its pods terminated. It runs
// detached from ctx's cancellation so an interrupted run still cleans up.
func deleteNamespaceAndWait(ctx context.Context, client kubernetes.Interface, ns string, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(timeout, cleanupTimeout))
	defer cancel()
	nsc := client.CoreV1().Namespaces()
	nw := &namespaceWaiter{nsc: nsc, name: ns, sel: fields.OneTermEqualSelector("metadata.name", ns).String()}
	w := nw.startWatch(cctx)
	if err := nsc.Delete(cctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		if w != nil {
			w.Stop()
		}
		return fmt.Errorf("cleanup: delete namespace %s: %w", ns, err)
	}
	if _, err := nw.wait(cctx, w); err != nil {
		return fmt.Errorf("cleanup: namespace %s (and its pods) not gone: %w", ns, err)
	}
	return nil
}

// podTracker follows the run's pods through one watch and stamps when
// each was first seen Running with Ready=True and when its DELETED event
// arrived.
type podTracker struct {
	pods  typedcorev1.PodInterface
	sel   string
	index map[string]int

	mu      sync.Mutex
	readyAt []time.Time
	// readyCh[i] is closed when pod i is first seen Running and Ready,
	// goneCh[i] when its DELETED event arrives.
	readyCh, goneCh []chan struct{}
	goneAt          []time.Time
	unschedulable   []bool
	nReady, nGone   int
	nUnsched        int
	// changed is signalled (never blocking) after each update, so waiters
	// re-check their condition.
	changed chan struct{}
	done    chan struct{}
	err     error // why the watch ended; read after done is closed
}

// startPodTracker lists (to get a resourceVersion) and watches the run's
// pods until ctx ends.
func startPodTracker(ctx context.Context, rc runConfig) (*podTracker, error) {
	t := &podTracker{
		pods:          rc.client.CoreV1().Pods(rc.ns),
		sel:           rc.selector(),
		index:         make(map[string]int, rc.count),
		readyAt:       make([]time.Time, rc.count),
		readyCh:       make([]chan struct{}, rc.count),
		goneCh:        make([]chan struct{}, rc.count),
		goneAt:        make([]time.Time, rc.count),
		unschedulable: make([]bool, rc.count),
		changed:       make(chan struct{}, 1),
		done:          make(chan struct{}),
	}
	for i := range rc.count {
		t.index[rc.name(i)] = i
		t.readyCh[i] = make(chan struct{})
		t.goneCh[i] = make(chan struct{})
	}
	list, err := t.pods.List(ctx, metav1.ListOptions{LabelSelector: t.sel})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	w, err := t.pods.Watch(ctx, metav1.ListOptions{LabelSelector: t.sel, ResourceVersion: list.ResourceVersion})
	if err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	go func() {
		defer close(t.done)
		t.err = t.run(ctx, w, list.ResourceVersion)
	}()
	return t, nil
}

// run consumes events, re-establishing a watch the server closes from the
// last resourceVersion seen, as a reflector would.
func (t *podTracker) run(ctx context.Context, w watch.Interface, lastRV string) error {
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
					if ev.Type == watch.Error {
						return false, apierrors.FromObject(ev.Object)
					}
					pod, ok := ev.Object.(*corev1.Pod)
					if !ok {
						continue
					}
					lastRV = pod.ResourceVersion
					t.observe(ev.Type, pod, now)
				}
			}
		}()
		if !closed {
			return err
		}
		if w, err = t.pods.Watch(ctx, metav1.ListOptions{LabelSelector: t.sel, ResourceVersion: lastRV}); err != nil {
			return fmt.Errorf("re-establish pod watch: %w", err)
		}
	}
}

func (t *podTracker) observe(typ watch.EventType, pod *corev1.Pod, now time.Time) {
	i, ok := t.index[pod.Name]
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case typ == watch.Deleted:
		if t.goneAt[i].IsZero() {
			t.goneAt[i] = now
			t.nGone++
			close(t.goneCh[i])
		}
	case typ == watch.Added || typ == watch.Modified:
		if t.readyAt[i].IsZero() && runningAndReady(pod) {
			t.readyAt[i] = now
			t.nReady++
			close(t.readyCh[i])
		}
		if u := isUnschedulable(pod); u != t.unschedulable[i] {
			t.unschedulable[i] = u
			if u {
				t.nUnsched++
			} else {
				t.nUnsched--
			}
		}
	}
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// runningAndReady is the pod-start end point: phase Running and the Ready
// condition True.
func runningAndReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// isUnschedulable reports the scheduler's verdict that no node fits.
func isUnschedulable(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// podCounts is a snapshot of the tracker's counters.
type podCounts struct{ ready, gone, unschedulable int }

// waitUntil returns nil once cond holds for the counters, the watch's
// error if it ended, or ctx's error.
func (t *podTracker) waitUntil(ctx context.Context, cond func(podCounts) bool) error {
	for {
		t.mu.Lock()
		c := podCounts{t.nReady, t.nGone, t.nUnsched}
		t.mu.Unlock()
		if cond(c) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.done:
			return fmt.Errorf("pod watch: %w", t.err)
		case <-t.changed:
		}
	}
}

// waitReady returns when pod i has been seen Running and Ready, the
// watch has ended or ctx has.
func (t *podTracker) waitReady(ctx context.Context, i int) { t.waitClosed(ctx, t.readyCh[i]) }

// waitGone returns when pod i's DELETED event has arrived, the watch has
// ended or ctx has.
func (t *podTracker) waitGone(ctx context.Context, i int) { t.waitClosed(ctx, t.goneCh[i]) }

func (t *podTracker) waitClosed(ctx context.Context, ch <-chan struct{}) {
	select {
	case <-ch:
	case <-t.done:
	case <-ctx.Done():
	}
}

// snapshot copies the stamps.
func (t *podTracker) snapshot() (readyAt, goneAt []time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]time.Time(nil), t.readyAt...), append([]time.Time(nil), t.goneAt...)
}

func (t *podTracker) counts() podCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return podCounts{t.nReady, t.nGone, t.nUnsched}
}

// countTrue counts the set entries of b.
func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// prefixed renames a summary's keys, e.g. p50_ms to exit_to_gone_p50_ms.
func prefixed(prefix string, m []metric) []metric {
	out := make([]metric, len(m))
	for i, x := range m {
		out[i] = metric{prefix + "_" + x.key, x.value}
	}
	return out
}
