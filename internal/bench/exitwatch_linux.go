package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// exitPollTimeout bounds one poll(2) so the watcher notices cancellation;
// it does not limit precision, since poll returns as soon as an fd is
// readable.
const exitPollTimeout = 100 // ms

// exitWatcher stamps the exit of processes that are not our children
// through pidfds (Linux 5.3+): a pidfd becomes readable when its process
// exits, and it keeps referring to that process even if the pid is
// reused.
type exitWatcher struct {
	n      int
	fds    []int // pidfds, each of pod idx[k]
	idx    []int
	cancel context.CancelFunc
	result chan []time.Time
}

func newExitWatcher(n int) *exitWatcher { return &exitWatcher{n: n} }

// add watches pid for pod i if its environment holds wantEnv (so that a
// process that reused the pid of an exited program is not taken for it).
func (w *exitWatcher) add(i, pid int, wantEnv string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	// Read after opening: if the environment matches now, the pidfd
	// refers to the right process.
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err == nil && !bytes.Contains(append([]byte{0}, env...), append(append([]byte{0}, wantEnv...), 0)) {
		err = errors.New("environment does not match: not the pod's program")
	}
	if err != nil {
		_ = unix.Close(fd)
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	w.fds = append(w.fds, fd)
	w.idx = append(w.idx, i)
	return nil
}

// start polls the pidfds until all have exited or ctx ends.
func (w *exitWatcher) start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.result = make(chan []time.Time, 1)
	go func() { w.result <- w.poll(ctx) }()
}

func (w *exitWatcher) poll(ctx context.Context) []time.Time {
	exits := make([]time.Time, w.n)
	pfds := make([]unix.PollFd, len(w.fds))
	idx := append([]int(nil), w.idx...)
	for k, fd := range w.fds {
		pfds[k] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	defer func() {
		for _, p := range pfds {
			_ = unix.Close(int(p.Fd))
		}
	}()
	for len(pfds) > 0 && ctx.Err() == nil {
		n, err := unix.Poll(pfds, exitPollTimeout)
		now := time.Now()
		if err != nil || n == 0 {
			continue // EINTR or timeout: check ctx and poll again
		}
		kept := pfds[:0]
		keptIdx := idx[:0]
		for k, p := range pfds {
			if p.Revents == 0 {
				kept = append(kept, unix.PollFd{Fd: p.Fd, Events: unix.POLLIN})
				keptIdx = append(keptIdx, idx[k])
				continue
			}
			exits[idx[k]] = now
			_ = unix.Close(int(p.Fd))
		}
		pfds, idx = kept, keptIdx
	}
	return exits
}

// wait returns the exit times (zero for processes not seen exiting),
// giving the watcher at most exitGrace to see the last exits.
func (w *exitWatcher) wait() []time.Time {
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case r := <-w.result:
		w.cancel()
		return r
	case <-t.C:
		w.cancel()
		return <-w.result
	}
}
