package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The programs of pod-delete and pod-kill, run by busybox's sh (or the
// host's, under terminus). Each arms its TERM handling first and only then
// writes its pid, so a pid file means the handler is in place. `sleep &
// wait` rather than a foreground sleep because sh runs a trap only between
// commands, and wait is interrupted by a trapped signal. The agent signals
// the whole process group, so the sleep goes too. "$$$$" because the
// kubelet expands $(VAR) in commands and takes "$$" for a literal "$".
const (
	// deleteScript writes the exit time (ns since the epoch) on TERM.
	deleteScript = `trap 'date +%s%N > "$` + markEnv + `.exit"; exit 0' TERM; echo $$$$ > "$` + markEnv + `.pid"; sleep 3600 & wait`
	// killScript ignores TERM (inherited by the sleep), so only the
	// SIGKILL at the end of the grace period ends it.
	killScript = `trap '' TERM; echo $$$$ > "$` + markEnv + `.pid"; sleep 3600 & wait`
)

// runPods runs one pod scenario in a fresh namespace (rc.ns is set to it)
// and, untimed, deletes the namespace and waits for it to be gone. The
// run, cleanup excepted, is bounded by rc.timeout; a run that times out
// waiting for pods still reports what it saw.
func runPods(parent context.Context, o Options, rc *runConfig) (m []metric, err error) {
	ctx, cancel := context.WithTimeout(parent, rc.timeout)
	defer cancel()
	ns, err := createNamespace(ctx, rc.client)
	if err != nil {
		return nil, setupError(parent, ctx, rc.timeout, "create namespace", err)
	}
	rc.ns = ns
	marks := ""
	if o.Scenario == ScenarioPodDelete || o.Scenario == ScenarioPodKill {
		dir, remove, err := marksDir(o.MarksDir)
		if err != nil {
			return nil, errors.Join(err, deleteNamespaceAndWait(parent, rc.client, ns, rc.timeout))
		}
		// Removed after the namespace is gone: only then have the
		// programs stopped writing.
		defer func() { err = errors.Join(err, remove()) }()
		marks = dir
	}
	defer func() {
		cancel() // end the pod watch before the pods go
		if cerr := deleteNamespaceAndWait(parent, rc.client, ns, rc.timeout); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	waitServiceAccount(ctx, rc.client, ns)
	tr, err := startPodTracker(ctx, *rc)
	if err != nil {
		return nil, setupError(parent, ctx, rc.timeout, "watch pods", err)
	}
	pr := podRun{parent: parent, ctx: ctx, o: o, rc: *rc, tr: tr, marks: marks}
	switch o.Scenario {
	case ScenarioPodStart:
		return pr.start()
	case ScenarioPodDelete:
		return pr.delete()
	case ScenarioPodKill:
		return pr.kill()
	default:
		return pr.idle()
	}
}

// marksDir returns the marks directory and how to remove what the run
// made: a temporary directory entirely, a given one not at all (it may be
// shared; pod names are unique per run).
func marksDir(dir string) (string, func() error, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("--marks-dir: %w", err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", nil, fmt.Errorf("--marks-dir: %w", err)
		}
		return abs, func() error { return nil }, nil
	}
	tmp, err := os.MkdirTemp("", "terminus-bench-marks-")
	if err != nil {
		return "", nil, fmt.Errorf("create marks directory: %w", err)
	}
	return tmp, func() error { return os.RemoveAll(tmp) }, nil
}

// podRun is one run of a pod scenario.
type podRun struct {
	parent, ctx context.Context // parent: the benchmark's; ctx: bounded by --timeout
	o           Options
	rc          runConfig
	tr          *podTracker
	marks       string // marks directory (pod-delete, pod-kill)
	errs        errorCounter
}

// wait waits for cond; it reports a --timeout as timedOut rather than an
// error, so the run can still print what it saw.
func (pr *podRun) wait(cond func(podCounts) bool) (timedOut bool, err error) {
	err = pr.tr.waitUntil(pr.ctx, cond)
	switch {
	case err == nil:
		return false, nil
	case pr.parent.Err() != nil:
		return false, pr.parent.Err()
	case pr.ctx.Err() != nil:
		return true, nil
	}
	return false, err
}

func (pr *podRun) incomplete(waiting string, remaining int) error {
	return &incompleteError{after: pr.rc.timeout, waiting: waiting, remaining: remaining}
}

