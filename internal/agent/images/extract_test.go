package images

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maliciousCases are tar streams that try to write outside the directory they are unpacked
// in. outside is a directory next to it that must stay empty.
func maliciousCases(outside string) []struct {
	name    string
	entries []tarEntry
	wantErr string
	// dropped: mutate.Extract already drops the offending link from a layer, so unpacking
	// succeeds without it.
	dropped bool
} {
	return []struct {
		name    string
		entries []tarEntry
		wantErr string
		dropped bool
	}{
		{
			name:    "path traversal",
			entries: []tarEntry{{name: "../x", body: "pwned"}},
			wantErr: `".."`,
		},
		{
			name:    "deep path traversal",
			entries: []tarEntry{{name: "a/../../x", body: "pwned"}},
			wantErr: `".."`,
		},
		{
			name: "symlink then file through it",
			entries: []tarEntry{
				{name: "escape", typ: '2', link: outside},
				{name: "escape/x", body: "pwned"},
			},
			wantErr: "symlink",
			// In a layer, a non-directory hides everything below its name.
			dropped: true,
		},
		{
			name: "relative symlink then file through it",
			entries: []tarEntry{
				{name: "escape", typ: '2', link: "../outside"},
				{name: "escape/x", body: "pwned"},
			},
			wantErr: "symlink",
			dropped: true,
		},
		{
			name: "hard link outside",
			entries: []tarEntry{
				{name: "h", typ: '1', link: "../outside/target"},
			},
			wantErr: "leaves the root",
			dropped: true,
		},
		{
			name: "hard link through a symlink",
			entries: []tarEntry{
				{name: "escape", typ: '2', link: outside},
				{name: "h", typ: '1', link: "escape/target"},
			},
			wantErr: "non-directory",
		},
	}
}

func TestExtractRejectsMaliciousArchives(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	mustWrite(t, filepath.Join(outside, "target"), "secret", 0o600)
	for _, tt := range maliciousCases(outside) {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(base, "dst-"+strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			err := extractTar(context.Background(), bytes.NewReader(tarBytes(t, tt.entries...)), dst, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("extractTar = %v, want an error containing %q", err, tt.wantErr)
			}
			assertOnly(t, base, outside, "target")
		})
	}
}

// assertOnly checks nothing appeared in base but the dst-* directories and outside/target.
func assertOnly(t *testing.T, base, outside, want string) {
	t.Helper()
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != want {
		t.Errorf("outside directory now holds %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, want)); string(b) != "secret" {
		t.Errorf("outside/target was changed: %q", b)
	}
	all, _ := os.ReadDir(base)
	for _, e := range all {
		if e.Name() != "outside" && !strings.HasPrefix(e.Name(), "dst-") && !strings.HasPrefix(e.Name(), "images") {
			t.Errorf("unexpected file %s next to the store", e.Name())
		}
	}
}

func TestImportRejectsMaliciousArchives(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	mustWrite(t, filepath.Join(outside, "target"), "secret", 0o600)
	for _, tt := range maliciousCases(outside) {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(filepath.Join(base, "images-"+strings.ReplaceAll(tt.name, " ", "-")), Options{Clock: newClock()})
			if err != nil {
				t.Fatal(err)
			}
			// An OCI archive is unpacked to be read, so the hostile entries come first.
			entries := append(tt.entries,
				tarEntry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
				tarEntry{name: "index.json", body: `{"schemaVersion":2,"manifests":[]}`})
			_, err = s.Import(context.Background(), bytes.NewReader(tarBytes(t, entries...)))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Import = %v, want an error containing %q", err, tt.wantErr)
			}
			assertOnly(t, base, outside, "target")
			if imgs, err := s.List(); err != nil || len(imgs) != 0 {
				t.Errorf("List after a rejected import = %v, %v", imgs, err)
			}
			if ents, _ := os.ReadDir(s.path("ingest")); len(ents) != 0 {
				t.Errorf("ingest/ not cleaned up: %v", ents)
			}
		})
	}
}

