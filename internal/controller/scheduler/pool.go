package scheduler

import (
	"sync"
	"time"
)

// Upstream kube-scheduler's queue settings (pkg/scheduler/apis/config
// defaults and internal/queue): a pod that failed waits a back-off that
// starts at 1 s and doubles per attempt up to 10 s; a pod that stays
// unschedulable is retried after 5 min even if nothing changed, checked
// every 30 s.
const (
	DefaultInitialBackoff         = 1 * time.Second
	DefaultMaxBackoff             = 10 * time.Second
	DefaultMaxInUnschedulablePods = 5 * time.Minute
	unschedulableFlushPeriod      = 30 * time.Second
)

// pool holds what upstream's PriorityQueue keeps besides its active queue
// (the work queue is the active queue here): per pending pod, its attempts
// and the time of its last failure (for the back-off), and the set of pods
// parked as unschedulable until an event may help them. A move request (a
// node added or changed, an assigned pod gone) sends every parked pod back
// to the work queue once its back-off has passed; a move request that
// happens while a pod is being scheduled sends that pod back too
// (upstream's moveRequestCycle), so no event is lost between the attempt's
// snapshot and its parking.
type pool struct {
	initial, max time.Duration

	mu sync.Mutex
	// moves counts move requests.
	moves uint64
	pods  map[string]*queuedPod
}

type queuedPod struct {
	attempts    int
	lastFailure time.Time
	// parkedAt is when it was parked as unschedulable; zero if not parked.
	parkedAt time.Time
}

func newPool(initial, max time.Duration) *pool {
	return &pool{initial: initial, max: max, pods: map[string]*queuedPod{}}
}

// backoff is upstream's calculateBackoffDuration: initial, doubled per
// attempt after the first, at most max.
func (p *pool) backoff(attempts int) time.Duration {
	d := p.initial
	for i := 1; i < attempts; i++ {
		d *= 2
		if d > p.max {
			return p.max
		}
	}
	return d
}

// remaining is how long key still backs off at now.
func (p *pool) remaining(pp *queuedPod, now time.Time) time.Duration {
	if pp.attempts == 0 {
		return 0
	}
	if d := pp.lastFailure.Add(p.backoff(pp.attempts)).Sub(now); d > 0 {
		return d
	}
	return 0
}

// cycle returns the move-request count, to be handed back to failed.
func (p *pool) cycle() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.moves
}

// failed records a failed attempt of key that started at cycle. If a move
// request came meanwhile, it returns retry > 0 (the back-off) and
// requeue=true: the pod goes back at once, as upstream puts it in the
// back-off queue. Otherwise, when park is true, the pod is parked as
// unschedulable; when park is false (an error, not a verdict) the caller's
// rate limiter retries it.
func (p *pool) failed(key string, now time.Time, cycle uint64, park bool) (retry time.Duration, requeue bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp := p.pods[key]
	if pp == nil {
		pp = &queuedPod{}
		p.pods[key] = pp
	}
	pp.attempts++
	pp.lastFailure = now
	if p.moves != cycle {
		pp.parkedAt = time.Time{}
		return p.backoff(pp.attempts), park
	}
	if park {
		pp.parkedAt = now
	}
	return 0, false
}

// forget drops key (scheduled, deleted, or no longer ours).
func (p *pool) forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pods, key)
}

// moveAll ends the parking of every parked pod and returns each with the
// time left of its back-off; it counts a move request.
func (p *pool) moveAll(now time.Time) map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.moves++
	out := map[string]time.Duration{}
	for key, pp := range p.pods {
		if pp.parkedAt.IsZero() {
			continue
		}
		pp.parkedAt = time.Time{}
		out[key] = p.remaining(pp, now)
	}
	return out
}

// move ends the parking of key alone (its pod was updated) and returns
// its remaining back-off; ok is false if it was not parked.
func (p *pool) move(key string, now time.Time) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp := p.pods[key]
	if pp == nil || pp.parkedAt.IsZero() {
		return 0, false
	}
	pp.parkedAt = time.Time{}
	return p.remaining(pp, now), true
}

// flush ends the parking of pods parked for longer than maxParked
// (upstream flushUnschedulablePodsLeftover) and returns them with their
// remaining back-off.
func (p *pool) flush(now time.Time, maxParked time.Duration) map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Duration{}
	for key, pp := range p.pods {
		if pp.parkedAt.IsZero() || now.Sub(pp.parkedAt) <= maxParked {
			continue
		}
		pp.parkedAt = time.Time{}
		out[key] = p.remaining(pp, now)
	}
	return out
}

// parked counts the pods parked as unschedulable.
func (p *pool) parked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pp := range p.pods {
		if !pp.parkedAt.IsZero() {
			n++
		}
	}
	return n
}
