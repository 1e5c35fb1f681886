package runner

import (
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Defaults of the retry limiter: those of workqueue's
// DefaultTypedControllerRateLimiter, which kube-controller-manager's
// controllers use, but on the injected clock.
const (
	DefaultRetryBaseDelay = 5 * time.Millisecond
	DefaultRetryMaxDelay  = 1000 * time.Second
	DefaultQPS            = 10
	DefaultBurst          = 100
)

// NewRateLimiter is workqueue's controller rate limiter on clk: per key, an
// exponential back-off from base to maxDelay; overall, a token bucket of qps
// retries a second with bursts of burst.
func NewRateLimiter[K comparable](clk clock.PassiveClock, base, maxDelay time.Duration, qps float64, burst int) workqueue.TypedRateLimiter[K] {
	return workqueue.NewTypedMaxOfRateLimiter[K](
		workqueue.NewTypedItemExponentialFailureRateLimiter[K](base, maxDelay),
		NewBucketLimiter[K](clk, qps, burst),
	)
}

// BucketLimiter is a workqueue rate limiter: a token bucket on the injected
// clock, qps tokens a second, at most burst at once. Workqueue's own
// BucketRateLimiter reads the wall clock, so a test stepping a fake clock
// could not drive it.
type BucketLimiter[K comparable] struct {
	clock  clock.PassiveClock
	qps    float64
	burst  float64
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewBucketLimiter returns a full bucket.
func NewBucketLimiter[K comparable](clk clock.PassiveClock, qps float64, burst int) *BucketLimiter[K] {
	return &BucketLimiter[K]{clock: clk, qps: qps, burst: float64(burst), tokens: float64(burst), last: clk.Now()}
}

// When takes a token and returns how long to wait for it.
func (b *BucketLimiter[K]) When(K) time.Duration {
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

// Forget does nothing: the bucket is shared by all keys.
func (b *BucketLimiter[K]) Forget(K) {}

// NumRequeues is 0: the bucket counts no key's failures.
func (b *BucketLimiter[K]) NumRequeues(K) int { return 0 }
