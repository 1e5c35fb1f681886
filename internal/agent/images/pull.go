package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pull fetches ref from its registry, choosing linux/GOARCH from a multi-platform index, and
// stores it under ref. Registry and network errors are returned wrapped.
func (s *Store) Pull(ctx context.Context, ref string) (Image, error) {
	norm, err := Normalize(ref)
	if err != nil {
		return Image{}, fmt.Errorf("images: pull: %w", err)
	}
	r, err := name.ParseReference(norm)
	if err != nil {
		return Image{}, fmt.Errorf("images: pull %s: %w", norm, err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(platform())}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return Image{}, fmt.Errorf("images: pull %s: %w", norm, err)
	}
	img, err := desc.Image()
	if err != nil {
		return Image{}, fmt.Errorf("images: pull %s: %w", norm, err)
	}

	in, err := s.newIngestion("pull")
	if err != nil {
		return Image{}, err
	}
	defer in.Close()
	// A digest reference is kept as a name of its own (a repo digest, not a tag), as
	// containerd does, so the next lookup by that digest finds the image even when it named
	// a multi-platform index rather than the manifest stored here.
	p, err := newPending(img, []string{norm})
	if err != nil {
		return Image{}, fmt.Errorf("images: pull %s: %w", norm, err)
	}
	if _, byTag := r.(name.Tag); byTag && desc.MediaType.IsIndex() {
		// The index digest is what the registry, and so kubelet's imageID, calls this image.
		p.repoDigest = desc.Digest.String()
	}
	imgs, err := in.add(ctx, []*pending{p})
	if err != nil {
		return Image{}, fmt.Errorf("images: pull %s: %w", norm, err)
	}
	s.logger.Info("Pulled image", "ref", norm, "image", imgs[0].ID)
	return imgs[0], nil
}
