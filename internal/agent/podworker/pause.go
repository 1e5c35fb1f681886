package podworker

import (
	"os"
	"os/signal"
	"syscall"
)

// PauseArg marks the built-in stand-in for an image that is not in the
// local store when the container names no command (registry.k8s.io/pause):
// argv is [executable, PauseArg].
const PauseArg = "terminus-pause"

// MaybeRunPause runs the stand-in when this process was started as one,
// and then exits; otherwise it returns at once. main calls it first thing,
// next to process.MaybeRunShim. The stand-in does what pause does: it
// stays up until SIGTERM or SIGINT and then exits 0, so a graceful stop
// ends it with the stop signal (G6) rather than SIGKILL.
func MaybeRunPause() {
	if len(os.Args) != 2 || os.Args[1] != PauseArg {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	os.Exit(0)
}
