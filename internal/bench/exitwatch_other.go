//go:build !linux

package bench

import (
	"context"
	"errors"
	"time"
)

// exitWatcher needs pidfds, which only Linux has: elsewhere pod-kill
// reports DELETE → DELETED only.
type exitWatcher struct{ n int }

func newExitWatcher(n int) *exitWatcher { return &exitWatcher{n: n} }

func (w *exitWatcher) add(int, int, string) error {
	return errors.New("watching process exits needs Linux pidfds")
}

func (w *exitWatcher) start(context.Context) {}

func (w *exitWatcher) wait() []time.Time { return make([]time.Time, w.n) }
