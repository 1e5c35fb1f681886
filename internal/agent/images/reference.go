package images

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is how containerd and kubelet spell Docker Hub; go-containerregistry says
// "index.docker.io", which would never match what users and pod specs write.
const dockerHub = "docker.io"

// Normalize returns the canonical form of an image reference the way containerd/kubelet show it:
// "busybox" -> "docker.io/library/busybox:latest", "myapp:1" -> "docker.io/library/myapp:1",
// "registry.k8s.io/pause:3.10" unchanged, "x@sha256:..." keeps the digest. Invalid references
// give an error whose message says why (the podworker turns it into kubelet's InvalidImageName
// state).
func Normalize(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("invalid image reference %q: empty", ref)
	}
	if strings.TrimSpace(ref) != ref {
		return "", fmt.Errorf("invalid image reference %q: leading or trailing white space", ref)
	}
	// ParseReference defaults a missing tag to "latest", which is what kubelet does too.
	r, err := name.ParseReference(ref)
	if err != nil {
		// ParseReference only says it could not parse; the specific parser says why.
		if strings.Contains(ref, "@") {
			_, err = name.NewDigest(ref)
		} else {
			_, err = name.NewTag(ref)
		}
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	repo := r.Context()
	registry := repo.RegistryStr()
	if registry == name.DefaultRegistry {
		registry = dockerHub
	}
	base := registry + "/" + repo.RepositoryStr()
	switch r := r.(type) {
	case name.Digest:
		// A reference with both a tag and a digest is pulled by digest; containerd drops the
		// tag the same way.
		return base + "@" + r.DigestStr(), nil
	case name.Tag:
		return base + ":" + r.TagStr(), nil
	default:
		return "", fmt.Errorf("invalid image reference %q: neither a tag nor a digest", ref)
	}
}

// repository strips the tag or digest from a normalized reference.
func repository(normalized string) string {
	if i := strings.IndexByte(normalized, '@'); i >= 0 {
		return normalized[:i]
	}
	// The tag is after the last colon that follows the last slash; a colon before it belongs
	// to a registry port.
	slash := strings.LastIndexByte(normalized, '/')
	if i := strings.LastIndexByte(normalized, ':'); i > slash {
		return normalized[:i]
	}
	return normalized
}
