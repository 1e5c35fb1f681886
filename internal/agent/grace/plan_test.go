package grace

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 23, 0, 24, 35, 0, time.UTC)

// s is an offset from t0 in (possibly fractional) seconds.
func s(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }

// step is one moment of a script: events happen at t0+at, then Next runs
// (unless skip) and must return want and wake (offset; <0 means none).
type step struct {
	at     time.Duration
	events []event
	skip   bool // events only, no Next (the agent is down)
	want   []string
	wake   time.Duration
}

type event func(t *testing.T, p *Plan, now time.Time) *Plan

func preStopDone(name string) event {
	return func(t *testing.T, p *Plan, now time.Time) *Plan {
		if err := p.PreStopDone(name, now); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func exited(name string) event { return exitedAt(name, -1) }

// exitedAt reports an exit at an earlier offset (found after a restart);
// at < 0 means now.
func exitedAt(name string, at time.Duration) event {
	return func(t *testing.T, p *Plan, now time.Time) *Plan {
		when := now
		if at >= 0 {
			when = t0.Add(at)
		}
		if err := p.Exited(name, when); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func shorten(sec int64, changed bool) event {
	return func(t *testing.T, p *Plan, now time.Time) *Plan {
		if got := p.Shorten(sec, now); got != changed {
			t.Errorf("Shorten(%d) = %v, want %v", sec, got, changed)
		}
		return p
	}
}

// restart persists the plan as JSON and loads it again, as an agent killed
// with SIGKILL does when it comes back.
func restart(t *testing.T, p *Plan, _ time.Time) *Plan {
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Plan
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	return &q
}

func format(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a.Type {
		case RunPreStop:
			out = append(out, fmt.Sprintf("RunPreStop %s until %v", a.Container, a.Deadline.Sub(t0)))
		case SendStopSignal:
			out = append(out, fmt.Sprintf("SendStopSignal %s %s kill at %v", a.Container, a.Signal, a.Deadline.Sub(t0)))
		case SendKill:
			out = append(out, fmt.Sprintf("SendKill %s %s", a.Container, a.Signal))
		default:
			out = append(out, fmt.Sprintf("%s %s", a.Type, a.Container))
		}
	}
	return out
}

var (
	app    = Container{Name: "app", StopSignal: corev1.SIGTERM}
	hooked = Container{Name: "app", PreStop: true, StopSignal: corev1.SIGTERM}
	quit   = Container{Name: "app", StopSignal: corev1.SIGQUIT}
	// side2 is declared after side1, so it stops first (G6 sidecars).
	side2 = Container{Name: "side2", StopSignal: corev1.SIGTERM, WaitsFor: []string{"app"}}
	side1 = Container{Name: "side1", StopSignal: corev1.SIGTERM, WaitsFor: []string{"app", "side2"}}
)

const none = -1

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		grace      int64
		containers []Container
		steps      []step
	}{
		{
			name: "G6 no preStop: Killing, stop signal at once, SIGKILL at the grace", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(29.999), want: nil, wake: s(30)},
				{at: s(30), want: []string{"SendKill app SIGKILL"}, wake: none},
				{at: s(30.01), events: []event{exited("app")}, want: nil, wake: none},
			},
		},
		{
			name: "G6 the container's stop signal is used", grace: 10,
			containers: []Container{quit},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGQUIT kill at 10s"}, wake: s(10)},
			},
		},
		{
			name: "G6 exit after the stop signal: no SIGKILL", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(0.2), events: []event{exited("app")}, want: nil, wake: none},
				{at: s(30), want: nil, wake: none},
			},
		},
		{
			name: "G6 preStop returns early: the elapsed time is truncated to whole seconds", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				// 10.7 s elapsed count as 10: 20 s remain after the hook.
				{at: s(10.7), events: []event{preStopDone("app")}, want: []string{"SendStopSignal app SIGTERM kill at 30.7s"}, wake: s(30.7)},
				{at: s(30.7), want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G6 preStop longer than the grace: left running, then 2 s", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(30), want: []string{"SendStopSignal app SIGTERM kill at 32s"}, wake: s(32)},
				// the hook returning late changes nothing
				{at: s(31), events: []event{preStopDone("app")}, want: nil, wake: s(32)},
				{at: s(32), want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G6 2 s minimum: a hook ending 29.5 s into 30 s leaves 1 s, raised to 2", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(29.5), events: []event{preStopDone("app")}, want: []string{"SendStopSignal app SIGTERM kill at 31.5s"}, wake: s(31.5)},
			},
		},
		{
			name: "G6 a container exiting during its preStop gets no signal", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(3), events: []event{exited("app")}, want: nil, wake: none},
				{at: s(30), want: nil, wake: none},
			},
		},
		{
			name: "G9 grace 0 (force delete) kills with 1 s: preStop at most 1 s, then 2 s", grace: Effective(Request{DeletionGracePeriodSeconds: new(int64)}),
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 1s"}, wake: s(1)},
				{at: s(1), want: []string{"SendStopSignal app SIGTERM kill at 3s"}, wake: s(3)},
				{at: s(3), want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G9 grace 0 without preStop: stop signal, SIGKILL 2 s later", grace: 0,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 2s"}, wake: s(2)},
			},
		},
		{
			name: "G5 shortened mid-wait: SIGKILL moves earlier at once", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(10), events: []event{shorten(20, true)}, want: nil, wake: s(20)},
				{at: s(20), want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G5 shortened mid-wait below the time spent: SIGKILL at once", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(10), events: []event{shorten(5, true)}, want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G5 shortened right after the stop signal: still 2 s after it (G6 step 5)", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(0.5), events: []event{shorten(1, true)}, want: nil, wake: s(2)},
				{at: s(2), want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G5 never increases: a longer grace changes nothing", grace: 10,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 10s"}, wake: s(10)},
				{at: s(5), events: []event{shorten(60, false), shorten(10, false)}, want: nil, wake: s(10)},
			},
		},
		{
			name: "G5 shortened mid-preStop with its budget spent: hook left running, stop now, 2 s", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(5), events: []event{shorten(3, true)}, want: []string{"SendStopSignal app SIGTERM kill at 7s"}, wake: s(7)},
				{at: s(7), want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G5 shortened mid-preStop with budget left: the hook's budget shrinks", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(5), events: []event{shorten(20, true)}, want: nil, wake: s(20)},
				{at: s(8.5), events: []event{preStopDone("app")}, want: []string{"SendStopSignal app SIGTERM kill at 20.5s"}, wake: s(20.5)},
			},
		},
		{
			name: "G5 shortened mid-preStop, the hook then runs out its new budget", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(5), events: []event{shorten(20, true)}, want: nil, wake: s(20)},
				{at: s(20), want: []string{"SendStopSignal app SIGTERM kill at 22s"}, wake: s(22)},
			},
		},
		{
			name: "G9 force delete during the wait: SIGKILL at once", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(10), events: []event{shorten(Effective(Request{InUse: ptr.To[int64](30), Removed: true}), true)}, want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G9 force delete during preStop: 1 s budget from the start, then 2 s", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(0.5), events: []event{shorten(0, true)}, want: nil, wake: s(1)},
				{at: s(1), want: []string{"SendStopSignal app SIGTERM kill at 3s"}, wake: s(3)},
			},
		},
		{
			name: "G6 sidecars stop after the regular containers, in reverse order", grace: 30,
			containers: []Container{app, side2, side1},
			steps: []step{
				{at: 0, want: []string{
					"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s",
					"RecordKilling side2", "RecordKilling side1",
				}, wake: s(30)},
				// app exits at 4.5 s: side2's turn, 4 s of grace used up.
				{at: s(4.5), events: []event{exited("app")}, want: []string{"SendStopSignal side2 SIGTERM kill at 30.5s"}, wake: s(30)},
				{at: s(6), events: []event{exited("side2")}, want: []string{"SendStopSignal side1 SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(6.1), events: []event{exited("side1")}, want: nil, wake: none},
			},
		},
		{
			name: "G6 waiting for one's turn uses up grace: at its end, 2 s", grace: 30,
			containers: []Container{app, side2, side1},
			steps: []step{
				{at: 0, want: []string{
					"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s",
					"RecordKilling side2", "RecordKilling side1",
				}, wake: s(30)},
				{at: s(30), want: []string{
					"SendKill app SIGKILL",
					"SendStopSignal side2 SIGTERM kill at 32s",
					"SendStopSignal side1 SIGTERM kill at 32s",
				}, wake: s(32)},
			},
		},
		{
			name: "G6 sidecar with preStop: hooks run in parallel, then the wait", grace: 30,
			containers: []Container{app, {Name: "side", PreStop: true, StopSignal: corev1.SIGTERM, WaitsFor: []string{"app"}}},
			steps: []step{
				{at: 0, want: []string{
					"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s",
					"RecordKilling side", "RunPreStop side until 30s",
				}, wake: s(30)},
				{at: s(2.5), events: []event{preStopDone("side")}, want: nil, wake: s(30)},
				// waited 7.5 s after the hook's 2.5 s: 30 - 2 - 7 = 21 s remain
				{at: s(10), events: []event{exited("app")}, want: []string{"SendStopSignal side SIGTERM kill at 31s"}, wake: s(31)},
			},
		},
		{
			name: "G5 shortened while a sidecar waits: its turn comes now", grace: 30,
			containers: []Container{app, side2},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s", "RecordKilling side2"}, wake: s(30)},
				{at: s(10), events: []event{shorten(5, true)}, want: []string{"SendKill app SIGKILL", "SendStopSignal side2 SIGTERM kill at 12s"}, wake: s(12)},
			},
		},
		{
			name: "G6 restart keeps the deadline: no fresh grace", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(12), events: []event{restart}, want: nil, wake: s(30)},
				{at: s(30), want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G6 restart after the deadline passed: SIGKILL at once", grace: 30,
			containers: []Container{app},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s"}, wake: s(30)},
				{at: s(45), events: []event{restart}, want: []string{"SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G6 restart during preStop: the hook is assumed to run out its budget", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(10), events: []event{restart}, want: nil, wake: s(30)},
				{at: s(30), want: []string{"SendStopSignal app SIGTERM kill at 32s"}, wake: s(32)},
			},
		},
		{
			name: "G6 restart between the hook's end and the deadline: stop now, deadline kept", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "RunPreStop app until 30s"}, wake: s(30)},
				{at: s(31), events: []event{restart}, want: []string{"SendStopSignal app SIGTERM kill at 32s"}, wake: s(32)},
			},
		},
		{
			name: "G6 restart before anything was done, deadline passed: no hook, SIGKILL", grace: 30,
			containers: []Container{hooked},
			steps: []step{
				{at: s(40), events: []event{restart}, want: []string{"RecordKilling app", "SendKill app SIGKILL"}, wake: none},
			},
		},
		{
			name: "G6 restart: an exit that happened while down keeps a sidecar's schedule", grace: 30,
			containers: []Container{app, side2},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s", "RecordKilling side2"}, wake: s(30)},
				{at: s(12), events: []event{restart, exitedAt("app", s(5))}, want: []string{"SendStopSignal side2 SIGTERM kill at 30s"}, wake: s(30)},
			},
		},
		{
			name: "G6 restart: agent down past a sidecar's deadline", grace: 30,
			containers: []Container{app, side2},
			steps: []step{
				{at: 0, want: []string{"RecordKilling app", "SendStopSignal app SIGTERM kill at 30s", "RecordKilling side2"}, wake: s(30)},
				{at: s(50), events: []event{restart, exitedAt("app", s(5))}, want: []string{"SendKill side2 SIGKILL"}, wake: none},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(tc.grace, tc.containers, t0)
			for i, st := range tc.steps {
				now := t0.Add(st.at)
				for _, e := range st.events {
					p = e(t, p, now)
				}
				if st.skip {
					continue
				}
				acts, wake := p.Next(now)
				if diff := cmp.Diff(st.want, format(acts)); diff != "" {
					t.Errorf("step %d at %v: actions (-want +got):\n%s", i, st.at, diff)
				}
				wantWake := time.Time{}
				if st.wake >= 0 {
					wantWake = t0.Add(st.wake)
				}
				if !wake.Equal(wantWake) {
					t.Errorf("step %d at %v: wake %v, want %v", i, st.at, offset(wake), offset(wantWake))
				}
			}
		})
	}
}

