package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pending is an image on its way into the store.
type pending struct {
	img       v1.Image
	digest    v1.Hash // of the manifest
	mediaType types.MediaType
	size      int64
	manifest  *v1.Manifest
	// refs are the normalized tags to point at the image; none leaves it untagged.
	refs []string
	// repoDigest, if set, is the registry digest to report instead of the manifest digest.
	repoDigest string
}

func newPending(img v1.Image, refs []string) (*pending, error) {
	p := &pending{img: img, refs: refs}
	var err error
	if p.mediaType, err = img.MediaType(); err != nil {
		return nil, fmt.Errorf("reading media type: %w", err)
	}
	if !p.mediaType.IsImage() {
		return nil, fmt.Errorf("unsupported manifest media type %q", p.mediaType)
	}
	if p.digest, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("computing manifest digest: %w", err)
	}
	if p.size, err = img.Size(); err != nil {
		return nil, fmt.Errorf("computing manifest size: %w", err)
	}
	if p.manifest, err = img.Manifest(); err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	return p, nil
}

// ingestion is a scratch directory in ingest/ for one Import, Build or Pull.
type ingestion struct {
	s   *Store
	dir string
}

func (s *Store) newIngestion(kind string) (*ingestion, error) {
	dir, err := os.MkdirTemp(s.path("ingest"), kind+"-")
	if err != nil {
		return nil, fmt.Errorf("images: creating ingest directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "blobs"), 0o755); err != nil {
		return nil, fmt.Errorf("images: creating ingest directory: %w", err)
	}
	return &ingestion{s: s, dir: dir}, nil
}

func (in *ingestion) Close() {
	if err := removeAll(in.dir); err != nil {
		in.s.logger.Warn("Could not clean up ingest directory", "dir", in.dir, "err", err)
	}
}

func (in *ingestion) staged(h v1.Hash) string { return filepath.Join(in.dir, "blobs", h.Hex) }

// stage writes the blobs of p that the store does not have yet, verifying each digest.
func (in *ingestion) stage(ctx context.Context, p *pending) error {
	have := func(h v1.Hash) bool {
		if h.Algorithm != "sha256" {
			return false
		}
		for _, path := range []string{in.staged(h), in.s.blobPath(h)} {
			if _, err := os.Stat(path); err == nil {
				return true
			}
		}
		return false
	}
	put := func(h v1.Hash, open func() (io.ReadCloser, error)) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if h.Algorithm != "sha256" {
			return fmt.Errorf("blob %s: unsupported digest algorithm", h)
		}
		if have(h) {
			return nil
		}
		rc, err := open()
		if err != nil {
			return fmt.Errorf("blob %s: %w", h, err)
		}
		defer rc.Close()
		tmp, err := copyVerified(filepath.Join(in.dir, "blobs"), h, rc)
		if err != nil {
			return fmt.Errorf("blob %s: %w", h, err)
		}
		return os.Rename(tmp, in.staged(h))
	}
	bytesOf := func(f func() ([]byte, error)) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) {
			b, err := f()
			if err != nil {
				return nil, err
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		}
	}
	if err := put(p.digest, bytesOf(p.img.RawManifest)); err != nil {
		return err
	}
	if err := put(p.manifest.Config.Digest, bytesOf(p.img.RawConfigFile)); err != nil {
		return err
	}
	for _, l := range p.manifest.Layers {
		if err := put(l.Digest, func() (io.ReadCloser, error) {
			layer, err := p.img.LayerByDigest(l.Digest)
			if err != nil {
				return nil, err
			}
			return layer.Compressed()
		}); err != nil {
			return err
		}
	}
	return nil
}

// errBlobsVanished means a concurrent Remove deleted a blob that staging had found present.
var errBlobsVanished = errors.New("blobs removed concurrently")

