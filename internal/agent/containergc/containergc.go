// Package containergc is the kubelet's container garbage collection
// policy (spec H2–H4), pure: given the dead containers of a node it says
// which to remove. The pod worker lists the containers, removes what this
// package selects and keeps what it protects.
package containergc

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Policy is the kubelet's container GC policy (H2), set by the deprecated
// flags of the same meaning.
type Policy struct {
	// MinAge (--minimum-container-ttl-duration): a dead container may go
	// only this long after its creation.
	MinAge time.Duration
	// MaxPerPodContainer (--maximum-dead-containers-per-container): dead
	// instances kept per pod and container name; negative: no limit.
	MaxPerPodContainer int
	// MaxContainers (--maximum-dead-containers): dead containers kept on
	// the node; negative: no limit.
	MaxContainers int
}

// DefaultPeriod is the time between passes: the kubelet's container GC
// period (H1).
const DefaultPeriod = time.Minute

// DefaultPolicy is the kubelet's default: no minimum age, one dead
// instance per container, no node-wide limit.
func DefaultPolicy() Policy { return Policy{MinAge: 0, MaxPerPodContainer: 1, MaxContainers: -1} }

// Validate checks the policy as the kubelet's flag parsing does.
func (p Policy) Validate() error {
	if p.MinAge < 0 {
		return fmt.Errorf("--minimum-container-ttl-duration %v must not be negative", p.MinAge)
	}
	return nil
}

// Container is one dead container: an exited instance of a pod's
// container.
type Container struct {
	PodUID  string
	Name    string // the container's name in the pod
	ID      string
	Created time.Time
	// Protected containers are counted but never selected: the pod worker
	// protects the current attempt of a container, whose status it still
	// reports from it.
	Protected bool
	// Dir is where the container lives; opaque to the policy.
	Dir string
}

type unitKey struct{ pod, name string }

// Decision is what a pass does with one dead container, and why (the
// pod worker logs both at debug level).
type Decision struct {
	Container Container
	Remove    bool
	Reason    string
}

// Plan decides for every dead container by the kubelet's evictContainers
// (H3 steps 1, 3 and 4): containers younger than MinAge are left out; in
// each (pod, container name) unit the newest MaxPerPodContainer stay;
// then, if the node still has more than MaxContainers, each unit is cut
// to max(1, MaxContainers / units) and then the oldest go until
// MaxContainers remain. A protected container is always kept, which may
// leave more than the policy allows. Removals come oldest first.
func Plan(dead []Container, p Policy, now time.Time) []Decision {
	var kept, removed []Decision
	units := map[unitKey][]Container{}
	for _, c := range dead {
		if now.Sub(c.Created) < p.MinAge {
			kept = append(kept, Decision{Container: c, Reason: fmt.Sprintf("younger than the minimum age %v", p.MinAge)})
			continue
		}
		k := unitKey{c.PodUID, c.Name}
		units[k] = append(units[k], c)
	}
	for k, u := range units {
		slices.SortStableFunc(u, newestFirst)
		units[k] = u
	}
	remove := func(oldest []Container, why string) {
		for _, c := range oldest {
			if c.Protected {
				kept = append(kept, Decision{Container: c, Reason: "the container's current attempt"})
			} else {
				removed = append(removed, Decision{Container: c, Remove: true, Reason: why})
			}
		}
	}
	keepPerUnit := func(n int, why string) {
		for k, u := range units {
			if len(u) > n {
				remove(u[n:], why)
				units[k] = u[:n]
			}
		}
	}
	if p.MaxPerPodContainer >= 0 {
		keepPerUnit(p.MaxPerPodContainer, fmt.Sprintf("beyond the newest %d dead instances of its container", p.MaxPerPodContainer))
	}
	total := 0
	for _, u := range units {
		total += len(u)
	}
	if p.MaxContainers >= 0 && total > p.MaxContainers {
		share := max(1, p.MaxContainers/len(units))
		keepPerUnit(share, fmt.Sprintf("beyond its container's share (%d) of the node's %d dead containers", share, p.MaxContainers))
		var flat []Container
		for _, u := range units {
			flat = append(flat, u...)
		}
		if len(flat) > p.MaxContainers {
			slices.SortStableFunc(flat, newestFirst)
			remove(flat[p.MaxContainers:], fmt.Sprintf("among the oldest beyond the node's %d dead containers", p.MaxContainers))
			flat = flat[:p.MaxContainers]
		}
		units = map[unitKey][]Container{{}: flat}
	}
	for _, u := range units {
		for _, c := range u {
			kept = append(kept, Decision{Container: c, Reason: "within the policy"})
		}
	}
	slices.SortStableFunc(removed, func(a, b Decision) int { return -newestFirst(a.Container, b.Container) })
	return append(removed, kept...)
}

// Select returns the dead containers Plan removes, oldest first.
func Select(dead []Container, p Policy, now time.Time) []Container {
	var out []Container
	for _, d := range Plan(dead, p, now) {
		if d.Remove {
			out = append(out, d.Container)
		}
	}
	return out
}

// EagerSelect is H4, the clean-up when one of a pod's containers dies:
// of that container's dead instances, all but the newest
// max(MaxPerPodContainer, 1) go, whatever their age.
func EagerSelect(instances []Container, p Policy) []Container {
	keep := max(p.MaxPerPodContainer, 1)
	u := slices.Clone(instances)
	slices.SortStableFunc(u, newestFirst)
	if len(u) <= keep {
		return nil
	}
	var out []Container
	for _, c := range u[keep:] {
		if !c.Protected {
			out = append(out, c)
		}
	}
	return out
}

// newestFirst orders by creation, newest first; on a tie a protected
// container (a current attempt, the newest by definition) first, then by
// id so the order is total.
func newestFirst(a, b Container) int {
	if c := b.Created.Compare(a.Created); c != 0 {
		return c
	}
	if a.Protected != b.Protected {
		if a.Protected {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.ID, b.ID)
}