func offset(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Sub(t0).String()
}

// Property: whatever happens, a running container is sent SIGKILL no later
// than grace + 2 s after the start when it has no sidecar wait (G6 worst
// case), and Next is idempotent (a second call at the same instant does
// nothing).
func TestPlanWorstCaseAndIdempotence(t *testing.T) {
	for _, grace := range []int64{1, 2, 3, 10, 30} {
		for _, hookEnd := range []float64{-1, 0, 0.4, 1, 2.999, 5, 29.5, 31} {
			name := fmt.Sprintf("G6 grace %d hook end %v", grace, hookEnd)
			t.Run(name, func(t *testing.T) {
				c := app
				if hookEnd >= 0 {
					c = hooked
				}
				p := NewPlan(grace, []Container{c}, t0)
				now := t0
				var killed time.Time
				for range 10 {
					acts, wake := p.Next(now)
					if again, _ := p.Next(now); len(again) != 0 {
						t.Fatalf("second Next at %v: %v", offset(now), format(again))
					}
					for _, a := range acts {
						if a.Type == SendKill {
							killed = now
						}
					}
					if !killed.IsZero() {
						break
					}
					next := wake
					if hookEnd >= 0 && p.Containers[0].PreStopEnded.IsZero() && t0.Add(s(hookEnd)).Before(wake) {
						next = t0.Add(s(hookEnd))
						if err := p.PreStopDone("app", next); err != nil {
							t.Fatal(err)
						}
					}
					now = next
				}
				limit := t0.Add(time.Duration(grace+MinimumStopSeconds) * time.Second)
				if killed.IsZero() || killed.After(limit) {
					t.Fatalf("killed at %v, want by %v", offset(killed), offset(limit))
				}
				if st := p.Containers[0]; !st.StopSent.IsZero() && st.KillAt.Sub(st.StopSent) < time.Duration(MinimumStopSeconds)*time.Second {
					t.Errorf("stop at %v, kill at %v: less than the 2 s minimum", offset(st.StopSent), offset(st.KillAt))
				}
			})
		}
	}
}

func TestPlanEvents(t *testing.T) {
	p := NewPlan(30, []Container{app}, t0)
	if err := p.Exited("nope", t0); err == nil {
		t.Error("Exited of an unknown container: no error")
	}
	if err := p.PreStopDone("nope", t0); err == nil {
		t.Error("PreStopDone of an unknown container: no error")
	}
	if p.Done() {
		t.Error("Done before any exit")
	}
	if err := p.Exited("app", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := p.Exited("app", t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !p.Done() || !p.Lookup("app").ExitedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("Done %v, exited at %v; want true at 1s (first report wins)", p.Done(), offset(p.Lookup("app").ExitedAt))
	}
	if NewPlan(-3, nil, t0).GraceSeconds != 1 {
		t.Error("G5: a plan's grace is at least 1 s")
	}
}
