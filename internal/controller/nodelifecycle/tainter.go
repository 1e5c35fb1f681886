package nodelifecycle

import (
	"slices"

	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
)

// evictionBurst is upstream's EvictionRateLimiterBurst.
const evictionBurst = 1

// tainter is one zone's queue of nodes waiting for their NoExecute taint
// (upstream RateLimitedTimedQueue over a UniqueQueue): a node is queued
// once; once processed it stays known, so that later passes do not queue
// it again, until remove forgets it (the taint went missing, or the node
// is reachable again). A token bucket on the injected clock paces the
// taints (--node-eviction-rate, 0.1 nodes a second per zone); a rate of 0
// stops them.
type tainter struct {
	clock   clock.PassiveClock
	qps     float64
	limiter flowcontrol.PassiveRateLimiter // nil when qps is 0
	queue   []string
	known   map[string]bool
}

func newTainter(clk clock.PassiveClock, qps float64) *tainter {
	t := &tainter{clock: clk, known: map[string]bool{}, qps: -1}
	t.swap(qps)
	return t
}

// swap changes the rate (upstream SwapLimiter); an unchanged rate keeps
// the bucket.
func (t *tainter) swap(qps float64) {
	if qps == t.qps {
		return
	}
	t.qps = qps
	if qps <= 0 {
		t.limiter = nil
		return
	}
	t.limiter = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(float32(qps), evictionBurst, t.clock)
}

// add queues name unless it is known; it reports whether it did.
func (t *tainter) add(name string) bool {
	if t.known[name] {
		return false
	}
	t.known[name] = true
	t.queue = append(t.queue, name)
	return true
}

// remove forgets name; it reports whether it was known.
func (t *tainter) remove(name string) bool {
	if !t.known[name] {
		return false
	}
	delete(t.known, name)
	t.queue = slices.DeleteFunc(t.queue, func(n string) bool { return n == name })
	return true
}

// try processes queued nodes while the bucket has tokens. fn returns false
// to try the node again in a later pass; processing then stops, as
// upstream's Try stops at an item whose retry time has not come.
func (t *tainter) try(fn func(name string) bool) {
	for len(t.queue) > 0 {
		if t.limiter == nil || !t.limiter.TryAccept() {
			return
		}
		name := t.queue[0]
		t.queue = t.queue[1:]
		if !fn(name) {
			t.queue = append(t.queue, name)
			return
		}
	}
}