func TestRootFSRejectsMaliciousLayers(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	mustWrite(t, filepath.Join(outside, "target"), "secret", 0o600)
	for _, tt := range maliciousCases(outside) {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(filepath.Join(base, "images-"+strings.ReplaceAll(tt.name, " ", "-")), Options{Clock: newClock()})
			if err != nil {
				t.Fatal(err)
			}
			img := imageOf(t, layerOf(t, tt.entries...))
			imported, err := s.Import(context.Background(), bytes.NewReader(dockerArchive(t, map[string]v1.Image{"evil": img})))
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			// mutate.Extract itself drops links that escape by "..", which leaves a harmless
			// tree; anything else must fail, and either way nothing may appear outside.
			_, err = s.RootFS(imported[0].ID)
			assertOnly(t, base, outside, "target")
			if !tt.dropped && err == nil {
				t.Error("RootFS unpacked a hostile layer without error")
			}
			if err != nil {
				if _, statErr := os.Lstat(s.path("rootfs", strings.TrimPrefix(imported[0].ID, "sha256:"))); statErr == nil {
					t.Errorf("a failed unpack (%v) left a rootfs behind", err)
				}
			}
		})
	}
}

func TestExtractSkipsDevicesAndKeepsModes(t *testing.T) {
	dst := t.TempDir()
	archive := tarBytes(t,
		tarEntry{name: "/abs/file", body: "made relative", mode: 0o4755},
		tarEntry{name: "dev/null", typ: '3'},
		tarEntry{name: "fifo", typ: '6'},
		tarEntry{name: "ro/", typ: '5', mode: 0o555},
		tarEntry{name: "ro/inside", body: "x", mode: 0o400},
		tarEntry{name: "tmp/", typ: '5', mode: 0o1777},
		tarEntry{name: "hard", typ: '1', link: "/abs/file"},
	)
	if err := extractTar(context.Background(), bytes.NewReader(archive), dst, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	check := func(p string, want fs.FileMode) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Error(err)
			return
		}
		if got := fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeType); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	check("abs/file", 0o755) // setuid dropped
	check("ro", fs.ModeDir|0o555)
	check("ro/inside", 0o400)
	check("tmp", fs.ModeDir|fs.ModeSticky|0o777)
	check("hard", 0o755)
	for _, p := range []string{"dev/null", "fifo"} {
		if _, err := os.Lstat(filepath.Join(dst, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want it skipped", p, err)
		}
	}
	if err := removeAll(dst); err != nil {
		t.Errorf("removeAll: %v", err)
	}
}

func TestImportMalformed(t *testing.T) {
	s, _ := newStore(t)
	img := imageOf(t, layerOf(t, tarEntry{name: "f", body: "x"}))
	good := dockerArchive(t, map[string]v1.Image{"ok": img})
	tests := map[string][]byte{
		"empty":              nil,
		"not a tar":          []byte("hello"),
		"tar without images": tarBytes(t, tarEntry{name: "README", body: "x"}),
		"truncated":          good[:len(good)/2],
		"bad manifest.json":  tarBytes(t, tarEntry{name: "manifest.json", body: "{"}),
		"manifest without config": tarBytes(t,
			tarEntry{name: "manifest.json", body: `[{"Config":"c.json","RepoTags":["x:1"],"Layers":[]}]`}),
		"bad index.json": tarBytes(t,
			tarEntry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
			tarEntry{name: "index.json", body: `{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../x","size":1}]}`}),
		"missing blob": tarBytes(t,
			tarEntry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
			tarEntry{name: "index.json", body: `{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1}]}`}),
	}
	for name, archive := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Import(context.Background(), bytes.NewReader(archive)); err == nil {
				t.Error("Import succeeded")
			}
		})
	}
	if imgs, err := s.List(); err != nil || len(imgs) != 0 {
		t.Errorf("List after malformed imports = %v, %v", imgs, err)
	}
	checkConsistent(t, s)
}

func FuzzImport(f *testing.F) {
	img := imageOf(f, layerOf(f, tarEntry{name: "f", body: "x"}, tarEntry{name: "l", typ: '2', link: "f"}))
	f.Add(dockerArchive(f, map[string]v1.Image{"a:1": img}))
	f.Add(ociArchive(f, map[string]v1.Image{"example.com/a:1": img}))
	f.Add(tarBytes(f, tarEntry{name: "manifest.json", body: `[{"Config":"c","Layers":["l"]}]`}, tarEntry{name: "c", body: "{}"}))
	f.Add([]byte("not a tar"))
	// One store for all inputs keeps executions fast, and an input that corrupts the store
	// for the next one is a finding too.
	s, _ := newStore(f)
	f.Fuzz(func(t *testing.T, archive []byte) {
		imgs, err := s.Import(context.Background(), bytes.NewReader(archive))
		if err != nil {
			return
		}
		for _, img := range imgs {
			// Whatever got in must be usable or fail cleanly.
			_, _ = s.RootFS(img.ID)
		}
		checkConsistent(t, s)
	})
}
