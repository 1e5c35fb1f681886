package containergc

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// dead builds containers of one pod and container name, created at the
// given minutes after t0; the id is pod/name/minute.
func dead(pod, name string, minutes ...int) []Container {
	var out []Container
	for _, m := range minutes {
		out = append(out, Container{PodUID: pod, Name: name, ID: pod + "/" + name + "/" + itoa(m), Created: t0.Add(time.Duration(m) * time.Minute)})
	}
	return out
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func ids(cs []Container) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// TestSelect follows H3: minimum age, then per (pod, container) unit,
// then the node-wide limit with its per-unit share and oldest-first cut.
func TestSelect(t *testing.T) {
	now := t0.Add(time.Hour)
	tests := []struct {
		name string
		dead []Container
		p    Policy
		want []string // oldest first
	}{
		{"defaults keep the newest dead instance per container",
			slices.Concat(dead("a", "c", 1, 2, 3), dead("a", "d", 5), dead("b", "c", 4, 6)),
			DefaultPolicy(), []string{"a/c/01", "a/c/02", "b/c/04"}},
		{"MinAge: younger containers are not even counted",
			dead("a", "c", 1, 2, 50, 55),
			Policy{MinAge: 20 * time.Minute, MaxPerPodContainer: 1, MaxContainers: -1}, []string{"a/c/01"}},
		{"MaxPerPodContainer 0 removes every dead instance",
			dead("a", "c", 1, 2), Policy{MaxPerPodContainer: 0, MaxContainers: -1}, []string{"a/c/01", "a/c/02"}},
		{"negative limits keep everything",
			dead("a", "c", 1, 2, 3), Policy{MaxPerPodContainer: -1, MaxContainers: -1}, nil},
		{"node-wide limit: equal share per unit, at least one",
			slices.Concat(dead("a", "c", 1, 2, 3, 4), dead("b", "c", 5, 6, 7, 8)),
			Policy{MaxPerPodContainer: -1, MaxContainers: 4}, []string{"a/c/01", "a/c/02", "b/c/05", "b/c/06"}},
		{"node-wide limit below the number of units: one each, then oldest first",
			slices.Concat(dead("a", "c", 1, 2), dead("b", "c", 3, 4), dead("c", "c", 5, 6)),
			Policy{MaxPerPodContainer: -1, MaxContainers: 2}, []string{"a/c/01", "a/c/02", "b/c/03", "c/c/05"}},
		{"MaxContainers 0 removes all",
			dead("a", "c", 1), Policy{MaxPerPodContainer: 1, MaxContainers: 0}, []string{"a/c/01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(Select(tt.dead, tt.p, now))
			if tt.want == nil {
				tt.want = []string{}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Select = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestProtectedAreKept: a protected container (the current attempt) is
// never selected, even when the policy would remove it.
func TestProtectedAreKept(t *testing.T) {
	cs := dead("a", "c", 1, 2)
	cs[1].Protected = true
	if got := ids(Select(cs, Policy{MaxPerPodContainer: 0, MaxContainers: -1}, t0.Add(time.Hour))); !slices.Equal(got, []string{"a/c/01"}) {
		t.Errorf("Select = %v, want only the unprotected a/c/01", got)
	}
}

// TestEagerSelect is H4: on a death, all but max(MaxPerPodContainer, 1)
// of that container's dead instances go, young or not.
func TestEagerSelect(t *testing.T) {
	cs := dead("a", "c", 1, 2, 3, 4)
	for _, tt := range []struct {
		p    Policy
		want []string
	}{
		{DefaultPolicy(), []string{"a/c/03", "a/c/02", "a/c/01"}},
		{Policy{MaxPerPodContainer: 0, MinAge: time.Hour}, []string{"a/c/03", "a/c/02", "a/c/01"}},
		{Policy{MaxPerPodContainer: 2}, []string{"a/c/02", "a/c/01"}},
		{Policy{MaxPerPodContainer: 10}, []string{}},
	} {
		if got := ids(EagerSelect(cs, tt.p)); !slices.Equal(got, tt.want) {
			t.Errorf("EagerSelect(%+v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Error(err)
	}
	if err := (Policy{MinAge: -time.Second}).Validate(); err == nil {
		t.Error("negative MinAge accepted")
	}
}

// TestProtectedWinsTies: containers created in the same instant (a
// coarse clock) keep the protected one as the newest.
func TestProtectedWinsTies(t *testing.T) {
	cs := []Container{
		{PodUID: "a", Name: "c", ID: "0", Created: t0},
		{PodUID: "a", Name: "c", ID: "1", Created: t0, Protected: true},
		{PodUID: "a", Name: "c", ID: "2", Created: t0},
	}
	if got := ids(Select(cs, DefaultPolicy(), t0.Add(time.Hour))); !slices.Equal(got, []string{"2", "0"}) && !slices.Equal(got, []string{"0", "2"}) {
		t.Errorf("Select = %v, want the two unprotected", got)
	}
}

// TestPlanDecidesEveryContainerOnce: each dead container gets one
// decision with a reason, the removals being Select's.
func TestPlanDecidesEveryContainerOnce(t *testing.T) {
	now := t0.Add(time.Hour)
	dead := slices.Concat(dead("a", "c", 1, 2, 3), dead("b", "c", 4, 59))
	dead[2].Protected = true
	p := Policy{MinAge: 5 * time.Minute, MaxPerPodContainer: 0, MaxContainers: 1}
	plan := Plan(dead, p, now)
	if len(plan) != len(dead) {
		t.Fatalf("%d decisions for %d containers", len(plan), len(dead))
	}
	seen := map[string]bool{}
	var removed []string
	for _, d := range plan {
		if seen[d.Container.ID] || d.Reason == "" {
			t.Errorf("decision %+v: duplicate or without reason", d)
		}
		seen[d.Container.ID] = true
		if d.Remove {
			removed = append(removed, d.Container.ID)
		}
	}
	if want := ids(Select(dead, p, now)); !slices.Equal(removed, want) {
		t.Errorf("Plan removes %v, Select %v", removed, want)
	}
	for _, d := range plan {
		switch d.Container.ID {
		case "a/c/03":
			if d.Remove || d.Reason != "the container's current attempt" {
				t.Errorf("protected: %+v", d)
			}
		case "b/c/59":
			if d.Remove || d.Reason != "younger than the minimum age 5m0s" {
				t.Errorf("young: %+v", d)
			}
		}
	}
}
