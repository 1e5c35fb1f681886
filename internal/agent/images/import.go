package images

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// annotationContainerdName is where containerd and Docker (25+) put the full image name in
// the archives they export; their org.opencontainers.image.ref.name holds only the tag.
const annotationContainerdName = "io.containerd.image.name"

// Import loads every image and tag of a `docker save` tarball (manifest.json) or an OCI
// image-layout archive (oci-layout + index.json), detected from content. A tag that already
// points at another image moves to the new one, as with docker load. Nothing is registered
// unless the whole archive is valid.
func (s *Store) Import(ctx context.Context, r io.Reader) ([]Image, error) {
	in, err := s.newIngestion("import")
	if err != nil {
		return nil, err
	}
	defer in.Close()

	// Both formats need random access (go-containerregistry reopens the tarball for each
	// blob), so the stream is spooled to disk first.
	archive := filepath.Join(in.dir, "archive.tar")
	if err := spool(ctx, archive, r); err != nil {
		return nil, fmt.Errorf("images: import: %w", err)
	}
	kind, err := detectArchive(archive)
	if err != nil {
		return nil, fmt.Errorf("images: import: %w", err)
	}
	var ps []*pending
	switch kind {
	case archiveOCI:
		ps, err = s.readOCIArchive(ctx, in, archive)
	case archiveDocker:
		ps, err = readDockerArchive(archive)
	}
	if err != nil {
		return nil, fmt.Errorf("images: import: %w", err)
	}
	if len(ps) == 0 {
		return nil, errors.New("images: import: archive holds no image")
	}
	imgs, err := in.add(ctx, ps)
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		s.logger.Info("Imported image", "image", img.ID, "tags", img.RepoTags)
	}
	return imgs, nil
}

func spool(ctx context.Context, dst string, r io.Reader) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ctxReader stops a long copy when the caller gives up.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type archiveKind int

const (
	archiveDocker archiveKind = iota + 1
	archiveOCI
)

// detectArchive prefers the OCI layout when an archive has both, as Docker 25+ writes: the
// layout keeps the registry's manifest digests, manifest.json only the configs.
func detectArchive(archive string) (archiveKind, error) {
	f, err := os.Open(archive)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	seen := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("not a tar archive: %w", err)
		}
		seen[strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")] = true
	}
	switch {
	case seen["oci-layout"] && seen["index.json"]:
		return archiveOCI, nil
	case seen["manifest.json"]:
		return archiveDocker, nil
	default:
		return 0, errors.New("neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)")
	}
}

func readDockerArchive(archive string) ([]*pending, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(archive) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("reading manifest.json: %w", err)
	}
	var ps []*pending
	for i, d := range m {
		var tag *name.Tag
		refs := make([]string, 0, len(d.RepoTags))
		for _, t := range d.RepoTags {
			parsed, err := name.NewTag(t)
			if err != nil {
				return nil, fmt.Errorf("image %d: repo tag %q: %w", i, t, err)
			}
			if tag == nil {
				tag = &parsed
			}
			norm, err := Normalize(t)
			if err != nil {
				return nil, fmt.Errorf("image %d: %w", i, err)
			}
			refs = append(refs, norm)
		}
		if tag == nil && len(m) > 1 {
			// go-containerregistry selects images in a docker archive by tag only.
			return nil, fmt.Errorf("image %d: untagged images are only supported in single-image docker archives", i)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		p, err := newPending(img, refs)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func (s *Store) readOCIArchive(ctx context.Context, in *ingestion, archive string) ([]*pending, error) {
	dir := filepath.Join(in.dir, "layout")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	err = extractTar(ctx, f, dir, s.logger)
	f.Close()
	if err != nil {
		return nil, err
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("parsing index.json: %w", err)
	}
	var ps []*pending
	for _, d := range im.Manifests {
		ref, err := s.archiveRef(d)
		if err != nil {
			return nil, fmt.Errorf("index entry %s: %w", d.Digest, err)
		}
		var refs []string
		if ref != "" {
			refs = []string{ref}
		}
		img, err := imageFor(idx, d)
		if err != nil {
			return nil, fmt.Errorf("index entry %s: %w", d.Digest, err)
		}
		if img == nil {
			s.logger.Info("Skipping image without a manifest for this platform", "digest", d.Digest, "ref", ref)
			continue
		}
		p, err := newPending(img, refs)
		if err != nil {
			return nil, fmt.Errorf("index entry %s: %w", d.Digest, err)
		}
		if d.MediaType.IsIndex() && ref != "" {
			p.repoDigest = d.Digest.String()
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// archiveRef is the normalized name of an index entry, or "" for an untagged one.
func (s *Store) archiveRef(d v1.Descriptor) (string, error) {
	if n := d.Annotations[annotationContainerdName]; n != "" {
		return Normalize(n)
	}
	n := d.Annotations[annotationRefName]
	if n == "" {
		return "", nil
	}
	// The OCI spec lets ref.name be just a tag ("1.37"), which names no repository; such an
	// image is imported untagged rather than under a guessed name.
	if !strings.ContainsAny(n, "/:@") {
		s.logger.Info("Importing image untagged: its ref.name annotation is not a full reference", "refName", n)
		return "", nil
	}
	return Normalize(n)
}

// imageFor returns the image an index entry names, choosing linux/GOARCH from a nested index;
// nil if the index has no such platform.
func imageFor(idx v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	switch {
	case d.MediaType.IsImage():
		return idx.Image(d.Digest)
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, err
		}
		want := platform()
		for _, c := range cm.Manifests {
			if c.MediaType.IsImage() && c.Platform != nil && c.Platform.Satisfies(want) {
				return child.Image(c.Digest)
			}
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("unsupported media type %q", d.MediaType)
	}
}

func platform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}
