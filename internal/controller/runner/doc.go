// Package runner is the one worker loop of terminus' queue-driven
// controllers (DESIGN decision 5): a typed rate-limited work queue on the
// injected clock, the informer event handlers that feed it, and the
// workers that drain it until the context ends. Each controller keeps only
// what is its own: which events queue which keys, what a sync does, and
// its metrics.
package runner
