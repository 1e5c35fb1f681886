package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// What the pod scenarios read from the node's machine: the programs'
// marks files, and a process's CPU time. These only work when the
// benchmark runs where the pods' processes do.
const (
	// markPollInterval is how often waitMarks looks for marks files.
	markPollInterval = 20 * time.Millisecond
	// markProbe is how long waitMarks waits for a first marks file before
	// concluding that the pods run elsewhere and not waiting any more.
	markProbe = 5 * time.Second
	// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100
	// on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
	clockTicks = 100
	// exitGrace bounds how long, after every pod is gone, the exit watcher
	// may still take to report exits (it normally has them already).
	exitGrace = 5 * time.Second
)

// waitMarks waits until every selected pod's marks file path(i)+suffix
// exists, and returns how many do. If none appears within markProbe the
// pods are taken to run on another machine and it returns 0.
func waitMarks(ctx context.Context, selected []bool, path func(i int) string, suffix string) int {
	probe := time.Now().Add(markProbe)
	tick := time.NewTicker(markPollInterval)
	defer tick.Stop()
	for {
		found, want := 0, 0
		for i, sel := range selected {
			if !sel {
				continue
			}
			want++
			// Not just created: the shell's redirection creates the
			// file before echo writes the pid (one write).
			if fi, err := os.Stat(path(i) + suffix); err == nil && fi.Size() > 0 {
				found++
			}
		}
		if found == want || (found == 0 && time.Now().After(probe)) {
			return found
		}
		select {
		case <-ctx.Done():
			return found
		case <-tick.C:
		}
	}
}

// readExitMark reads a time written by `date +%s%N`.
func readExitMark(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("read exit mark: %w", err)
	}
	return parseExitMark(b)
}

// parseExitMark parses nanoseconds since the epoch. A date(1) without %N
// support prints a literal "N" (or "%N"); that is refused rather than
// read as seconds.
func parseExitMark(b []byte) (time.Time, error) {
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("exit mark %q: %w", s, err)
	}
	// Anything before 2001-09-09 in nanoseconds has fewer than 19 digits:
	// seconds or milliseconds, not nanoseconds.
	if n < 1e18 {
		return time.Time{}, fmt.Errorf("exit mark %q is not in nanoseconds", s)
	}
	return time.Unix(0, n), nil
}

// readPidMark reads a pid written by `echo $$`.
func readPidMark(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid mark: %w", err)
	}
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid mark %q is not a pid", s)
	}
	return pid, nil
}

// readCPUTicks returns the user+system CPU time of pid, in clock ticks.
func readCPUTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("--pid %d: read CPU time (pods-idle needs the process on this machine): %w", pid, err)
	}
	ticks, err := parseProcStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("--pid %d: %w", pid, err)
	}
	return ticks, nil
}

// parseProcStatCPU returns utime+stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and
// may itself contain spaces and parentheses, so fields are counted from
// the last ')'.
func parseProcStatCPU(b []byte) (uint64, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, errors.New("malformed /proc stat: no command name")
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state), so field k is f[k-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %d fields after the command name", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("malformed /proc stat: %w", err)
	}
	return utime + stime, nil
}

// ticksToDuration converts clock ticks to a duration.
func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks) * (time.Second / clockTicks)
}
