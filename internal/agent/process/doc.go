// Package process is the agent's container runtime on Linux: a container
// is a program run as a process in a process group of its own, under a
// directory of its own, that survives the agent and is found again when
// the agent restarts (DESIGN decision 6; spec G6, G7, G9).
//
// # The shim
//
// Like containerd, the runtime does not parent a container's program
// itself. Start re-executes the agent's own executable as a shim (argv
// [exe, "terminus-process-shim", dir]; main calls MaybeRunShim first, which
// never returns in a shim). The shim runs in a session of its own
// (setsid), so the agent's death — even by SIGKILL — and terminal signals
// do not reach it, and it catches the signals a service manager might
// send it. The shim:
//
//  1. reads config.json (the Spec the runtime wrote) and starts the program
//     with Setpgid (its pid is its process group id), stdin /dev/null,
//     stdout and stderr on pipes, the Spec's environment only (a default
//     PATH if it has none, as containerd's default spec) and working
//     directory; the command is looked up in the container's PATH;
//  2. writes state.json (pids and their start times from /proc/<pid>/stat)
//     and reports the start, or the start error, on a pipe to the runtime;
//  3. copies the program's output into container.log in CRI log format
//     (see WriteLogs);
//  4. waits for the program without reaping it (waitid WNOWAIT), sends
//     SIGKILL to its process group — what is left of a container dies with
//     its main process, as in a pid namespace — then reaps it, reads the
//     rest of the output, and writes exit.json (exit code, 128 + signal
//     when a signal ended it, finish time) atomically before exiting.
//
// A program that cannot start (not found, not executable, bad working
// directory) gives Start a *StartError, and exit.json records exit code
// 128 with reason StartError, as kubelet reports it.
//
// # Files of a container directory
//
//	config.json   the Spec (written by the runtime)
//	state.json    pid, pgid and start times of program and shim
//	exit.json     how the program ended (written last)
//	container.log CRI log of stdout and stderr
//	shim.log      the shim's own diagnostics
//
// One directory per container attempt: the previous attempt's directory
// serves kubectl logs --previous.
//
// # Waiting
//
// The runtime keeps no goroutine per container. Container.Wait waits on
// a pidfd of the shim (readable when the shim exits, whether the agent is
// its parent or re-attached after a restart), parked in Go's poller, so an
// exit is noticed within a millisecond or so of the shim recording it,
// with no polling; Status and Signal check the same pidfd without
// blocking. The agent reaps the shims it started when it notices their
// exit (waitid P_PIDFD); shims of an earlier agent are init's children.
//
// # Restart and pid reuse
//
// Runtime.Open reads the directory: a container that exited while no
// agent was attached has its exit.json; a running one is re-attached by
// opening a pidfd for the shim and checking the shim's start time, so a
// pid reused by an unrelated process is never mistaken for the shim.
// While the shim lives, the program is not yet reaped, so its process
// group id cannot be reused, and signals go to the group (kill(-pgid)),
// grandchildren included. A shim that vanished without exit.json leaves a
// program nobody watches: the runtime kills it (if its start time still
// matches) and records exit code 255, reason Unknown.
//
// # Exec and logs
//
// Runtime.Exec runs a command in a container's working directory and
// environment (preStop and postStart exec hooks, exec probes) with its own
// timeout on the injected clock. Runtime.ExecStream is its interactive
// form for kubectl exec: the client's streams connected while the command
// runs, optionally on a new pseudo-terminal (/dev/ptmx, made the
// command's controlling terminal in a session of its own) that follows
// the client's terminal size. Runtime.Attach streams a container's output
// from now on by following container.log, each stream to its writer;
// attaching stdin is not supported (ErrAttachStdin), since every program
// runs with stdin /dev/null. WriteLogs serves kubectl logs' options
// from container.log: tail, since, timestamps, follow (inotify on the
// directory, ending once exit.json is there and the log is read), limit
// bytes, stream.
package process