// markPath is the marks-file prefix of the i-th pod.
func (pr *podRun) markPath(i int) string { return filepath.Join(pr.marks, pr.rc.name(i)) }

func (pr *podRun) markedPod(i int, script string, grace *int64) *corev1.Pod {
	env := []corev1.EnvVar{{Name: markEnv, Value: pr.markPath(i)}}
	return pr.rc.pod(i, busyboxImage, []string{"sh", "-c", script}, env, grace)
}

// createReady creates the pods (untimed) and waits until every created
// pod is Running and Ready. It fails if no pod could be created.
func (pr *podRun) createReady(build func(i int) *corev1.Pod) (created []bool, timedOut bool, err error) {
	created = createPods(pr.ctx, pr.rc, build, nil, &pr.errs, nil)
	if err := pr.parent.Err(); err != nil {
		return nil, false, err
	}
	n := countTrue(created)
	if n == 0 {
		return nil, false, fmt.Errorf("every pod create failed, first error: %w", pr.errs.first)
	}
	timedOut, err = pr.wait(func(c podCounts) bool { return c.ready >= n })
	return created, timedOut, err
}

// start is pod-start: the clock per pod runs from just before its Create
// to the watch event showing it Running with Ready=True; pods/s is the
// number Ready over the time from the first Create to the last Ready.
// The load is a closed loop: each of --concurrency workers creates a pod
// and waits for it to be Ready before creating its next, so concurrency
// is the number of pods starting at once (1: one pod at a time; --count
// as --concurrency: all at once) and the latencies are not queueing
// behind an arrival rate the node cannot sustain.
func (pr *podRun) start() ([]metric, error) {
	image, command := pr.o.podContainer()
	starts := make([]time.Time, pr.rc.count)
	begin := time.Now()
	waitReady := func(i int) { pr.tr.waitReady(pr.ctx, i) }
	created := createPods(pr.ctx, pr.rc, func(i int) *corev1.Pod { return pr.rc.pod(i, image, command, nil, nil) }, starts, &pr.errs, waitReady)
	if err := pr.parent.Err(); err != nil {
		return nil, err
	}
	n := countTrue(created)
	if n == 0 {
		return nil, fmt.Errorf("every pod create failed, first error: %w", pr.errs.first)
	}
	timedOut, err := pr.wait(func(c podCounts) bool { return c.ready >= n })
	if err != nil {
		return nil, err
	}
	readyAt, _ := pr.tr.snapshot()
	lat, last, missing := spans(created, starts, readyAt, begin)
	m := []metric{
		{"duration_ms", ms(last.Sub(begin))},
		{"pods_per_sec", rate(len(lat), last.Sub(begin))},
	}
	m = append(m, latencySummary(lat)...)
	m = append(m, metric{"not_ready", missing}, metric{"timed_out", timedOut})
	m = append(m, pr.errs.metrics()...)
	if timedOut {
		return m, pr.incomplete("pods to be Running and Ready", missing)
	}
	return m, nil
}

// spans returns end[i]-start[i] for the selected pods that have an end,
// the latest end (begin if none), and how many selected pods have none.
func spans(selected []bool, start, end []time.Time, begin time.Time) (lat []time.Duration, last time.Time, missing int) {
	last = begin
	for i := range selected {
		switch {
		case !selected[i]:
		case end[i].IsZero():
			missing++
		default:
			lat = append(lat, end[i].Sub(start[i]))
			if end[i].After(last) {
				last = end[i]
			}
		}
	}
	return lat, last, missing
}

// deleteAll deletes the selected pods with the default grace period from
// rc.workers goroutines, stamping starts[i] just before each DELETE, and
// returns which DELETEs were accepted. Like pod-start's creates it is a
// closed loop: a worker deletes its next pod once its last is gone, so
// --concurrency is the number of pods terminating at once.
func (pr *podRun) deleteAll(selected []bool, starts []time.Time) []bool {
	pods := pr.rc.client.CoreV1().Pods(pr.rc.ns)
	deleted := make([]bool, pr.rc.count)
	forEach(pr.ctx, pr.rc.count, pr.rc.workers, func(i int) {
		if !selected[i] {
			return
		}
		starts[i] = time.Now()
		if err := pods.Delete(pr.ctx, pr.rc.name(i), metav1.DeleteOptions{}); err != nil {
			pr.errs.add(fmt.Errorf("delete pod %s: %w", pr.rc.name(i), err))
			return
		}
		deleted[i] = true
		pr.tr.waitGone(pr.ctx, i)
	})
	return deleted
}

