package images

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// lease records that a container directory uses an image. It is keyed by the holder rather
// than the image so that Release needs nothing but the holder, and so that a container whose
// directory is deleted without a Release (a crash, a manual rm -rf) can be recognised as stale.
type lease struct {
	Image  string `json:"image"`
	Holder string `json:"holder"`
}

func (s *Store) leasePath(holder string) string {
	sum := sha256.Sum256([]byte(holder))
	return s.path("leases", hex.EncodeToString(sum[:])+".json")
}

// Use records that holder (a container directory path) uses the image id (anything Get
// accepts), replacing any lease holder had, and sets the image's LastUsed to now.
func (s *Store) Use(id, holder string) error {
	if holder == "" {
		return errors.New("images: use: empty holder")
	}
	holder = filepath.Clean(holder)
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	recs, _, err := s.records()
	if err != nil {
		return err
	}
	r, err := resolve(recs, id)
	if err != nil {
		return err
	}
	b, err := json.Marshal(lease{Image: r.id.String(), Holder: holder})
	if err != nil {
		return fmt.Errorf("images: use: %w", err)
	}
	if err := writeFileAtomic(s.leasePath(holder), b, 0o644); err != nil {
		return fmt.Errorf("images: use: %w", err)
	}
	m, err := s.readMeta(r.id)
	if err != nil {
		return err
	}
	m.LastUsed = s.clock.Now()
	if m.Created.IsZero() {
		m.Created = m.LastUsed
	}
	return s.writeMeta(r.id, m)
}

// Release drops holder's lease. Releasing a holder without a lease is not an error.
func (s *Store) Release(holder string) error {
	holder = filepath.Clean(holder)
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.leasePath(holder)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("images: release %s: %w", holder, err)
	}
	return nil
}

// InUse returns image ID -> holders of live leases. A lease whose holder path no longer exists
// is stale: it is dropped and not reported.
func (s *Store) InUse() (map[string][]string, error) {
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.liveLeases()
}

// liveLeases reads every lease, deleting stale ones. The caller holds the exclusive lock.
func (s *Store) liveLeases() (map[string][]string, error) {
	ents, err := os.ReadDir(s.path("leases"))
	if err != nil {
		return nil, fmt.Errorf("images: reading leases: %w", err)
	}
	out := map[string][]string{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := s.path("leases", e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("images: reading lease: %w", err)
		}
		var l lease
		if err := json.Unmarshal(b, &l); err != nil || l.Holder == "" {
			s.logger.Warn("Dropping unreadable lease", "file", p, "err", err)
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("images: dropping lease: %w", err)
			}
			continue
		}
		// Only a definite "does not exist" makes a lease stale; on any other error keeping
		// an image a little longer is the safe mistake.
		if _, err := os.Lstat(l.Holder); errors.Is(err, fs.ErrNotExist) {
			s.logger.Info("Dropping stale image lease", "holder", l.Holder, "image", l.Image)
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("images: dropping lease: %w", err)
			}
			continue
		}
		out[l.Image] = append(out[l.Image], l.Holder)
	}
	for _, h := range out {
		slices.Sort(h)
	}
	return out, nil
}
