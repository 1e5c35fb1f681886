package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Status is a container's state as the runtime knows it.
type Status struct {
	// PID is the program's pid, which is also its process group id; 0 if
	// it never started.
	PID       int
	StartedAt time.Time
	Running   bool
	// ExitCode, Signal, FinishedAt, Reason and Message are set once the
	// container has exited. ExitCode is 128 + Signal when a signal ended
	// it (137 SIGKILL, 143 SIGTERM), 128 with ReasonStartError, 255 with
	// ReasonUnknown.
	ExitCode   int
	Signal     syscall.Signal
	FinishedAt time.Time
	Reason     string
	Message    string
}

// Container is a handle on a container's processes. Its methods are safe
// for concurrent use. Dropping a Container (or closing it) leaves the
// processes running; Runtime.Open finds them again.
type Container struct {
	r   *Runtime
	dir string
	cfg config

	mu     sync.Mutex
	st     state
	shim   *os.File // pidfd of the shim while it runs; nil once it is gone or closed
	exit   *exitRecord
	closed bool
}

// Dir is the container's directory.
func (c *Container) Dir() string { return c.dir }

// PID is the program's pid and process group id (0 if it never started).
func (c *Container) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.PID
}

// LogPath is the container's CRI log file (see WriteLogs).
func (c *Container) LogPath() string { return filepath.Join(c.dir, LogFile) }

// WriteLogs writes the container's log to w (see the package function).
func (c *Container) WriteLogs(ctx context.Context, opts LogOptions, w io.Writer) error {
	return WriteLogs(ctx, c.dir, opts, w)
}

// Status returns the container's state now, without blocking.
func (c *Container) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	return c.status()
}

// Running reports whether the container's program still runs. A closed
// handle reports false (it no longer knows); Open gives a fresh one.
func (c *Container) Running() bool { return c.Status().Running }

// Signal sends sig to the container's process group: the program and
// every descendant that stayed in its group (spec G6: the stop signal and
// SIGKILL reach every process of the container). It returns an error
// matching ErrNotRunning once the container has exited.
func (c *Container) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.refresh()
	if c.exit != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, c.dir, ErrNotRunning)
	}
	// The shim is alive, so the program is not yet reaped (or its group
	// is already being killed): the group id is still the container's.
	if err := killGroup(c.st.PID, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %v to %s: %w", sig, c.dir, ErrNotRunning)
		}
		return fmt.Errorf("signal %v to %s: %w", sig, c.dir, err)
	}
	return nil
}

// Kill sends SIGKILL to the container's process group.
func (c *Container) Kill() error { return c.Signal(unix.SIGKILL) }

// Wait blocks until the container has exited and returns its status, or
// until ctx ends. It reacts to the shim's exit through a pidfd, so the
// exit is noticed as soon as the shim has recorded it; any number of
// goroutines may wait.
func (c *Container) Wait(ctx context.Context) (Status, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return Status{}, ErrClosed
		}
		c.refresh()
		if c.exit != nil {
			s := c.status()
			c.mu.Unlock()
			return s, nil
		}
		w, err := dup(c.shim)
		c.mu.Unlock()
		if err != nil {
			return Status{}, err
		}
		err = waitReadable(ctx, w)
		_ = w.Close()
		if err != nil {
			return Status{}, fmt.Errorf("wait for %s: %w", c.dir, err)
		}
	}
}

// Close releases the handle; the processes go on. A shim this agent
// started and that has exited is reaped; one still running stays the
// agent's child, reaped by the next Wait, Status or Close on a handle for
// it (Open gives one), or by init once the agent exits.
func (c *Container) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.refresh()
	c.closed = true
	if c.shim != nil {
		err := c.shim.Close()
		c.shim = nil
		return err
	}
	return nil
}

func (c *Container) status() Status {
	s := Status{PID: c.st.PID, StartedAt: c.st.StartedAt, Running: c.exit == nil && !c.closed}
	if e := c.exit; e != nil {
		s.ExitCode, s.Signal, s.FinishedAt = e.ExitCode, syscall.Signal(e.Signal), e.FinishedAt
		s.Reason, s.Message = e.Reason, e.Message
	}
	return s
}

// refresh notices a shim that has exited. c.mu is held.
func (c *Container) refresh() {
	if c.exit != nil || c.shim == nil {
		return
	}
	gone := false
	if rc, err := c.shim.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { gone = readable(int(fd)) })
	}
	if gone {
		c.finish()
	}
}

// finish runs once the shim is gone: it reaps the shim if it is our child
// and loads the exit record. A shim that vanished without one (killed, or
// crashed) left a program nobody watches or logs: it is killed, and the
// exit is recorded as unknown. c.mu is held.
func (c *Container) finish() {
	if c.shim != nil {
		if rc, err := c.shim.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				var info unix.Siginfo
				// ECHILD when another process started the shim: init reaps it.
				_ = unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG, nil)
			})
		}
		_ = c.shim.Close()
		c.shim = nil
	}
	exit, err := readExit(c.dir)
	if err != nil {
		c.r.log.Error("container exit record unreadable", "dir", c.dir, "error", err)
	}
	if exit != nil {
		c.exit = exit
		return
	}
	if c.cfg.StandIn && c.st.PID != 0 {
		// A stand-in records every catchable end itself: without a
		// record, SIGKILL (ours at the end of a grace period, or the OOM
		// killer's) ended it.
		c.exit = &exitRecord{ExitCode: 128 + int(unix.SIGKILL), Signal: int(unix.SIGKILL), FinishedAt: c.r.clock.Now()}
		if err := writeJSON(c.dir, exitFile, c.exit); err != nil {
			c.r.log.Error("record stand-in exit", "dir", c.dir, "error", err)
		}
		return
	}
	if c.st.PID != 0 && sameProcess(c.st.PID, c.st.StartTicks) {
		_ = killGroup(c.st.PID, unix.SIGKILL)
	}
	c.exit = &exitRecord{
		ExitCode:   255,
		FinishedAt: c.r.clock.Now(),
		Reason:     ReasonUnknown,
		Message:    "the container's shim exited without recording the exit status",
	}
	c.r.log.Warn("container shim vanished", "dir", c.dir, "pid", c.st.PID, "shim", c.st.ShimPID)
	if err := writeJSON(c.dir, exitFile, c.exit); err != nil {
		c.r.log.Error("record unknown exit", "dir", c.dir, "error", err)
	}
}

// waitShimGone waits (bounded) for a shim that failed to start its
// program to exit, and reaps it.
func (c *Container) waitShimGone() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.mu.Lock()
	w, err := dup(c.shim)
	c.mu.Unlock()
	if err == nil {
		_ = waitReadable(ctx, w)
		_ = w.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	if c.shim != nil { // did not exit in time: let go of it
		_ = c.shim.Close()
		c.shim = nil
	}
}