// delete is pod-delete: pods whose program exits 0 on TERM are deleted
// once all are Ready; the clock runs from just before each DELETE to the
// pod's DELETED event. If the programs' exit marks are readable (the
// benchmark runs on the node) it also reports exit → DELETED, the agent's
// part after the program is gone, and DELETE → exit.
func (pr *podRun) delete() ([]metric, error) {
	created, timedOut, err := pr.createReady(func(i int) *corev1.Pod { return pr.markedPod(i, deleteScript, nil) })
	if err != nil {
		return nil, err
	}
	if timedOut {
		return pr.notReadyLine(created)
	}
	armed := waitMarks(pr.ctx, created, pr.markPath, ".pid")

	starts := make([]time.Time, pr.rc.count)
	begin := time.Now()
	deleted := pr.deleteAll(created, starts)
	if err := pr.parent.Err(); err != nil {
		return nil, err
	}
	n := countTrue(deleted)
	timedOut, err = pr.wait(func(c podCounts) bool { return c.gone >= n })
	if err != nil {
		return nil, err
	}
	_, goneAt := pr.tr.snapshot()
	lat, last, missing := spans(deleted, starts, goneAt, begin)
	var exitToGone, deleteToExit []time.Duration
	for i := range pr.rc.count {
		if !deleted[i] || goneAt[i].IsZero() {
			continue
		}
		exit, err := readExitMark(pr.markPath(i) + ".exit")
		if err != nil {
			continue // not on this machine, or the program died otherwise
		}
		exitToGone = append(exitToGone, goneAt[i].Sub(exit))
		deleteToExit = append(deleteToExit, exit.Sub(starts[i]))
	}
	m := []metric{
		{"duration_ms", ms(last.Sub(begin))},
		{"pods_per_sec", rate(len(lat), last.Sub(begin))},
	}
	m = append(m, latencySummary(lat)...)
	m = append(m, metric{"marks", len(exitToGone)}, metric{"armed", armed})
	if len(exitToGone) > 0 {
		m = append(m, prefixed("exit_to_gone", latencySummary(exitToGone))...)
		m = append(m, prefixed("delete_to_exit", latencySummary(deleteToExit))...)
	}
	m = append(m, metric{"not_gone", missing}, metric{"timed_out", timedOut})
	m = append(m, pr.errs.metrics()...)
	if timedOut {
		return m, pr.incomplete("deleted pods to be gone", missing)
	}
	return m, nil
}

// notReadyLine is the line of a run whose pods did not all become Ready
// within --timeout.
func (pr *podRun) notReadyLine(created []bool) ([]metric, error) {
	c := pr.tr.counts()
	missing := countTrue(created) - c.ready
	m := []metric{{"not_ready", missing}, {"unschedulable", c.unschedulable}, {"timed_out", true}}
	m = append(m, pr.errs.metrics()...)
	return m, pr.incomplete("pods to be Running and Ready", missing)
}

