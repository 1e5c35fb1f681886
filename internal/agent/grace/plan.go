package grace

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Plan is the stop plan of one pod: plain data (JSON), absolute times only,
// so it can be persisted and resumed after an agent restart (see the
// package comment).
type Plan struct {
	// Start is when the agent began killing the pod: every container's
	// Killing event, preStop budget and grace count from here (G6: the
	// containers are killed in parallel).
	Start time.Time `json:"start"`
	// GraceSeconds is the effective grace (G5): at least 1, only ever
	// lowered (Shorten).
	GraceSeconds int64            `json:"graceSeconds"`
	Containers   []ContainerState `json:"containers"`
}

// ContainerState is one container's plan and what has happened to it.
// Zero times mean "not yet".
type ContainerState struct {
	Container
	KillingRecorded bool `json:"killingRecorded,omitempty"`
	// PreStopStarted is when RunPreStop was issued.
	PreStopStarted time.Time `json:"preStopStarted,omitzero"`
	// PreStopEnded is when the preStop phase ended: the hook returned,
	// its budget ran out (PreStopLeftRunning, G6 step 4), a shorter grace
	// cut it, or its budget was spent before it could start
	// (PreStopSkipped: the agent was down).
	PreStopEnded       time.Time `json:"preStopEnded,omitzero"`
	PreStopLeftRunning bool      `json:"preStopLeftRunning,omitempty"`
	PreStopSkipped     bool      `json:"preStopSkipped,omitempty"`
	// TurnAt is when the container's turn to stop came (sidecars: when the
	// containers it waits for had exited or its wait ran out; others: the
	// end of the preStop phase). Fixed when the stop signal is sent.
	TurnAt time.Time `json:"turnAt,omitzero"`
	// StopSent is when the stop signal was issued; KillAt is the SIGKILL
	// deadline then planned (it only moves earlier).
	StopSent time.Time `json:"stopSent,omitzero"`
	KillAt   time.Time `json:"killAt,omitzero"`
	// KillSent is when SIGKILL was issued.
	KillSent time.Time `json:"killSent,omitzero"`
	// ExitedAt is when the container's process ended (reported).
	ExitedAt time.Time `json:"exitedAt,omitzero"`
}

// NewPlan starts the plan at now for the containers running when
// termination begins (see ContainersOf), with the effective grace in
// seconds (see Effective; raised to 1 if lower, G5).
func NewPlan(graceSeconds int64, containers []Container, now time.Time) *Plan {
	p := &Plan{Start: now, GraceSeconds: max(graceSeconds, 1)}
	for _, c := range containers {
		p.Containers = append(p.Containers, ContainerState{Container: c})
	}
	return p
}

func (p *Plan) grace() time.Duration { return time.Duration(p.GraceSeconds) * time.Second }

// budgetEnd is when every preStop hook's budget ends (G6 step 2: at most
// grace seconds; the same instant for all, as they start together).
func (p *Plan) budgetEnd() time.Time { return p.Start.Add(p.grace()) }

// Lookup returns the named container's state, or nil.
func (p *Plan) Lookup(name string) *ContainerState {
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return &p.Containers[i]
		}
	}
	return nil
}

func (p *Plan) lookup(name string) (*ContainerState, error) {
	if c := p.Lookup(name); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("grace: no container %q in the plan", name)
}

// Done reports whether every container has exited: the pod may then get
// its terminal phase (G7).
func (p *Plan) Done() bool {
	for i := range p.Containers {
		if p.Containers[i].ExitedAt.IsZero() {
			return false
		}
	}
	return true
}

// PreStopDone records that the container's preStop hook returned at at
// (with success or not). A hook returning after its budget's end counts as
// ending at the budget's end: kubelet stops waiting then (G6 step 4).
func (p *Plan) PreStopDone(name string, at time.Time) error {
	c, err := p.lookup(name)
	if err != nil {
		return err
	}
	if c.PreStopStarted.IsZero() || !c.PreStopEnded.IsZero() {
		return nil
	}
	if end := p.budgetEnd(); at.After(end) {
		at = end
	}
	c.PreStopEnded = at
	return nil
}

