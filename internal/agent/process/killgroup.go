package process

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// killGroup signals the process group pgid, and killPID one process.
// kill(2) with -1 signals every process the caller may signal and with 0
// the caller's own group, so an id that is not a real one (a pid not yet
// known, or os.Process's -1 after Release) must never reach it: as root,
// kill(-1, SIGKILL) ends every process on the machine.
func killGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("process: refusing to signal process group %d", pgid)
	}
	return unix.Kill(-pgid, sig)
}

func killPID(pid int, sig syscall.Signal) error {
	if pid <= 1 {
		return fmt.Errorf("process: refusing to signal pid %d", pid)
	}
	return unix.Kill(pid, sig)
}
