package podcontrol

import "sync"

// SlowStartInitialBatchSize is the first batch of SlowStartBatch as the
// replica and Job controllers call it (upstream
// SlowStartInitialBatchSize).
const SlowStartInitialBatchSize = 1

// SlowStartBatch calls fn count times in batches of initial, then twice
// the last batch size, and so on; the calls of a batch run in parallel.
// After a batch with an error it stops and returns the successes so far
// and one of that batch's errors (upstream slowStartBatch). So an owner
// whose creates all fail (a quota, a forbidden template) makes one doomed
// call per sync, not count, and records one event.
func SlowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		successes += batch - len(errs)
		if len(errs) > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}
