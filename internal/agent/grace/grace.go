// Package grace is the agent's stop plan: every decision of spec section G
// about ending a pod's containers (G5–G7, G9), as pure functions of
// (inputs, now) → decisions. It does no I/O and reads no clock, so table
// tests cover it exhaustively and the same code predicts and drives.
//
// # How the podworker drives it
//
// Effective computes the grace in use (G5). NewPlan makes a Plan for the
// containers that are running when termination begins; ContainersOf builds
// that list from a pod. The podworker then loops:
//
//	actions, wake := plan.Next(now)   // carry out actions, then sleep until wake
//	plan.PreStopDone(name, at)        // a preStop hook returned
//	plan.Exited(name, at)             // a container's process ended
//	plan.Shorten(seconds, now)        // a later DELETE or eviction shortened the grace
//
// Next returns the actions due at now (RecordKilling, RunPreStop,
// SendStopSignal, SendKill), marks them as issued in the plan, and
// returns the earliest future time at which it must be called again (zero
// when only events can move the plan on). Call Next again right after any
// event. Done reports when every container has exited; TerminalPhase then
// gives the pod's phase (G7).
//
// # Absolute times, restart and persistence
//
// A Plan holds only absolute times and facts (when the agent began, when a
// hook ended, when a container exited, when the stop signal went out) and
// the grace in seconds; every deadline is derived from them on each call.
// A Plan is plain JSON, so the podworker persists it (write-ahead: after
// Next, before carrying out the actions) and, after an agent restart,
// loads it, reports the exits that happened meanwhile (with their real
// times, which the process runtime records) and calls Next again. The
// deadlines hold: the pod gets neither a fresh full grace period nor an
// immediate kill (issue 6; upstream cri-api#1098 restarts the grace). A
// step whose time passed while the agent was down is done at once; a
// container whose SIGKILL deadline passed is killed at once without a stop
// signal. A preStop hook that was running when the agent died cannot be
// observed any more (its process may well still run, orphaned), so the
// plan assumes the worst case G6 allows: the hook runs to the end of its
// budget, then the stop signal goes out.
//
// # Shortened grace
//
// Upstream kubelet takes a shorter grace into account only for containers
// not yet being killed (kubernetes#83916). Shorten applies it at once to
// every container: a hook whose shorter budget is already spent is left
// running and the stop signal goes out now (G6 step 4); a SIGKILL deadline
// moves earlier, never later. The 2 s between stop signal and SIGKILL of
// G6 step 5 is kept, as G9 keeps it for force deletion.
package grace

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// DefaultSeconds is spec.terminationGracePeriodSeconds' default (G1).
const DefaultSeconds int64 = 30

// MinimumStopSeconds is the least time between the stop signal and
// SIGKILL: kubelet's minimumGracePeriodInSeconds (G6 step 5).
const MinimumStopSeconds int64 = 2

// Request holds what G5's effective grace is computed from.
type Request struct {
	// InUse is the grace of a termination already under way; nil before
	// it began.
	InUse *int64
	// DeletionGracePeriodSeconds is the pod's metadata field; nil if
	// unset.
	DeletionGracePeriodSeconds *int64
	// Override is a grace asked by the agent itself (eviction's
	// PodTerminationGracePeriodSecondsOverride); nil if none.
	Override *int64
	// Removed says the pod is gone from the API (force delete, G9): it
	// counts as grace 0.
	Removed bool
	// Spec is spec.terminationGracePeriodSeconds, used only when none of
	// the above is set (a kill that is not a deletion); nil means the
	// default 30 s.
	Spec *int64
}

// Effective is the grace the agent kills with (G5): the smallest of the
// grace in use, deletionGracePeriodSeconds and an override, so it never
// increases; at least 1 s, so a force delete or grace 0 still gives a
// preStop hook 1 s and the stop signal 2 s (G9).
func Effective(r Request) int64 {
	var g int64
	set := false
	consider := func(v int64) {
		if !set || v < g {
			g, set = v, true
		}
	}
	for _, p := range []*int64{r.InUse, r.DeletionGracePeriodSeconds, r.Override} {
		if p != nil {
			consider(*p)
		}
	}
	if r.Removed {
		consider(0)
	}
	if !set {
		g = DefaultSeconds
		if r.Spec != nil {
			g = *r.Spec
		}
	}
	return max(g, 1)
}

// StopSignal is the signal that asks a container to stop (G6 step 6): the
// container's lifecycle.stopSignal, else the image's STOPSIGNAL (passed
// as image, empty if the image names none), else SIGTERM. Upstream honours
// lifecycle.stopSignal only with the ContainerStopSignals gate; we always
// do (issue 6). The image's value is returned as the image spells it
// ("SIGQUIT", "QUIT" or "3"); the runtime parses it.
func StopSignal(c *corev1.Container, image string) corev1.Signal {
	if c != nil && c.Lifecycle != nil && c.Lifecycle.StopSignal != nil && *c.Lifecycle.StopSignal != "" {
		return *c.Lifecycle.StopSignal
	}
	if image != "" {
		return corev1.Signal(image)
	}
	return corev1.SIGTERM
}

