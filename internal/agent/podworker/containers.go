package podworker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/agent/process"
)

// Event reasons of this agent for what a kubelet would do with an image.
const (
	// ReasonHostCommand: the image is not in the local store, so the
	// container's command runs on the host.
	ReasonHostCommand = "HostCommand"
	// ReasonStandIn: neither the image nor a command is available, so the
	// built-in stand-in (pause) runs.
	ReasonStandIn = "StandIn"
)

// start starts the next attempt of c: the record is written first
// (write-ahead), then the process. It returns when to try again if the
// container's configuration cannot be resolved yet (kubelet's
// CreateContainerConfigError is retried on later syncs).
func (w *worker) start(ctx context.Context, pod *corev1.Pod, c *corev1.Container, init bool) time.Time {
	now := w.a.clock.Now()
	prev := w.st.Containers[c.Name]
	rec := &containerRecord{Name: c.Name, Init: init, ID: newID()}
	if prev != nil {
		rec.Attempt, rec.BackOff = prev.Attempt+1, prev.BackOff
		if s, ok := w.containerStatus(c.Name); ok && !s.Running {
			rec.Last = terminatedOf(prev.ID, s)
		}
		w.cleanDeadInstances(c.Name) // H4
	}
	rec.Dir = attemptDir(w.dir, c.Name, rec.Attempt)

	spec, l, err := w.spec(ctx, pod, c, rec)
	if err != nil {
		var b *blocked
		if !errors.As(err, &b) {
			b = configError(err)
		}
		if prev := w.blocked[c.Name]; prev == nil || *prev != *b {
			w.event(pod, corev1.EventTypeWarning, b.EventReason, b.EventMessage)
		}
		w.blocked[c.Name] = b
		return now.Add(retryAfter)
	}
	delete(w.blocked, c.Name)
	if l.image != nil {
		rec.Image, rec.ImageID, rec.StopSignal = l.image.ref, l.image.imageID(), l.image.image.Config.StopSignal
		// H6: the image is in use while this attempt's directory exists.
		if err := w.a.cfg.Images.Use(l.image.image.ID, rec.Dir); err != nil {
			w.log.Warn("record image use", "image", l.image.ref, "error", err)
		}
	}
	w.st.Containers[c.Name] = rec
	w.save()

	switch {
	case l.image != nil: // findImage said Pulled
	case l.standIn:
		w.eventf(pod, corev1.EventTypeNormal, ReasonStandIn,
			"Image %q is not in the local image store and the container has no command: running the built-in stand-in, which stays up until signalled", c.Image)
	default:
		w.eventf(pod, corev1.EventTypeNormal, ReasonHostCommand,
			"Image %q is not in the local image store: running command %q on the host", c.Image, spec.Command[0])
	}
	w.eventf(pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	cont, err := w.a.cfg.Runtime.Start(ctx, spec)
	var se *process.StartError
	startErr := false
	switch {
	case errors.As(err, &se):
		// The directory records exit code 128, reason StartError.
		w.eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", se.Message)
		startErr = true
		if cont, err = w.a.cfg.Runtime.Open(rec.Dir); err != nil {
			w.log.Error("open failed container", "container", c.Name, "error", err)
			return now.Add(retryAfter)
		}
	case err != nil:
		if ctx.Err() == nil {
			w.eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
			w.log.Error("start container", "container", c.Name, "error", err)
		}
		// Forget the attempt and its directory (Start has ended whatever
		// it began there), so a retry starts the same attempt afresh
		// rather than finding the directory taken.
		if err := os.RemoveAll(rec.Dir); err != nil {
			w.log.Warn("remove failed attempt", "container", c.Name, "error", err)
		}
		if prev != nil {
			w.st.Containers[c.Name] = prev
		} else {
			delete(w.st.Containers, c.Name)
		}
		w.save()
		return now.Add(retryAfter)
	default:
		w.eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	}
	if old := w.conts[c.Name]; old != nil {
		_ = old.Close()
	}
	w.conts[c.Name] = cont
	w.watch(ctx, cont)
	w.a.metrics.starts.Inc()
	if !startErr {
		w.launchPostStart(ctx, pod, c, rec.ID, cont)
	}
	return time.Time{}
}

// terminatedOf is a finished attempt as the status reports it.
func terminatedOf(id string, s process.Status) *terminated {
	return &terminated{ID: id, ExitCode: s.ExitCode, Reason: s.Reason, Message: s.Message,
		StartedAt: s.StartedAt, FinishedAt: s.FinishedAt}
}

// launch says where a container's program comes from.
type launch struct {
	image   *containerImage // the local store's image; nil if not there
	standIn bool            // neither an image nor a command: the built-in stand-in
}

// spec builds the process to run: argv, environment, working directory.
// An image in the local store supplies what the container leaves out
// (ENTRYPOINT, CMD, ENV, WORKDIR) and its files, unpacked under a root
// directory (no mount namespace: see the package comment). Without it,
// the container's command runs on the host, or the stand-in does.
func (w *worker) spec(ctx context.Context, pod *corev1.Pod, c *corev1.Container, rec *containerRecord) (process.Spec, launch, error) {
	img, err := w.findImage(ctx, pod, c)
	if err != nil {
		return process.Spec{}, launch{}, err
	}
	ip := w.a.nodeIP(ctx)
	env, err := w.env(ctx, pod, c, ip)
	if err != nil {
		return process.Spec{}, launch{}, configError(err)
	}
	lookup := envMap(env)
	command, args := expandAll(c.Command, lookup), expandAll(c.Args, lookup)
	spec := process.Spec{Dir: rec.Dir, Env: env}
	l := launch{image: img}
	switch {
	case img != nil:
		argv := argvFromImage(command, args, img.image.Config)
		if len(argv) == 0 {
			const msg = "no command specified"
			return process.Spec{}, launch{}, &blocked{Reason: reasonCreateContainer, Message: msg, EventReason: "Failed", EventMessage: "Error: " + msg}
		}
		argv[0] = inRoot(img.rootFS, argv[0])
		spec.Command, spec.Args = argv[:1], argv[1:]
		spec.Env = envWithImage(img.image.Config.Env, env, img.rootFS)
	case len(command) > 0:
		spec.Command, spec.Args = command, args
	case len(args) > 0:
		// No image entrypoint to prepend: the args are the argv, as for
		// an image with only CMD (busybox).
		spec.Command, spec.Args = args[:1], args[1:]
	default:
		spec.StandIn, l.standIn = true, true
	}
	wd, base := c.WorkingDir, filepath.Join(w.dir, "root")
	if img != nil {
		base = img.rootFS
		if wd == "" {
			wd = img.image.Config.WorkingDir
		}
		if wd == "" {
			wd = "/" // the image's root, as a container's default working directory
		}
	}
	if wd != "" {
		if img != nil || !filepath.IsAbs(wd) {
			wd = filepath.Join(base, filepath.Clean("/"+wd))
			if err := os.MkdirAll(wd, 0o750); err != nil {
				return process.Spec{}, launch{}, configError(fmt.Errorf("working directory: %w", err))
			}
		}
		spec.WorkingDir = wd
	}
	return spec, l, nil
}

// findContainer returns the pod's container (init or regular) by name.
func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// volumeEnvName is the variable that tells a container where a volume is
// (no mount namespace: see the package comment).
func volumeEnvName(volume string) string {
	r := strings.NewReplacer("-", "_", ".", "_")
	return "TERMINUS_VOLUME_" + strings.ToUpper(r.Replace(volume))
}
