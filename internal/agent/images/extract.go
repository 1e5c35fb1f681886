package images

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
)

// extractTar unpacks an untrusted tar stream into dir, which must exist.
//
// Everything is written through an os.Root, so nothing can land outside dir whatever the
// archive says; on top of that, the rules below make hostile archives fail loudly instead of
// being silently reshaped:
//   - names with a ".." element are rejected; absolute names are taken relative to dir;
//   - a name whose parent is a symlink is rejected, so an archive cannot plant "a -> /etc"
//     and then write "a/passwd" (os.Root would contain that one, but not "a -> b/c" games
//     that redirect writes between the archive's own files);
//   - hard links must name a regular file inside dir;
//   - device nodes and FIFOs are skipped and ownership is ignored: the agent is not a
//     container runtime with user namespaces, so neither could be honoured safely.
//
// When a name occurs twice the first entry wins, except that a directory entry updates the
// mode of a directory created earlier. That is what the flattened stream of mutate.Extract
// needs (upper layers come first, and a file may precede its parent's directory entry), and
// for an image archive it does not matter since blobs are verified by digest afterwards.
func extractTar(ctx context.Context, r io.Reader, dir string, logger *slog.Logger) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &extractor{root: root, dirModes: map[string]fs.FileMode{}, logger: logger}

	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	return x.finish()
}

type extractor struct {
	root     *os.Root
	dirModes map[string]fs.FileMode
	links    []*tar.Header // hard links whose target was not there yet
	logger   *slog.Logger
}

// cleanName maps a tar name to a path relative to the root; "" is the root itself.
func cleanName(name string) (string, error) {
	if slices.Contains(strings.Split(name, "/"), "..") {
		return "", fmt.Errorf("tar entry %q: path contains \"..\"", name)
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("tar entry %q: path contains NUL", name)
	}
	p := strings.TrimLeft(path.Clean("/"+name), "/")
	return p, nil
}

// mode keeps the permission bits and the sticky bit. setuid and setgid are dropped: without
// chown the file would be owned by the agent's user, and a setuid bit would hand that identity
// to whoever runs it.
func mode(hdr *tar.Header) fs.FileMode {
	m := fs.FileMode(hdr.Mode) & fs.ModePerm
	if hdr.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		if hdr.Typeflag == tar.TypeDir {
			x.dirModes["."] = mode(hdr)
		}
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		x.logger.Debug("Skipping device node in archive", "name", hdr.Name)
		return nil
	default:
		x.logger.Debug("Skipping unsupported tar entry", "name", hdr.Name, "type", string(hdr.Typeflag))
		return nil
	}
	if err := x.parents(name); err != nil {
		return err
	}
	existing, err := x.root.Lstat(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && !existing.IsDir() {
			return nil
		}
		if !exists {
			// Owner-writable until finish, so entries below it can still be created.
			if err := x.root.Mkdir(name, 0o700); err != nil {
				return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
		}
		x.dirModes[name] = mode(hdr)
	case tar.TypeReg:
		if exists {
			return nil
		}
		// O_EXCL also refuses to follow a symlink at name.
		f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
		if err := x.root.Chmod(name, mode(hdr)); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	case tar.TypeSymlink:
		if exists {
			return nil
		}
		// The target is stored, never followed while extracting, so it may point anywhere;
		// it is resolved only inside the container's view of this root.
		if err := x.root.Symlink(hdr.Linkname, name); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	case tar.TypeLink:
		if exists {
			return nil
		}
		done, err := x.link(name, hdr)
		if err != nil {
			return err
		}
		if !done {
			x.links = append(x.links, hdr)
		}
	}
	return nil
}

// parents creates the missing parent directories of name and refuses to go through anything
// that is not a real directory.
func (x *extractor) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fi, err := x.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.root.Mkdir(p, 0o755); err != nil {
				return fmt.Errorf("tar entry %q: %w", name, err)
			}
		case err != nil:
			return fmt.Errorf("tar entry %q: %w", name, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("tar entry %q: refusing to write through symlink %q", name, p)
		case !fi.IsDir():
			return fmt.Errorf("tar entry %q: parent %q is not a directory", name, p)
		}
	}
	return nil
}

// link creates the hard link name -> hdr.Linkname. It reports false when the target does not
// exist yet: in a flattened image the target may come from a lower layer, later in the stream.
func (x *extractor) link(name string, hdr *tar.Header) (bool, error) {
	target, err := cleanName(hdr.Linkname)
	if err != nil || target == "" {
		return false, fmt.Errorf("tar entry %q: hard link to %q leaves the root", hdr.Name, hdr.Linkname)
	}
	if dir := path.Dir(target); dir != "." {
		for p := dir; p != "."; p = path.Dir(p) {
			fi, err := x.root.Lstat(p)
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
			if !fi.IsDir() {
				return false, fmt.Errorf("tar entry %q: hard link target %q goes through a non-directory", hdr.Name, hdr.Linkname)
			}
		}
	}
	fi, err := x.root.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tar entry %q: %w", hdr.Name, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("tar entry %q: hard link target %q is not a regular file", hdr.Name, hdr.Linkname)
	}
	if err := x.root.Link(target, name); err != nil {
		return false, fmt.Errorf("tar entry %q: %w", hdr.Name, err)
	}
	return true, nil
}

func (x *extractor) finish() error {
	for _, hdr := range x.links {
		name, _ := cleanName(hdr.Name)
		if _, err := x.root.Lstat(name); err == nil {
			continue
		}
		done, err := x.link(name, hdr)
		if err != nil {
			return err
		}
		if !done {
			// The target was whited out or shadowed by an upper layer; the link has nothing
			// to share its content with.
			x.logger.Warn("Skipping hard link whose target is not in the archive", "name", hdr.Name, "target", hdr.Linkname)
		}
	}
	// Deepest first, so a read-only directory does not stop its children from being updated.
	dirs := make([]string, 0, len(x.dirModes))
	for d := range x.dirModes {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range dirs {
		if err := x.root.Chmod(d, x.dirModes[d]); err != nil {
			return fmt.Errorf("setting mode of %q: %w", d, err)
		}
	}
	return nil
}
