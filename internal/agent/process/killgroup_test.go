package process

import (
	"syscall"
	"testing"
)

// A pid of -1 (os.Process after Release) or 0 must never reach kill(2):
// kill(-1, SIGKILL) as root ends every process on the machine.
func TestKillRefusesSpecialIDs(t *testing.T) {
	for _, id := range []int{-1, 0, 1} {
		if err := killGroup(id, syscall.Signal(0)); err == nil {
			t.Errorf("killGroup(%d) accepted", id)
		}
		if err := killPID(id, syscall.Signal(0)); err == nil {
			t.Errorf("killPID(%d) accepted", id)
		}
	}
	// Signal 0 to this process's own group only checks it exists.
	if err := killGroup(syscall.Getpgrp(), syscall.Signal(0)); err != nil && syscall.Getpgrp() > 1 {
		t.Errorf("killGroup(own group): %v", err)
	}
}
