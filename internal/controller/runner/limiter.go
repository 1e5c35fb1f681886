// Package runner holds what terminus' controllers share to run their work
// queues on the injected clock (DESIGN decision 5).
package runner

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// BucketLimiter is a workqueue rate limiter: a token bucket on the injected clock: qps tokens a
// second, at most burst at once (workqueue's BucketRateLimiter reads the
// wall clock).
type BucketLimiter struct {
	clock  clock.PassiveClock
	qps    float64
	burst  float64
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func NewBucketLimiter(clk clock.PassiveClock, qps, burst float64) *BucketLimiter {
	return &BucketLimiter{clock: clk, qps: qps, burst: burst, tokens: burst, last: clk.Now()}
}

// When takes a token and returns how long to wait for it.
func (b *BucketLimiter) When(string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.qps)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.qps * float64(time.Second))
}

func (b *BucketLimiter) Forget(string) {}

func (b *BucketLimiter) NumRequeues(string) int { return 0 }