// Exited records that the container's process ended at at. Exits found
// after an agent restart are reported with their real times, so sidecars
// waiting for them keep their schedule.
func (p *Plan) Exited(name string, at time.Time) error {
	c, err := p.lookup(name)
	if err != nil {
		return err
	}
	if c.ExitedAt.IsZero() {
		c.ExitedAt = at
	}
	return nil
}

// Shorten lowers the grace to graceSeconds (raised to 1, G5, G9) if that is
// shorter, and reports whether it did. It applies at once (we do better
// than kubernetes#83916): a hook whose new budget is spent is left
// running and its container's turn comes now; a sidecar whose new wait
// is over stops now. Call Next right after: it sends what is due and moves
// SIGKILL deadlines earlier.
func (p *Plan) Shorten(graceSeconds int64, now time.Time) bool {
	g := max(graceSeconds, 1)
	if g >= p.GraceSeconds {
		return false
	}
	p.GraceSeconds = g
	end := p.budgetEnd()
	for i := range p.Containers {
		c := &p.Containers[i]
		if !c.ExitedAt.IsZero() || !c.KillSent.IsZero() || !c.StopSent.IsZero() {
			continue
		}
		if c.PreStop && c.PreStopEnded.IsZero() && !now.Before(end) {
			// G6 step 4 under the new budget: a running hook is left
			// running; one not yet started will not start.
			c.PreStopEnded = now
			c.PreStopLeftRunning = !c.PreStopStarted.IsZero()
			c.PreStopSkipped = c.PreStopStarted.IsZero()
		}
		if len(c.WaitsFor) == 0 || !c.TurnAt.IsZero() {
			continue
		}
		prestopEnd, ok := p.prestopEnd(c)
		if !ok {
			continue
		}
		if _, all := p.prerequisitesExited(c); all {
			continue
		}
		rem := g - seconds(prestopEnd.Sub(p.Start))
		if rem <= 0 || !now.Before(prestopEnd.Add(time.Duration(rem)*time.Second)) {
			c.TurnAt = now // the shorter wait is over (G6 sidecars)
		}
	}
	return true
}

// prestopEnd is the end of the container's preStop phase if it is known.
func (p *Plan) prestopEnd(c *ContainerState) (time.Time, bool) {
	if !c.PreStop {
		return p.Start, true
	}
	return c.PreStopEnded, !c.PreStopEnded.IsZero()
}

// prerequisitesExited reports whether every container c waits for that is
// in the plan has exited, and the latest of their exits.
func (p *Plan) prerequisitesExited(c *ContainerState) (last time.Time, all bool) {
	for _, name := range c.WaitsFor {
		o := p.Lookup(name)
		if o == nil || o == c {
			continue // not running when termination began
		}
		if o.ExitedAt.IsZero() {
			return time.Time{}, false
		}
		if o.ExitedAt.After(last) {
			last = o.ExitedAt
		}
	}
	return last, true
}

// seconds truncates to whole seconds, as kubelet does when it subtracts
// elapsed time from the grace (G6 step 2, sidecar waits).
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(d / time.Second)
}

