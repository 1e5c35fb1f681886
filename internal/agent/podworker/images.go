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

	"github.com/terminus-project/terminus/internal/agent/images"
)

// ImageStore is the local image store (agent/images) as the pod worker
// uses it: find a container's image, its unpacked files, and record which
// container uses which image (image GC never removes one in use, H6).
type ImageStore interface {
	Get(ref string) (images.Image, error)
	Pull(ctx context.Context, ref string) (images.Image, error)
	RootFS(id string) (string, error)
	Use(id, holder string) error
	Release(holder string) error
}

// Event reasons and waiting reasons of kubelet's image manager
// (pkg/kubelet/images) that this agent produces.
const (
	reasonPulled            = "Pulled"
	reasonInspectFailed     = "InspectFailed"
	reasonInvalidImageName  = "InvalidImageName"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonCreateContainer   = "CreateContainerError"
	reasonCreateConfig      = "CreateContainerConfigError"
	reasonPulling           = "Pulling"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	rootFSEnv               = "TERMINUS_ROOTFS"
)

// blocked is why a container cannot be created yet: the waiting state the
// status shows and the event recorded when it first happens (kubelet
// retries on every sync).
type blocked struct {
	Reason, Message string
	// EventReason and EventMessage are the Warning event's.
	EventReason, EventMessage string
}

func (b *blocked) Error() string { return b.Message }

// configError is kubelet's CreateContainerConfigError: a reference the
// container's environment or volumes need is missing.
func configError(err error) *blocked {
	return &blocked{Reason: reasonCreateConfig, Message: err.Error(), EventReason: "Failed", EventMessage: "Error: " + err.Error()}
}

// containerImage is the local image a container runs from.
type containerImage struct {
	image  images.Image
	ref    string // the normalized reference, as status.containerStatuses[].image shows it
	rootFS string
}

// imageID is what status.containerStatuses[].imageID shows: the repo
// digest when the image has one (containerd's ImageRef), else its id.
func (ci *containerImage) imageID() string {
	if len(ci.image.RepoDigests) > 0 {
		return ci.image.RepoDigests[0]
	}
	return ci.image.ID
}

// findImage is kubelet's EnsureImageExists: c's image from the local
// store, pulled first when Config.PullImages is set and the policy asks
// (Always; IfNotPresent with the image absent). nil, nil: the image is
// not there and the agent goes on without it (the host command or the
// stand-in runs, issue 6's rule when pulls are off). A *blocked error: the
// container cannot start yet.
func (w *worker) findImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (*containerImage, error) {
	ref, err := images.Normalize(c.Image)
	if err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: %v", c.Image, c.Image, err)
		return nil, &blocked{Reason: reasonInvalidImageName, Message: msg, EventReason: reasonInspectFailed, EventMessage: msg}
	}
	store := w.a.cfg.Images
	if store == nil {
		return nil, neverPull(c)
	}
	img, err := store.Get(ref)
	present := err == nil
	switch {
	case errors.Is(err, images.ErrNotFound):
	case err != nil:
		return nil, &blocked{Reason: reasonCreateContainer, Message: err.Error(), EventReason: "Failed", EventMessage: "Error: " + err.Error()}
	}
	pull := w.a.cfg.PullImages && (c.ImagePullPolicy == corev1.PullAlways || (!present && c.ImagePullPolicy != corev1.PullNever))
	switch {
	case pull:
		if img, err = w.pull(ctx, pod, c, ref); err != nil {
			return nil, err
		}
	case !present:
		return nil, neverPull(c)
	default:
		w.eventf(pod, corev1.EventTypeNormal, reasonPulled, "Container image %q already present on machine and can be accessed by the pod", c.Image)
	}
	root, err := store.RootFS(img.ID)
	if err != nil {
		msg := fmt.Sprintf("unpack image %s: %v", ref, err)
		return nil, &blocked{Reason: reasonCreateContainer, Message: msg, EventReason: "Failed", EventMessage: "Error: " + msg}
	}
	return &containerImage{image: img, ref: ref, rootFS: root}, nil
}

// neverPull is an absent image: ErrImageNeverPull under policy Never,
// else nil (the agent goes on without the image).
func neverPull(c *corev1.Container) error {
	if c.ImagePullPolicy != corev1.PullNever {
		return nil
	}
	msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
	return &blocked{Reason: reasonErrImageNeverPull, Message: msg, EventReason: reasonErrImageNeverPull, EventMessage: msg}
}