// Container is one running container the plan stops.
type Container struct {
	Name string `json:"name"`
	// PreStop says the container has a preStop hook (G6 step 2).
	PreStop bool `json:"preStop,omitempty"`
	// StopSignal is the signal of G6 step 6 (see StopSignal).
	StopSignal corev1.Signal `json:"stopSignal"`
	// WaitsFor names the containers that must exit before this one gets
	// the stop signal (G6 sidecars). Names not in the plan (not running)
	// do not hold it back.
	WaitsFor []string `json:"waitsFor,omitempty"`
}

// ContainersOf lists the pod's containers to stop, in kubelet's order:
// regular containers, then init containers in reverse. Only those for
// which running(name) is true are listed. Following kubelet's
// newTerminationOrdering (G6), a restartable init container (a sidecar)
// waits for every regular container and for the next sidecar declared
// after it, so sidecars stop last and in reverse order. imageSignal
// gives the image's STOPSIGNAL of a container ("" if none); it may be nil.
func ContainersOf(pod *corev1.Pod, running func(name string) bool, imageSignal func(name string) string) []Container {
	image := func(name string) string {
		if imageSignal == nil {
			return ""
		}
		return imageSignal(name)
	}
	var regular []string
	for _, c := range pod.Spec.Containers {
		regular = append(regular, c.Name)
	}
	var out []Container
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if running(c.Name) {
			out = append(out, containerOf(c, image(c.Name), nil))
		}
	}
	later := "" // the sidecar declared after the current one
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := &pod.Spec.InitContainers[i]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		var waits []string
		if sidecar {
			waits = append(waits, regular...)
			if later != "" {
				waits = append(waits, later)
			}
		}
		if running(c.Name) {
			out = append(out, containerOf(c, image(c.Name), waits))
		}
		if sidecar {
			later = c.Name
		}
	}
	return out
}

func containerOf(c *corev1.Container, image string, waits []string) Container {
	return Container{
		Name:       c.Name,
		PreStop:    c.Lifecycle != nil && c.Lifecycle.PreStop != nil,
		StopSignal: StopSignal(c, image),
		WaitsFor:   waits,
	}
}

// Exit is how a regular container ended, for TerminalPhase.
type Exit struct {
	Name string
	// Exited says the container ran and has a terminated state.
	Exited   bool
	ExitCode int32
}

// TerminalPhase is the phase the agent writes once every container of a
// pod being deleted has stopped (G7): Succeeded if every regular container
// exited 0, Failed otherwise, whatever the restartPolicy. Sidecars and
// init containers do not count: pass only regular containers. A regular
// container that never ran counts as a failure, and so does a pod without
// regular containers (nothing succeeded).
func TerminalPhase(regular []Exit) corev1.PodPhase {
	if len(regular) == 0 {
		return corev1.PodFailed
	}
	for _, e := range regular {
		if !e.Exited || e.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

// ActionType says what an Action asks the podworker to do.
type ActionType int

const (
	// RecordKilling: record the Normal event Killing with the message
	// KillingMessage (G6 step 1).
	RecordKilling ActionType = iota + 1
	// RunPreStop: start the container's preStop hook; Deadline is the end
	// of its budget (G6 step 2). Report its end with PreStopDone; a hook
	// still running at Deadline is left running (step 4), and a failed one
	// is recorded as a Warning FailedPreStopHook (step 3) by the podworker.
	RunPreStop
	// SendStopSignal: send Signal to the container's processes; Deadline
	// is the planned SIGKILL (G6 step 6).
	SendStopSignal
	// SendKill: send SIGKILL to the container's process group (G6 step 6).
	SendKill
)

func (t ActionType) String() string {
	switch t {
	case RecordKilling:
		return "RecordKilling"
	case RunPreStop:
		return "RunPreStop"
	case SendStopSignal:
		return "SendStopSignal"
	case SendKill:
		return "SendKill"
	}
	return fmt.Sprintf("ActionType(%d)", int(t))
}

// Event reasons and messages of G6, as kubelet records them.
const (
	ReasonKilling           = "Killing"
	ReasonFailedPreStopHook = "FailedPreStopHook"
	MessageFailedPreStop    = "PreStopHook failed"
)

// KillingMessage is the Killing event's message (G6 step 1).
func KillingMessage(container string) string { return "Stopping container " + container }

// Action is one thing the podworker must do now.
type Action struct {
	Type      ActionType
	Container string
	// Signal is the stop signal (SendStopSignal) or SIGKILL (SendKill).
	Signal corev1.Signal
	// Deadline: the hook's budget end (RunPreStop) or the planned
	// SIGKILL (SendStopSignal).
	Deadline time.Time
}