// Next returns the actions due at now, in G6 order per container
// (RecordKilling before RunPreStop before SendStopSignal before
// SendKill), marks
// them issued, and returns the earliest later time at which Next must run
// again; zero when only an event (PreStopDone, Exited, Shorten) can move
// the plan on. Containers that exited or were sent SIGKILL need nothing.
func (p *Plan) Next(now time.Time) ([]Action, time.Time) {
	var acts []Action
	var wake time.Time
	wakeAt := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	for i := range p.Containers {
		c := &p.Containers[i]
		if !c.ExitedAt.IsZero() || !c.KillSent.IsZero() {
			continue
		}
		// G6 step 1: the Killing event comes first.
		if !c.KillingRecorded {
			c.KillingRecorded = true
			acts = append(acts, Action{Type: RecordKilling, Container: c.Name})
		}
		prestopEnd, ok := p.prestop(c, now, &acts, wakeAt)
		if !ok {
			continue
		}
		turn, remaining, ok := p.turn(c, prestopEnd, now, wakeAt)
		if !ok {
			continue
		}
		killAt := turn.Add(time.Duration(remaining) * time.Second)
		if c.StopSent.IsZero() {
			if !now.Before(killAt) {
				// The deadline passed while the agent was down: kill at
				// once, a stop signal now would change nothing.
				c.TurnAt, c.KillAt = turn, killAt
				p.kill(c, now, &acts)
				continue
			}
			c.TurnAt, c.StopSent, c.KillAt = turn, now, killAt
			acts = append(acts, Action{Type: SendStopSignal, Container: c.Name, Signal: c.StopSignal, Deadline: killAt})
		} else if killAt.Before(c.KillAt) {
			c.KillAt = killAt // a shorter grace moves SIGKILL earlier, never later
		}
		if !now.Before(c.KillAt) {
			p.kill(c, now, &acts)
			continue
		}
		wakeAt(c.KillAt)
	}
	return acts, wake
}

func (p *Plan) kill(c *ContainerState, now time.Time, acts *[]Action) {
	c.KillSent = now
	*acts = append(*acts, Action{Type: SendKill, Container: c.Name, Signal: corev1.SIGKILL})
}

// prestop runs G6 steps 2 and 4: it starts the hook while its budget
// lasts and ends the phase when the hook returned or the budget ran out
// (the hook is then left running). It returns the phase's end, or false
// while the phase goes on.
func (p *Plan) prestop(c *ContainerState, now time.Time, acts *[]Action, wakeAt func(time.Time)) (time.Time, bool) {
	if end, ok := p.prestopEnd(c); ok {
		return end, true
	}
	end := p.budgetEnd() // G5 makes the grace ≥ 1, so a hook always has a budget
	switch {
	case c.PreStopStarted.IsZero() && now.Before(end):
		c.PreStopStarted = now
		*acts = append(*acts, Action{Type: RunPreStop, Container: c.Name, Deadline: end})
		wakeAt(end)
		return time.Time{}, false
	case c.PreStopStarted.IsZero():
		// The budget was spent while the agent was down.
		c.PreStopEnded, c.PreStopSkipped = end, true
		return end, true
	case now.Before(end):
		wakeAt(end)
		return time.Time{}, false
	default:
		c.PreStopEnded, c.PreStopLeftRunning = end, true
		return end, true
	}
}

// turn computes when the container's turn to stop comes and the remaining
// grace then, in whole seconds and at least MinimumStopSeconds (G6 steps 2
// and 5, sidecar waits). It returns false while a sidecar still waits.
func (p *Plan) turn(c *ContainerState, prestopEnd, now time.Time, wakeAt func(time.Time)) (time.Time, int64, bool) {
	remaining := p.GraceSeconds - seconds(prestopEnd.Sub(p.Start))
	turn := prestopEnd
	switch {
	case !c.TurnAt.IsZero():
		turn = c.TurnAt
	case len(c.WaitsFor) > 0 && remaining > 0:
		// kubelet's waitForTurn: wait for the containers ahead, at most
		// the remaining grace; the time waited uses up grace.
		bound := prestopEnd.Add(time.Duration(remaining) * time.Second)
		last, all := p.prerequisitesExited(c)
		switch {
		case all && last.After(bound):
			turn = bound
		case all && last.After(prestopEnd):
			turn = last
		case all:
		case now.Before(bound):
			wakeAt(bound)
			return time.Time{}, 0, false
		default:
			turn = bound
		}
	}
	remaining -= seconds(turn.Sub(prestopEnd))
	return turn, max(remaining, MinimumStopSeconds), true
}
