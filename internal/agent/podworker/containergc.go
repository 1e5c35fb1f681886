package podworker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/terminus-project/terminus/internal/agent/containergc"
	"github.com/terminus-project/terminus/internal/agent/process"
)

// reasonContainerGCFailed is the kubelet's Node event for a failed pass.
const reasonContainerGCFailed = "ContainerGCFailed"

// ContainerGCResult is what one container GC pass saw and did.
type ContainerGCResult struct {
	Dead    int // dead containers on the node before the pass
	Removed int
}

// runContainerGC runs a container GC pass every period until ctx ends
// (the kubelet's StartGarbageCollection).
func (a *Agent) runContainerGC(ctx context.Context) {
	period := a.cfg.ContainerGCPeriod
	if period <= 0 {
		period = containergc.DefaultPeriod
	}
	for {
		t := a.clock.NewTimer(period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		if _, err := a.GarbageCollectContainers(ctx); err != nil {
			a.log.Warn("container garbage collection", "error", err)
			a.nodeEvent(corev1.EventTypeWarning, reasonContainerGCFailed, err.Error())
		}
	}
}

func (a *Agent) gcPolicy() containergc.Policy {
	if a.cfg.ContainerGC != nil {
		return *a.cfg.ContainerGC
	}
	return containergc.DefaultPolicy()
}

// GarbageCollectContainers is one container GC pass (H3): the dead
// containers of every pod on the node, by the policy. A pod's current
// attempt of a container is kept whatever the policy says, since the
// pod's status is reported from it (the kubelet keeps it in a cache);
// deleted pods' containers went with their pod directories already
// (H3 step 2, when the worker finished the pod).
func (a *Agent) GarbageCollectContainers(ctx context.Context) (ContainerGCResult, error) {
	start := time.Now()
	defer func() { a.metrics.gcDuration.Observe(time.Since(start).Seconds()) }()
	dead, err := a.deadContainers(ctx)
	if err != nil {
		return ContainerGCResult{}, err
	}
	res := ContainerGCResult{Dead: len(dead)}
	var errs []error
	for _, d := range containergc.Plan(dead, a.gcPolicy(), a.clock.Now()) {
		if !d.Remove {
			a.log.Debug("keeping dead container", "pod", d.Container.PodUID, "container", d.Container.Name, "dir", d.Container.Dir, "reason", d.Reason)
			continue
		}
		if err := a.removeContainer(d.Container, d.Reason); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Removed++
	}
	a.metrics.deadContainers.Set(float64(res.Dead - res.Removed))
	return res, errors.Join(errs...)
}

// deadContainers lists the node's exited containers from the pod
// directories: pods/<uid>/containers/<name>/<attempt>. The newest attempt
// of each container is marked protected.
func (a *Agent) deadContainers(ctx context.Context) ([]containergc.Container, error) {
	pods, err := os.ReadDir(a.podsDir())
	if err != nil {
		return nil, fmt.Errorf("container gc: %w", err)
	}
	var dead []containergc.Container
	for _, p := range pods {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		names, err := os.ReadDir(filepath.Join(a.podsDir(), p.Name(), "containers"))
		if err != nil {
			continue // no containers yet, or the pod just finished
		}
		for _, n := range names {
			dir := filepath.Join(a.podsDir(), p.Name(), "containers", n.Name())
			attempts, newest := containerAttempts(dir)
			for _, at := range attempts {
				adir := filepath.Join(dir, strconv.Itoa(at))
				created, exited, err := process.Exited(adir)
				if err != nil || !exited {
					continue // running, starting, or going away under us
				}
				dead = append(dead, containergc.Container{PodUID: p.Name(), Name: n.Name(), ID: adir,
					Created: created, Protected: at == newest, Dir: adir})
			}
		}
	}
	return dead, nil
}

// containerAttempts lists the attempt numbers present under a
// container's directory and the newest of them.
func containerAttempts(dir string) ([]int, int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, -1
	}
	newest := -1
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		out = append(out, n)
		newest = max(newest, n)
	}
	return out, newest
}

// removeContainer removes a dead container's directory (its log and
// status go with it) and its image lease (H6: a removed container no
// longer pins its image).
func (a *Agent) removeContainer(c containergc.Container, why string) error {
	a.log.Debug("removing dead container", "pod", c.PodUID, "container", c.Name, "dir", c.Dir, "created", c.Created, "reason", why)
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("remove dead container %s: %w", c.Dir, err)
	}
	if a.cfg.Images != nil {
		if err := a.cfg.Images.Release(c.Dir); err != nil {
			a.log.Warn("release image of removed container", "dir", c.Dir, "error", err)
		}
	}
	a.metrics.containersRemoved.Inc()
	return nil
}

// cleanDeadInstances is H4, run when one of the pod's containers died
// and is about to restart: of its dead instances all but the newest
// max(MaxPerPodContainer, 1) go.
func (w *worker) cleanDeadInstances(name string) {
	dir := filepath.Join(w.dir, "containers", name)
	attempts, _ := containerAttempts(dir)
	var dead []containergc.Container
	for _, at := range attempts {
		adir := filepath.Join(dir, strconv.Itoa(at))
		created, exited, err := process.Exited(adir)
		if err != nil || !exited {
			continue
		}
		dead = append(dead, containergc.Container{PodUID: string(w.uid), Name: name, ID: adir, Created: created, Dir: adir})
	}
	for _, c := range containergc.EagerSelect(dead, w.a.gcPolicy()) {
		if err := w.a.removeContainer(c, "older than the newest dead instances kept when the container restarted (H4)"); err != nil {
			w.log.Warn("remove dead container", "error", err)
		}
	}
}

// nodeEvent records an event on the agent's Node, referenced as the
// kubelet does (its uid is the node's name).
func (a *Agent) nodeEvent(typ, reason, msg string) {
	if r := a.events(); r != nil {
		r.Event(&corev1.ObjectReference{Kind: "Node", Name: a.cfg.NodeName, UID: types.UID(a.cfg.NodeName)}, typ, reason, msg)
	}
}
