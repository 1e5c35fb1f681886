package images

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BuildSpec describes an image built from a directory.
type BuildSpec struct {
	Dir    string // directory whose contents become the image's one layer
	Tag    string // NAME[:TAG], normalized
	Config Config
}

// Build makes an image of one gzip layer holding spec.Dir and tags it spec.Tag. The layer is
// deterministic (sorted entries, uid/gid 0, fixed times), so the same directory and config
// give the same ID; modes and symlinks are kept.
func (s *Store) Build(ctx context.Context, spec BuildSpec) (Image, error) {
	ref, err := Normalize(spec.Tag)
	if err != nil {
		return Image{}, fmt.Errorf("images: build: %w", err)
	}
	if strings.Contains(ref, "@") {
		return Image{}, fmt.Errorf("images: build: %q is a digest reference; a build needs a tag", spec.Tag)
	}
	if _, err := os.Stat(spec.Dir); err != nil {
		return Image{}, fmt.Errorf("images: build: %w", err)
	}
	in, err := s.newIngestion("build")
	if err != nil {
		return Image{}, err
	}
	defer in.Close()

	layerPath := filepath.Join(in.dir, "layer.tar.gz")
	if err := s.writeLayer(ctx, spec.Dir, layerPath); err != nil {
		return Image{}, fmt.Errorf("images: build: %w", err)
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return Image{}, fmt.Errorf("images: build: %w", err)
	}
	img, err := buildImage(layer, spec.Config)
	if err != nil {
		return Image{}, fmt.Errorf("images: build: %w", err)
	}
	p, err := newPending(img, []string{ref})
	if err != nil {
		return Image{}, fmt.Errorf("images: build: %w", err)
	}
	imgs, err := in.add(ctx, []*pending{p})
	if err != nil {
		return Image{}, err
	}
	s.logger.Info("Built image", "image", imgs[0].ID, "tag", ref, "dir", spec.Dir)
	return imgs[0], nil
}

func buildImage(layer v1.Layer, c Config) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	p := platform()
	base, err := mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: c.Entrypoint,
			Cmd:        c.Cmd,
			Env:        c.Env,
			WorkingDir: c.WorkingDir,
			StopSignal: c.StopSignal,
			User:       c.User,
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{CreatedBy: "terminus image build"},
	})
}

// writeLayer writes dir as a gzipped tar to dst. Times, owners and gzip header fields are
// fixed so the bytes, and so the digests, depend only on names, modes and contents.
func (s *Store) writeLayer(ctx context.Context, dir, dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	epoch := time.Unix(0, 0).UTC()

	// WalkDir visits entries in lexical order, which is what makes the archive reproducible.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		case info.IsDir(), info.Mode().IsRegular():
		default:
			s.logger.Debug("Skipping special file in build context", "path", p, "mode", info.Mode())
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		n, err := io.Copy(tw, src)
		if err != nil {
			return err
		}
		if n != hdr.Size {
			return fmt.Errorf("%s changed size while building", p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}
