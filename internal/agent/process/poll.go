package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Waiting without busy polling: a pidfd (Linux ≥ 5.3) becomes readable
// when its process exits, whether or not it is our child, so the agent
// notices a shim's exit the moment it happens, for containers it started
// and for those it re-attached to after a restart alike. An inotify
// descriptor becomes readable when a container's files change (log
// follow). Both are put in non-blocking mode and handed to Go's poller
// (os.NewFile registers non-blocking descriptors), so a waiting goroutine
// parks in the runtime instead of a thread, and a context ends the wait by
// setting a read deadline in the past.

// openPidfd returns a pidfd for pid, registered with the poller.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid)), nil
}

// readable reports whether fd is readable now (for a pidfd: its process
// has exited).
func readable(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
	}
}

// dup returns a second descriptor of f, registered with the poller on its
// own: each waiter gets its own, so one waiter's context setting a
// deadline does not end another's wait, and a waiter never touches a
// descriptor that Close may have released.
func dup(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), err)
	}
	var nfd int
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), err)
	}
	if derr != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), derr)
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// waitReadable blocks until f is readable or ctx ends. f must be
// registered with the poller (non-blocking); it is used for this wait only
// (its read deadline is changed).
func waitReadable(ctx context.Context, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("wait on %s: %w", f.Name(), err)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	ready := false
	err = rc.Read(func(fd uintptr) bool {
		ready = readable(int(fd))
		return ready
	})
	if ready {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("wait on %s: %w", f.Name(), err)
}

// dirWatch wakes a log follower when a container directory changes: the
// log file grows, or exit.json appears.
type dirWatch struct{ f *os.File }

func watchDir(dir string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	return &dirWatch{f: os.NewFile(uintptr(fd), "inotify:"+dir)}, nil
}

// wait blocks until something changed in the directory since the last
// wait (or since watchDir), or ctx ends.
func (w *dirWatch) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var buf [4096]byte
	_, err := w.f.Read(buf[:]) // drains the queued events; they only mean "look again"
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("inotify read: %w", err)
	}
	return nil
}

func (w *dirWatch) close() error { return w.f.Close() }
