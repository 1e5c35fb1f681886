package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"
)

var (
	// ErrNotFound is returned (wrapped with the reference) when no image matches.
	ErrNotFound = errors.New("image not found")
	// ErrInUse is returned by Remove when a live lease holds the image.
	ErrInUse = errors.New("image is in use")
)

const (
	// annotationRefName is the OCI annotation that names a descriptor in index.json.
	annotationRefName = "org.opencontainers.image.ref.name"
	// annotationRepoDigest records the digest a pulled image had in its registry when that
	// differs from the stored manifest's (a multi-platform index), because that is the digest
	// kubelet reports as the container's imageID.
	annotationRepoDigest = "dev.terminus.image.repo-digest"
)

// Options configures a Store.
type Options struct {
	Clock  clock.PassiveClock // required
	Logger *slog.Logger       // nil: discard
}

// Store is a local image store. It is safe for concurrent use by goroutines and by other
// processes that open the same directory.
type Store struct {
	dir    string
	clock  clock.PassiveClock
	logger *slog.Logger

	// Parsing dominates every call on a store of many images (a GC pass
	// over 1,000 images took seconds per removal), so what was parsed is
	// kept: manifests by digest, since content-addressed blobs never
	// change, and the index for as long as index.json is the same file
	// (it is only ever replaced by rename, so another process's write is
	// a new inode).
	cacheMu   sync.Mutex
	manifests map[v1.Hash]*v1.Manifest
	configs   map[v1.Hash]Config // by config digest, the image ID
	index     *v1.IndexManifest
	indexFile os.FileInfo
}

// Config is the part of an image's configuration that running a container needs.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=VALUE
	WorkingDir string
	StopSignal string // as in the image config, e.g. "SIGQUIT" or "3"
	User       string
}

// Image describes one image in the store.
type Image struct {
	ID          string   // the config digest, "sha256:<hex>" (containerd's image id)
	RepoTags    []string // normalized, e.g. "docker.io/library/busybox:1.37", sorted
	RepoDigests []string // "docker.io/library/busybox@sha256:<manifest digest>", sorted
	// Size is the bytes this image occupies on disk: its blobs (manifest, config, layers) plus
	// its unpacked root filesystem if unpacked.
	Size     int64
	Created  time.Time // when the image entered this store (kubelet's "first detected")
	LastUsed time.Time // the last Use; zero if never used
	Config   Config
}

