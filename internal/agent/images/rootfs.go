package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// RootFS returns the absolute path of the image's unpacked root filesystem, unpacking it first
// if needed: layers are applied in order with OCI whiteouts. id is anything Get accepts.
//
// The tree is shared by every container of the image; callers must not write into it.
func (s *Store) RootFS(id string) (string, error) {
	rec, err := s.lookup(id)
	if err != nil {
		return "", err
	}
	dst := s.path("rootfs", rec.id.Hex)
	if _, err := os.Lstat(dst); err == nil {
		return dst, nil
	}

	// Unpacking takes a while and needs no lock: it reads immutable blobs and writes into
	// private scratch space. If a Remove deletes the blobs meanwhile, reading fails and the
	// error is returned.
	in, err := s.newIngestion("rootfs")
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp := filepath.Join(in.dir, "rootfs")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", fmt.Errorf("images: unpacking %s: %w", rec.id, err)
	}
	if err := s.unpack(rec, tmp); err != nil {
		return "", fmt.Errorf("images: unpacking %s: %w", rec.id, err)
	}
	size, err := diskUsage(tmp)
	if err != nil {
		return "", fmt.Errorf("images: unpacking %s: %w", rec.id, err)
	}

	unlock, err := s.lock(true)
	if err != nil {
		return "", err
	}
	defer unlock()
	recs, _, err := s.records()
	if err != nil {
		return "", err
	}
	if !containsID(recs, rec.id) {
		return "", fmt.Errorf("%w: %s was removed while unpacking", ErrNotFound, rec.id)
	}
	if _, err := os.Lstat(dst); err == nil {
		// Someone else unpacked it first; theirs is as good as ours.
		return dst, nil
	}
	m, err := s.readMeta(rec.id)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("images: unpacking %s: %w", rec.id, err)
	}
	m.RootFSSize = size
	if err := s.writeMeta(rec.id, m); err != nil {
		return "", err
	}
	s.logger.Info("Unpacked image", "image", rec.id, "path", dst, "bytes", size)
	return dst, nil
}

// lookup resolves ref under a shared lock.
func (s *Store) lookup(ref string) (*record, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	recs, _, err := s.records()
	if err != nil {
		return nil, err
	}
	return resolve(recs, ref)
}

func containsID(recs []*record, id v1.Hash) bool {
	for _, r := range recs {
		if r.id == id {
			return true
		}
	}
	return false
}

func (s *Store) unpack(rec *record, dst string) error {
	lp, err := layout.FromPath(s.dir)
	if err != nil {
		return err
	}
	// Any manifest of the image will do: they share the config, and so the diff IDs.
	img, err := lp.Image(rec.entries[0].desc.Digest)
	if err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := extractTar(context.Background(), rc, dst, s.logger); err != nil {
		return err
	}
	// Extract writes the tar trailer (deferred Close) before it reports a failure such as an
	// unsafe path or a digest mismatch, so the stream can look complete while the error is
	// still waiting in the pipe behind it. Reading on to the pipe's end surfaces it.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	return nil
}

// rootFSExists reports whether id has been unpacked.
func (s *Store) rootFSExists(id v1.Hash) bool {
	_, err := os.Lstat(s.path("rootfs", id.Hex))
	return !errors.Is(err, fs.ErrNotExist)
}