// pull pulls ref for c with kubelet's events and back-off: a failed pull
// is ErrImagePull, and until its back-off (10 s doubling to 5 min, as
// the kubelet's image back-off) has passed the container is in
// ImagePullBackOff without another try.
func (w *worker) pull(ctx context.Context, pod *corev1.Pod, c *corev1.Container, ref string) (images.Image, error) {
	now := w.a.clock.Now()
	if b := w.pullBackOff[ref]; b != nil && now.Before(b.until) {
		msg := fmt.Sprintf("Back-off pulling image %q: %s: %s", c.Image, reasonErrImagePull, b.err)
		w.eventf(pod, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
		return images.Image{}, &blocked{Reason: reasonImagePullBackOff, Message: msg, EventReason: "Failed", EventMessage: "Error: " + reasonImagePullBackOff}
	}
	w.eventf(pod, corev1.EventTypeNormal, reasonPulling, "Pulling image %q", c.Image)
	start := w.a.clock.Now()
	img, err := w.a.cfg.Images.Pull(ctx, ref)
	if err != nil {
		b := w.pullBackOff[ref]
		if b == nil {
			b = &pullBackOff{}
			w.pullBackOff[ref] = b
		}
		b.backOff.next(now)
		b.until, b.err = now.Add(b.backOff.Duration), err.Error()
		w.eventf(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		return images.Image{}, &blocked{Reason: reasonErrImagePull, Message: err.Error(), EventReason: "Failed", EventMessage: "Error: " + reasonErrImagePull}
	}
	delete(w.pullBackOff, ref)
	took := w.a.clock.Since(start).Round(time.Millisecond)
	w.eventf(pod, corev1.EventTypeNormal, reasonPulled, "Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", c.Image, took, took, img.Size)
	return img, nil
}

// pullBackOff is one image's pull back-off.
type pullBackOff struct {
	backOff backOff
	until   time.Time
	err     string
}

// argvFromImage is the program a container from an image runs, by the
// rules of "Define a Command and Arguments for a Container": the
// container's command (with its args) replaces the image's ENTRYPOINT and
// CMD; args alone replace CMD. command and args are already expanded;
// the image's values never are.
func argvFromImage(command, args []string, cfg images.Config) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, cfg.Entrypoint...), args...)
	}
	return append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
}

// envWithImage is the container's environment over the image's: the
// image's variables first, a container variable of the same name
// replacing it (containerd's WithEnv). The image's PATH names directories
// inside the image: without a mount namespace they live under root, so
// PATH lists them there first and then as they are (for the host's own
// tools); a PATH the container sets is left alone.
func envWithImage(imageEnv, containerEnv []string, root string) []string {
	containerSets := map[string]bool{}
	for _, kv := range containerEnv {
		k, _, _ := strings.Cut(kv, "=")
		containerSets[k] = true
	}
	var out []string
	path := defaultImagePath
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case containerSets[k]:
		case k == "PATH":
			path = v
		default:
			out = append(out, kv)
		}
	}
	if !containerSets["PATH"] {
		var dirs []string
		for _, d := range filepath.SplitList(path) {
			if filepath.IsAbs(d) {
				dirs = append(dirs, filepath.Join(root, d))
			}
		}
		dirs = append(dirs, filepath.SplitList(path)...)
		out = append(out, "PATH="+strings.Join(dirs, string(filepath.ListSeparator)))
	}
	out = append(out, containerEnv...)
	return append(out, rootFSEnv+"="+root)
}

// defaultImagePath is the PATH containerd gives a container whose image
// sets none.
const defaultImagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// inRoot maps an absolute path of the image to the unpacked root when the
// file is there: an ENTRYPOINT of /app/server runs root/app/server. Other
// paths (a host path, a name looked up in PATH) are left alone.
func inRoot(root, p string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	q := filepath.Join(root, filepath.Clean(p))
	if _, err := os.Stat(q); err == nil {
		return q
	}
	return p
}

// imageStopSignal is the STOPSIGNAL of the image the container's current
// attempt runs from, empty if none (grace.StopSignal falls back to
// SIGTERM).
func (w *worker) imageStopSignal(name string) string {
	if rec := w.st.Containers[name]; rec != nil {
		return rec.StopSignal
	}
	return ""
}

// releaseImages drops the image leases of every attempt of the pod's
// containers, once their directories are gone.
func (w *worker) releaseImages() {
	store := w.a.cfg.Images
	if store == nil {
		return
	}
	for name, rec := range w.st.Containers {
		for a := 0; a <= rec.Attempt; a++ {
			if err := store.Release(attemptDir(w.dir, name, a)); err != nil {
				w.log.Warn("release image", "container", name, "error", err)
			}
		}
	}
}