// kill is pod-kill: pods that ignore TERM, with a short grace period, are
// deleted once all are Ready. Each program's exit is observed through a
// pidfd (on the node's machine only), and its lateness is the exit time
// minus (the DELETE's start + the grace period): how late the SIGKILL
// came. DELETE → DELETED is reported too, and works anywhere.
func (pr *podRun) kill() ([]metric, error) {
	grace := time.Duration(pr.o.GracePeriod) * time.Second
	created, timedOut, err := pr.createReady(func(i int) *corev1.Pod {
		return pr.markedPod(i, killScript, ptr.To(int64(pr.o.GracePeriod)))
	})
	if err != nil {
		return nil, err
	}
	if timedOut {
		return pr.notReadyLine(created)
	}
	armed := waitMarks(pr.ctx, created, pr.markPath, ".pid")
	exits := newExitWatcher(pr.rc.count)
	var watchErr error // the first pod whose exit cannot be watched
	for i := range pr.rc.count {
		if !created[i] || armed == 0 {
			continue
		}
		pid, err := readPidMark(pr.markPath(i) + ".pid")
		if err == nil {
			// The environment names the pod's marks, which tells its
			// program from a process that reused the pid.
			err = exits.add(i, pid, markEnv+"="+pr.markPath(i))
		}
		if err != nil && watchErr == nil {
			watchErr = fmt.Errorf("pod %s: %w", pr.rc.name(i), err)
		}
	}
	exits.start(pr.ctx)

	starts := make([]time.Time, pr.rc.count)
	begin := time.Now()
	deleted := pr.deleteAll(created, starts)
	if err := pr.parent.Err(); err != nil {
		return nil, err
	}
	n := countTrue(deleted)
	timedOut, err = pr.wait(func(c podCounts) bool { return c.gone >= n })
	if err != nil {
		return nil, err
	}
	// A pod is gone only after its program has exited, so the watcher has
	// seen (or is about to see) every exit.
	exitAt := exits.wait()
	_, goneAt := pr.tr.snapshot()
	lat, _, missing := spans(deleted, starts, goneAt, begin)
	var late, exitToGone []time.Duration
	for i, at := range exitAt {
		if !deleted[i] || at.IsZero() {
			continue
		}
		late = append(late, at.Sub(starts[i].Add(grace)))
		if !goneAt[i].IsZero() {
			exitToGone = append(exitToGone, goneAt[i].Sub(at))
		}
	}
	m := []metric{{"observed", len(late)}, {"armed", armed}}
	if watchErr != nil {
		m = append(m, metric{"exit_watch_error", watchErr.Error()})
	}
	if len(late) > 0 {
		m = append(m, prefixed("kill_lateness", latencySummary(late))...)
		m = append(m, prefixed("exit_to_gone", latencySummary(exitToGone))...)
	}
	m = append(m, prefixed("delete_to_gone", latencySummary(lat))...)
	m = append(m, metric{"not_gone", missing}, metric{"timed_out", timedOut})
	m = append(m, pr.errs.metrics()...)
	if timedOut {
		return m, pr.incomplete("deleted pods to be gone", missing)
	}
	return m, nil
}

// idle is pods-idle: --count pods are created and, once every one is
// Running and Ready or reported unschedulable (a kubelet, and terminus's
// agent, take 110 pods by default, so the default 200 overflows one node:
// the line says how many ran), and --idle-settle has passed, the CPU time
// of --pid is sampled over --duration.
func (pr *podRun) idle() ([]metric, error) {
	image, command := pr.o.podContainer()
	created := createPods(pr.ctx, pr.rc, func(i int) *corev1.Pod { return pr.rc.pod(i, image, command, nil, nil) }, nil, &pr.errs, nil)
	if err := pr.parent.Err(); err != nil {
		return nil, err
	}
	n := countTrue(created)
	if n == 0 {
		return nil, fmt.Errorf("every pod create failed, first error: %w", pr.errs.first)
	}
	timedOut, err := pr.wait(func(c podCounts) bool { return c.ready+c.unschedulable >= n })
	if err != nil {
		return nil, err
	}
	if timedOut {
		return pr.notReadyLine(created)
	}
	if err := sleepCtx(pr.ctx, pr.o.IdleSettle); err != nil {
		return nil, pr.settleErr(err)
	}
	before, err := readCPUTicks(pr.o.PID)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := sleepCtx(pr.ctx, pr.o.Duration); err != nil {
		return nil, pr.settleErr(err)
	}
	after, err := readCPUTicks(pr.o.PID)
	if err != nil {
		return nil, err
	}
	sampled := time.Since(t0)
	c := pr.tr.counts()
	cpu := ticksToDuration(after - before)
	m := []metric{
		{"pid", pr.o.PID},
		{"running", c.ready},
		{"unschedulable", c.unschedulable},
		{"sample_s", round3(sampled.Seconds())},
		{"cpu_seconds", round3(cpu.Seconds())},
		{"cpu_percent", round3(100 * cpu.Seconds() / sampled.Seconds())},
	}
	if rss, err := readRSS(pr.o.PID); err == nil {
		m = append(m, metric{"rss_bytes", rss})
	}
	return append(m, pr.errs.metrics()...), nil
}

// settleErr explains a wait that --timeout or the caller cut short.
func (pr *podRun) settleErr(err error) error {
	if perr := pr.parent.Err(); perr != nil {
		return perr
	}
	return fmt.Errorf("sampling CPU: --timeout %s is shorter than the run (--idle-settle + --duration + starting the pods): %w", pr.rc.timeout, err)
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