// add stages ps and registers them, retrying when a concurrent Remove deletes a shared blob
// between staging and commit.
func (in *ingestion) add(ctx context.Context, ps []*pending) ([]Image, error) {
	for attempt := 0; ; attempt++ {
		for _, p := range ps {
			if err := in.stage(ctx, p); err != nil {
				return nil, fmt.Errorf("images: writing image %s: %w", p.digest, err)
			}
		}
		imgs, err := in.commit(ps)
		if errors.Is(err, errBlobsVanished) && attempt < 3 {
			continue
		}
		return imgs, err
	}
}

// commit moves the staged blobs into blobs/ and points index.json at the new manifests, all
// under the exclusive lock and in that order, so the index never names a missing blob.
func (in *ingestion) commit(ps []*pending) ([]Image, error) {
	s := in.s
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()

	for _, p := range ps {
		need := []v1.Hash{p.digest, p.manifest.Config.Digest}
		for _, l := range p.manifest.Layers {
			need = append(need, l.Digest)
		}
		for _, h := range need {
			if _, err := os.Stat(s.blobPath(h)); err == nil {
				continue
			}
			if err := os.Rename(in.staged(h), s.blobPath(h)); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("images: %w: %s", errBlobsVanished, h)
				}
				return nil, fmt.Errorf("images: committing blob %s: %w", h, err)
			}
		}
	}
	if err := syncDir(s.path("blobs", "sha256")); err != nil {
		return nil, fmt.Errorf("images: committing blobs: %w", err)
	}

	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	idx = copyIndex(idx)
	for _, p := range ps {
		idx.Manifests = place(idx.Manifests, p)
	}
	if err := s.writeIndex(idx); err != nil {
		return nil, err
	}

	var ids []v1.Hash
	for _, p := range ps {
		id := p.manifest.Config.Digest
		if slices.Contains(ids, id) {
			continue
		}
		ids = append(ids, id)
		if _, err := os.Stat(s.metaPath(id)); errors.Is(err, fs.ErrNotExist) {
			if err := s.writeMeta(id, meta{Created: s.clock.Now()}); err != nil {
				return nil, err
			}
		}
	}

	recs, _, err := s.records()
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(ids))
	for _, id := range ids {
		i := slices.IndexFunc(recs, func(r *record) bool { return r.id == id })
		if i < 0 {
			// A later image in the same archive took every tag of this one and it has
			// no untagged entry either; that cannot happen given place, but be explicit.
			return nil, fmt.Errorf("images: image %s vanished from the index", id)
		}
		img, err := s.image(recs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// place updates index entries for p: each of its tags moves to it (like docker load), an
// image that loses its last tag stays as an untagged entry (so it can still be found, used
// and garbage collected by ID), and an untagged image gets one entry without a name.
func place(entries []v1.Descriptor, p *pending) []v1.Descriptor {
	desc := func(ref string) v1.Descriptor {
		d := v1.Descriptor{MediaType: p.mediaType, Size: p.size, Digest: p.digest}
		if ref != "" {
			d.Annotations = map[string]string{annotationRefName: ref}
			if p.repoDigest != "" {
				d.Annotations[annotationRepoDigest] = p.repoDigest
			}
		}
		return d
	}
	refOf := func(d v1.Descriptor) string { return d.Annotations[annotationRefName] }
	hasDigest := func(h v1.Hash) bool {
		return slices.ContainsFunc(entries, func(d v1.Descriptor) bool { return d.Digest == h })
	}

	for _, ref := range p.refs {
		i := slices.IndexFunc(entries, func(d v1.Descriptor) bool { return refOf(d) == ref })
		if i < 0 {
			entries = append(entries, desc(ref))
			continue
		}
		old := entries[i]
		entries[i] = desc(ref)
		if old.Digest != p.digest && !hasDigest(old.Digest) {
			untagged := old
			untagged.Annotations = nil
			entries = append(entries, untagged)
		}
	}
	if len(p.refs) > 0 {
		// A name now covers the image; a nameless entry for it would only duplicate it.
		return slices.DeleteFunc(entries, func(d v1.Descriptor) bool { return d.Digest == p.digest && refOf(d) == "" })
	}
	if !hasDigest(p.digest) {
		entries = append(entries, desc(""))
	}
	return entries
}