// Open opens (creating if missing) the store rooted at dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Clock == nil {
		return nil, errors.New("images: Options.Clock is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("images: resolving %q: %w", dir, err)
	}
	s := &Store{dir: abs, clock: opts.Clock, logger: logger}
	for _, sub := range []string{"blobs/sha256", "meta", "leases", "rootfs", "ingest"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("images: creating store: %w", err)
		}
	}
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may be creating the same store; the lock makes the first one win and the
	// rest see its files.
	if _, err := os.Stat(s.path("oci-layout")); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(s.path("oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, fmt.Errorf("images: creating store: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("images: opening store: %w", err)
	}
	if _, err := os.Stat(s.path("index.json")); errors.Is(err, fs.ErrNotExist) {
		if err := s.writeIndex(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}); err != nil {
			return nil, fmt.Errorf("images: creating store: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("images: opening store: %w", err)
	}
	return s, nil
}

// Dir returns the absolute directory the store is rooted at.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

func (s *Store) blobPath(h v1.Hash) string { return s.path("blobs", h.Algorithm, h.Hex) }

// lock takes the store-wide flock. Each call opens its own file description, because flock
// locks belong to the description: goroutines of one process sharing a descriptor would not
// exclude each other. Callers must not nest lock calls.
func (s *Store) lock(exclusive bool) (func(), error) {
	f, err := os.OpenFile(s.path("lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("images: opening lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("images: locking store: %w", err)
	}
	return func() { f.Close() }, nil
}

// readIndex returns index.json parsed. The result is shared with the
// cache: a caller that changes it copies it first (copyIndex).
func (s *Store) readIndex() (*v1.IndexManifest, error) {
	f, err := os.Open(s.path("index.json"))
	if err != nil {
		return nil, fmt.Errorf("images: reading index: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("images: reading index: %w", err)
	}
	s.cacheMu.Lock()
	if s.index != nil && os.SameFile(fi, s.indexFile) && fi.Size() == s.indexFile.Size() && fi.ModTime().Equal(s.indexFile.ModTime()) {
		idx := s.index
		s.cacheMu.Unlock()
		return idx, nil
	}
	s.cacheMu.Unlock()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("images: reading index: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("images: parsing index.json: %w", err)
	}
	s.cacheMu.Lock()
	s.index, s.indexFile = idx, fi
	s.cacheMu.Unlock()
	return idx, nil
}

// copyIndex copies what a mutation changes: the entries and their
// annotations.
func copyIndex(idx *v1.IndexManifest) *v1.IndexManifest {
	cp := *idx
	cp.Manifests = slices.Clone(idx.Manifests)
	for i := range cp.Manifests {
		cp.Manifests[i].Annotations = maps.Clone(cp.Manifests[i].Annotations)
	}
	return &cp
}

func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("images: encoding index: %w", err)
	}
	if err := writeFileAtomic(s.path("index.json"), b, 0o644); err != nil {
		return fmt.Errorf("images: writing index: %w", err)
	}
	// What was written is what the next read would parse; the caller,
	// done with idx, hands it to the cache.
	if fi, err := os.Stat(s.path("index.json")); err == nil {
		s.cacheMu.Lock()
		s.index, s.indexFile = idx, fi
		s.cacheMu.Unlock()
	}
	return nil
}

// meta is what the store knows about an image beyond the OCI layout.
type meta struct {
	Created    time.Time `json:"created"`
	LastUsed   time.Time `json:"lastUsed,omitzero"`
	RootFSSize int64     `json:"rootfsSize,omitempty"`
}

func (s *Store) metaPath(id v1.Hash) string { return s.path("meta", id.Hex+".json") }

func (s *Store) readMeta(id v1.Hash) (meta, error) {
	var m meta
	b, err := os.ReadFile(s.metaPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("images: reading metadata of %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("images: parsing metadata of %s: %w", id, err)
	}
	return m, nil
}

func (s *Store) writeMeta(id v1.Hash, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("images: encoding metadata of %s: %w", id, err)
	}
	if err := writeFileAtomic(s.metaPath(id), b, 0o644); err != nil {
		return fmt.Errorf("images: writing metadata of %s: %w", id, err)
	}
	return nil
}

// entry is one index.json descriptor with its manifest loaded.
type entry struct {
	desc     v1.Descriptor
	manifest *v1.Manifest
}

// record is an image as assembled from the index: every descriptor whose manifest has the
// same config.
type record struct {
	id      v1.Hash
	entries []entry
}

func (r *record) tags() []string {
	var tags []string
	for _, e := range r.entries {
		// A name with a digest is a repo digest, not a tag.
		if t := e.desc.Annotations[annotationRefName]; t != "" && !strings.Contains(t, "@") && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	return tags
}

func (r *record) repoDigests() []string {
	var out []string
	for _, e := range r.entries {
		tag := e.desc.Annotations[annotationRefName]
		if tag == "" {
			continue
		}
		if strings.Contains(tag, "@") {
			if !slices.Contains(out, tag) {
				out = append(out, tag)
			}
			continue
		}
		d := e.desc.Annotations[annotationRepoDigest]
		if d == "" {
			d = e.desc.Digest.String()
		}
		rd := repository(tag) + "@" + d
		if !slices.Contains(out, rd) {
			out = append(out, rd)
		}
	}
	slices.Sort(out)
	return out
}

// blobs returns every blob the record's manifests reference, manifests included.
func (r *record) blobs() []v1.Hash {
	var out []v1.Hash
	add := func(h v1.Hash) {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	for _, e := range r.entries {
		add(e.desc.Digest)
		add(e.manifest.Config.Digest)
		for _, l := range e.manifest.Layers {
			add(l.Digest)
		}
	}
	return out
}

// records loads the index and groups it by image ID, in index order.
func (s *Store) records() ([]*record, *v1.IndexManifest, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, nil, err
	}
	var recs []*record
	byID := map[v1.Hash]*record{}
	for _, d := range idx.Manifests {
		if !d.MediaType.IsImage() {
			s.logger.Warn("Ignoring index entry that is not an image manifest", "digest", d.Digest, "mediaType", d.MediaType)
			continue
		}
		m, err := s.readManifest(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		r := byID[m.Config.Digest]
		if r == nil {
			r = &record{id: m.Config.Digest}
			byID[r.id] = r
			recs = append(recs, r)
		}
		r.entries = append(r.entries, entry{desc: d, manifest: m})
	}
	return recs, idx, nil
}

// readManifest returns the manifest blob h parsed. The result is shared:
// callers must not change it.
func (s *Store) readManifest(h v1.Hash) (*v1.Manifest, error) {
	s.cacheMu.Lock()
	m, ok := s.manifests[h]
	s.cacheMu.Unlock()
	if ok {
		return m, nil
	}
	m, err := s.parseManifest(h)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	if s.manifests == nil {
		s.manifests = map[v1.Hash]*v1.Manifest{}
	}
	s.manifests[h] = m
	s.cacheMu.Unlock()
	return m, nil
}

func (s *Store) parseManifest(h v1.Hash) (*v1.Manifest, error) {
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return nil, fmt.Errorf("images: reading manifest %s: %w", h, err)
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		return nil, fmt.Errorf("images: parsing manifest %s: %w", h, err)
	}
	return m, nil
}

// image turns a record into the public view.
func (s *Store) image(r *record) (Image, error) {
	img := Image{ID: r.id.String(), RepoTags: r.tags(), RepoDigests: r.repoDigests()}
	cfg, err := s.readConfig(r.id)
	if err != nil {
		return Image{}, err
	}
	// The cached config stays the cache's: the caller gets its own slices.
	cfg.Entrypoint, cfg.Cmd, cfg.Env = slices.Clone(cfg.Entrypoint), slices.Clone(cfg.Cmd), slices.Clone(cfg.Env)
	img.Config = cfg
	for _, h := range r.blobs() {
		fi, err := os.Stat(s.blobPath(h))
		if err != nil {
			return Image{}, fmt.Errorf("images: image %s: %w", r.id, err)
		}
		img.Size += fi.Size()
	}
	m, err := s.readMeta(r.id)
	if err != nil {
		return Image{}, err
	}
	img.Created, img.LastUsed = m.Created, m.LastUsed
	if s.rootFSExists(r.id) {
		img.Size += m.RootFSSize
	}
	return img, nil
}

// readConfig returns the image config blob h, parsed once (content
// addressed, it never changes). Callers must not change its slices.
func (s *Store) readConfig(h v1.Hash) (Config, error) {
	s.cacheMu.Lock()
	cfg, ok := s.configs[h]
	s.cacheMu.Unlock()
	if ok {
		return cfg, nil
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return Config{}, fmt.Errorf("images: reading config of %s: %w", h, err)
	}
	cf, err := v1.ParseConfigFile(f)
	f.Close()
	if err != nil {
		return Config{}, fmt.Errorf("images: parsing config of %s: %w", h, err)
	}
	cfg = configFromV1(cf.Config)
	s.cacheMu.Lock()
	if s.configs == nil {
		s.configs = map[v1.Hash]Config{}
	}
	s.configs[h] = cfg
	s.cacheMu.Unlock()
	return cfg, nil
}

func configFromV1(c v1.Config) Config {
	return Config{
		Entrypoint: c.Entrypoint,
		Cmd:        c.Cmd,
		Env:        c.Env,
		WorkingDir: c.WorkingDir,
		StopSignal: c.StopSignal,
		User:       c.User,
	}
}

// List returns every image, sorted by first RepoTag, then ID.
func (s *Store) List() ([]Image, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	recs, _, err := s.records()
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(recs))
	for _, r := range recs {
		img, err := s.image(r)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b Image) int {
		if c := strings.Compare(firstOrEmpty(a.RepoTags), firstOrEmpty(b.RepoTags)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func firstOrEmpty(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// Get finds an image by reference (normalized first), by ID "sha256:<hex>", by bare hex ID or a
// unique hex prefix of at least 12 characters, or by repo digest.
func (s *Store) Get(ref string) (Image, error) {
	// Every container start asks, so Get does not queue behind a long
	// mutation (an image GC pass removes images one lock at a time): it
	// reads without the lock first, which is safe because every file it
	// reads is immutable or replaced by rename, and a mutation removes an
	// image from index.json before its files. Only when a file vanished
	// under it (a concurrent Remove) does it ask again under the lock.
	if img, err := s.get(ref); err == nil || errors.Is(err, ErrNotFound) {
		return img, err
	}
	unlock, err := s.lock(false)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	return s.get(ref)
}

func (s *Store) get(ref string) (Image, error) {
	recs, _, err := s.records()
	if err != nil {
		return Image{}, err
	}
	r, err := resolve(recs, ref)
	if err != nil {
		return Image{}, err
	}
	return s.image(r)
}

// resolve implements Get's lookup rules. IDs are tried before names because a 12+ character
// hex string is also a valid repository name, and CRI clients pass IDs far more often.
func resolve(recs []*record, ref string) (*record, error) {
	if hex, ok := strings.CutPrefix(ref, "sha256:"); ok && isHex(hex) && len(hex) == 64 {
		for _, r := range recs {
			if r.id.Hex == hex {
				return r, nil
			}
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if isHex(ref) && len(ref) >= 12 && len(ref) <= 64 {
		var found *record
		for _, r := range recs {
			if strings.HasPrefix(r.id.Hex, ref) {
				if found != nil {
					return nil, fmt.Errorf("%w: ID prefix %q is ambiguous", ErrNotFound, ref)
				}
				found = r
			}
		}
		if found != nil {
			return found, nil
		}
	}
	norm, err := Normalize(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, ref, err)
	}
	repo, dgst, isDigest := strings.Cut(norm, "@")
	for _, r := range recs {
		for _, e := range r.entries {
			tag := e.desc.Annotations[annotationRefName]
			if tag == norm {
				return r, nil
			}
			if !isDigest {
				continue
			}
			if tag != "" && repository(tag) != repo {
				continue
			}
			// An untagged image still answers to its digest under any name: that is how
			// kubelet asks for an image pinned by digest that was imported without a tag.
			if e.desc.Digest.String() == dgst || e.desc.Annotations[annotationRepoDigest] == dgst {
				return r, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdef") == ""
}

// Remove removes the image ref names (all its tags), its unpacked root filesystem and the blobs
// no other image references. It fails with ErrInUse while a live lease holds the image.
func (s *Store) Remove(ref string) (Image, error) {
	unlock, err := s.lock(true)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	recs, idx, err := s.records()
	if err != nil {
		return Image{}, err
	}
	r, err := resolve(recs, ref)
	if err != nil {
		return Image{}, err
	}
	holders, err := s.liveLeases()
	if err != nil {
		return Image{}, err
	}
	if h := holders[r.id.String()]; len(h) > 0 {
		return Image{}, fmt.Errorf("%w: %s is used by %s", ErrInUse, r.id, strings.Join(h, ", "))
	}
	img, err := s.image(r)
	if err != nil {
		return Image{}, err
	}

	removed := map[v1.Hash]bool{}
	for _, e := range r.entries {
		removed[e.desc.Digest] = true
	}
	idx = copyIndex(idx)
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool { return removed[d.Digest] })
	// The index goes first: a crash after it leaves unreferenced blobs (wasted space), while
	// the other order could leave the index pointing at missing blobs.
	if err := s.writeIndex(idx); err != nil {
		return Image{}, err
	}
	s.cacheMu.Lock()
	for h := range removed {
		delete(s.manifests, h)
	}
	delete(s.configs, r.id)
	s.cacheMu.Unlock()
	keep := map[v1.Hash]bool{}
	for _, other := range recs {
		if other == r {
			continue
		}
		for _, h := range other.blobs() {
			keep[h] = true
		}
	}
	var errs []error
	for _, h := range r.blobs() {
		if keep[h] {
			continue
		}
		if err := os.Remove(s.blobPath(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := s.removeRootFS(r.id); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(s.metaPath(r.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		// The image is gone from the index, so it is removed; only space is left behind.
		s.logger.Warn("Image removed but some of its files were not", "image", r.id, "err", err)
	}
	s.logger.Info("Removed image", "image", r.id, "tags", img.RepoTags)
	return img, nil
}

// removeRootFS moves the root filesystem out of rootfs/ before deleting it, so that a crash or
// error midway never leaves a partial tree where RootFS would hand it out.
func (s *Store) removeRootFS(id v1.Hash) error {
	dst := s.path("rootfs", id.Hex)
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	trash, err := os.MkdirTemp(s.path("ingest"), "trash-")
	if err != nil {
		return fmt.Errorf("images: removing root filesystem of %s: %w", id, err)
	}
	if err := os.Rename(dst, filepath.Join(trash, "rootfs")); err != nil {
		return fmt.Errorf("images: removing root filesystem of %s: %w", id, err)
	}
	if err := removeAll(trash); err != nil {
		return fmt.Errorf("images: removing root filesystem of %s: %w", id, err)
	}
	return nil
}

// copyVerified copies r to a new file in dir and checks the content has digest want. It
// returns the file's path; the caller renames it into place.
func copyVerified(dir string, want v1.Hash, r io.Reader) (string, error) {
	f, err := os.CreateTemp(dir, "blob-")
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	got, _, err := v1.SHA256(io.TeeReader(r, f))
	if err != nil {
		return "", err
	}
	if got != want {
		return "", fmt.Errorf("content has digest %s, expected %s", got, want)
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ok = true
	return f.Name(), nil
}
