package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The files of a container directory. config.json is written by the
// runtime before the shim starts; state.json by the shim once the program
// runs; exit.json by the shim once the program has exited (or by the
// runtime when the shim vanished without writing it). state.json and
// exit.json are replaced atomically (rename), so a reader sees all or
// nothing.
const (
	configFile  = "config.json"
	stateFile   = "state.json"
	exitFile    = "exit.json"
	shimLogFile = "shim.log"
	// LogFile is the container's output in CRI log format (see ReadLogs).
	LogFile = "container.log"
)

// config is what the shim runs: the Spec, as persisted.
type config struct {
	Command    []string `json:"command"`
	Args       []string `json:"args,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir"`
	// StandIn: the shim is the container's process (Spec.StandIn).
	StandIn bool `json:"standIn,omitempty"`
}

// state says which processes are the container's. The start times (in
// clock ticks since boot, field 22 of /proc/<pid>/stat) tell a live
// process from an unrelated one that got the same pid after an agent
// restart.
type state struct {
	PID            int       `json:"pid"`
	StartTicks     uint64    `json:"startTicks"`
	StartedAt      time.Time `json:"startedAt"`
	ShimPID        int       `json:"shimPid"`
	ShimStartTicks uint64    `json:"shimStartTicks"`
}

// exitRecord is how the program ended.
type exitRecord struct {
	ExitCode   int       `json:"exitCode"`
	Signal     int       `json:"signal,omitempty"`
	FinishedAt time.Time `json:"finishedAt"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
}

// writeJSON replaces dir/name with v atomically: a temporary file in the
// same directory, then rename. No fsync: the files must survive the
// agent's death, not the machine's, and an fsync would cost milliseconds
// on the path from a process's exit to the agent noticing it.
func writeJSON(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// readJSON reads dir/name into v; a missing file is an error matching
// fs.ErrNotExist.
func readJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s in %s: %w", name, dir, err)
	}
	return nil
}

// readExit returns the exit record, nil if the program has not exited.
func readExit(dir string) (*exitRecord, error) {
	var e exitRecord
	if err := readJSON(dir, exitFile, &e); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return &e, nil
}

// procStat is what the agent needs from /proc/<pid>/stat.
type procStat struct {
	State      byte // R, S, D, Z, ...
	PPID       int
	PGID       int
	StartTicks uint64
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) may
// hold spaces and parentheses, so fields are counted after the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("process %d: malformed stat %q", pid, b)
	}
	// fields[0] is field 3 (state), so field n is fields[n-3].
	fields := bytes.Fields(b[i+2:])
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("process %d: short stat %q", pid, b)
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	pgid, err2 := strconv.Atoi(string(fields[2]))
	start, err3 := strconv.ParseUint(string(fields[19]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("process %d: stat: %w", pid, err)
	}
	return procStat{State: fields[0][0], PPID: ppid, PGID: pgid, StartTicks: start}, nil
}

// sameProcess reports whether pid still names the process that started at
// startTicks (false if it is gone or the pid was reused).
func sameProcess(pid int, startTicks uint64) bool {
	st, err := readProcStat(pid)
	return err == nil && st.StartTicks == startTicks
}

// Exited reports whether the container in dir has exited, as its shim
// (or a failed start) recorded, and when it was created: when its program
// started, or for one that never started, when its spec was written. It
// reads two small files and attaches to nothing, so container GC can ask
// it of every container on the node. A directory without a container
// gives an error matching fs.ErrNotExist.
func Exited(dir string) (created time.Time, exited bool, err error) {
	fi, err := os.Stat(filepath.Join(dir, configFile))
	if err != nil {
		return time.Time{}, false, err
	}
	created = fi.ModTime()
	var st state
	switch err := readJSON(dir, stateFile, &st); {
	case err == nil:
		created = st.StartedAt
	case !errors.Is(err, fs.ErrNotExist):
		return time.Time{}, false, err
	}
	e, err := readExit(dir)
	if err != nil {
		return time.Time{}, false, err
	}
	return created, e != nil, nil
}
