package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestNormalize(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in, want string
		wantErr  string
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.37", want: "docker.io/library/busybox:1.37"},
		{in: "myapp:1", want: "docker.io/library/myapp:1"},
		{in: "library/busybox", want: "docker.io/library/busybox:latest"},
		{in: "docker.io/busybox", want: "docker.io/library/busybox:latest"},
		{in: "index.docker.io/library/busybox:1", want: "docker.io/library/busybox:1"},
		{in: "someone/app", want: "docker.io/someone/app:latest"},
		{in: "registry.k8s.io/pause:3.10", want: "registry.k8s.io/pause:3.10"},
		{in: "localhost:5000/app", want: "localhost:5000/app:latest"},
		{in: "x@" + dgst, want: "docker.io/library/x@" + dgst},
		{in: "x:1@" + dgst, want: "docker.io/library/x@" + dgst},
		{in: "", wantErr: "empty"},
		{in: "Busybox", wantErr: "repository can only contain"},
		{in: "busybox:", wantErr: "invalid image reference"},
		{in: "busybox:bad tag", wantErr: "invalid image reference"},
		{in: " busybox", wantErr: "white space"},
		{in: "x@sha256:abc", wantErr: "invalid image reference"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Normalize(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func buildContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "bin", "app"), "#!/bin/sh\necho hi\n", 0o755)
	mustWrite(t, filepath.Join(dir, "etc", "app.conf"), "x=1\n", 0o640)
	mustWrite(t, filepath.Join(dir, "README"), "read me", 0o444)
	if err := os.Symlink("bin/app", filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "etc", "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "empty"), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBuildGetRootFS(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	src := buildContext(t)
	cfg := Config{
		Entrypoint: []string{"/bin/app"},
		Cmd:        []string{"--flag"},
		Env:        []string{"A=1", "PATH=/bin"},
		WorkingDir: "/work",
		StopSignal: "SIGQUIT",
		User:       "1000:1000",
	}
	img, err := s.Build(ctx, BuildSpec{Dir: src, Tag: "myapp:1", Config: cfg})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if diff := cmp.Diff(cfg, img.Config); diff != "" {
		t.Errorf("config round trip (-want +got):\n%s", diff)
	}
	if got, want := img.RepoTags, []string{"docker.io/library/myapp:1"}; !cmp.Equal(got, want) {
		t.Errorf("RepoTags = %v, want %v", got, want)
	}
	if len(img.RepoDigests) != 1 || !strings.HasPrefix(img.RepoDigests[0], "docker.io/library/myapp@sha256:") {
		t.Errorf("RepoDigests = %v", img.RepoDigests)
	}
	if !img.Created.Equal(t0) || !img.LastUsed.IsZero() {
		t.Errorf("Created, LastUsed = %v, %v; want %v and zero", img.Created, img.LastUsed, t0)
	}
	hex := strings.TrimPrefix(img.ID, "sha256:")
	for _, ref := range []string{"myapp:1", "docker.io/library/myapp:1", img.ID, hex, hex[:12], img.RepoDigests[0]} {
		got, err := s.Get(ref)
		if err != nil {
			t.Errorf("Get(%q): %v", ref, err)
			continue
		}
		if diff := cmp.Diff(img, got); diff != "" {
			t.Errorf("Get(%q) (-want +got):\n%s", ref, diff)
		}
	}
	for _, ref := range []string{"myapp:2", "other", hex[:11], "sha256:" + strings.Repeat("0", 64)} {
		if _, err := s.Get(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", ref, err)
		}
	}

	// Same directory, same config, a day later: same bytes, so the same image.
	clk.SetTime(t0.Add(24 * time.Hour))
	again, err := s.Build(ctx, BuildSpec{Dir: src, Tag: "myapp:2", Config: cfg})
	if err != nil {
		t.Fatalf("second Build: %v", err)
	}
	if again.ID != img.ID {
		t.Errorf("rebuilding the same directory gave %s, then %s", img.ID, again.ID)
	}
	if want := []string{"docker.io/library/myapp:1", "docker.io/library/myapp:2"}; !cmp.Equal(again.RepoTags, want) {
		t.Errorf("RepoTags = %v, want %v", again.RepoTags, want)
	}
	if !again.Created.Equal(t0) {
		t.Errorf("Created moved to %v on a re-tag", again.Created)
	}

	root, err := s.RootFS(img.ID)
	if err != nil {
		t.Fatalf("RootFS: %v", err)
	}
	if !filepath.IsAbs(root) || !strings.HasPrefix(root, s.Dir()) {
		t.Errorf("RootFS = %q, want an absolute path in %q", root, s.Dir())
	}
	if diff := cmp.Diff(snapshot(t, src), snapshot(t, root)); diff != "" {
		t.Errorf("rootfs differs from the build context (-want +got):\n%s", diff)
	}
	if again, err := s.RootFS(hex[:12]); err != nil || again != root {
		t.Errorf("second RootFS = %q, %v; want %q", again, err, root)
	}
	unpacked, err := s.Get(img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := img.Size + int64(len("#!/bin/sh\necho hi\n")+len("x=1\n")+len("read me")); unpacked.Size != want {
		t.Errorf("Size after unpack = %d, want %d (blobs %d + files)", unpacked.Size, want, img.Size)
	}
}

func TestBuildSizeIsBlobBytes(t *testing.T) {
	s, _ := newStore(t)
	img, err := s.Build(context.Background(), BuildSpec{Dir: buildContext(t), Tag: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, h := range blobsOf(t, s, img.ID) {
		fi, err := os.Stat(s.blobPath(h))
		if err != nil {
			t.Fatal(err)
		}
		want += fi.Size()
	}
	if img.Size != want {
		t.Errorf("Size = %d, want %d", img.Size, want)
	}
}

func blobsOf(t *testing.T, s *Store, ref string) []v1.Hash {
	t.Helper()
	rec, err := s.lookup(ref)
	if err != nil {
		t.Fatal(err)
	}
	return rec.blobs()
}

func TestImportDocker(t *testing.T) {
	s, _ := newStore(t)
	img := imageOf(t, layerOf(t, tarEntry{name: "hello", body: "world"}))
	archive := dockerArchive(t, map[string]v1.Image{"busybox:1.37": img, "example.com/team/app:v2": img})
	got, err := s.Import(context.Background(), bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	cfg, _ := img.ConfigName()
	if len(got) != 1 || got[0].ID != cfg.String() {
		t.Fatalf("Import = %+v, want one image %s", got, cfg)
	}
	if want := []string{"docker.io/library/busybox:1.37", "example.com/team/app:v2"}; !cmp.Equal(got[0].RepoTags, want) {
		t.Errorf("RepoTags = %v, want %v", got[0].RepoTags, want)
	}
	if diff := cmp.Diff([]string{"/bin/true"}, got[0].Config.Cmd); diff != "" {
		t.Errorf("Cmd: %s", diff)
	}
	root, err := s.RootFS("busybox:1.37")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"hello": "file -rw-r--r-- world"}, snapshot(t, root)); diff != "" {
		t.Errorf("rootfs (-want +got):\n%s", diff)
	}
	checkConsistent(t, s)
}

func TestImportOCIWithWhiteout(t *testing.T) {
	s, _ := newStore(t)
	base := layerOf(t,
		tarEntry{name: "etc/", typ: '5'},
		tarEntry{name: "etc/gone", body: "old"},
		tarEntry{name: "etc/kept", body: "kept", mode: 0o600},
		tarEntry{name: "var/", typ: '5'},
		tarEntry{name: "var/cache/", typ: '5'},
		tarEntry{name: "var/cache/x", body: "x"},
	)
	top := layerOf(t,
		tarEntry{name: "etc/.wh.gone", body: ""},
		tarEntry{name: "var/.wh.cache", body: ""},
		tarEntry{name: "etc/new", body: "new"},
		tarEntry{name: "etc/kept-link", typ: '1', link: "etc/kept"},
	)
	two := imageOf(t, base, top)
	one := imageOf(t, base)
	archive := ociArchive(t, map[string]v1.Image{"registry.example/two:1": two, "": one})
	got, err := s.Import(context.Background(), bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("Import returned %d images, want 2: %+v", len(got), got)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	oneID, _ := one.ConfigName()
	if len(list) != 2 || list[0].ID != oneID.String() || len(list[0].RepoTags) != 0 ||
		!cmp.Equal(list[1].RepoTags, []string{"registry.example/two:1"}) {
		t.Errorf("List = %+v; want the untagged image first, then registry.example/two:1", list)
	}
	manifestDigest, _ := two.Digest()
	if want := []string{"registry.example/two@" + manifestDigest.String()}; !cmp.Equal(list[1].RepoDigests, want) {
		t.Errorf("RepoDigests = %v, want %v", list[1].RepoDigests, want)
	}
	root, err := s.RootFS("registry.example/two:1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"etc":           "dir -rwxr-xr-x",
		"etc/kept":      "file -rw------- kept",
		"etc/kept-link": "file -rw------- kept",
		"etc/new":       "file -rw-r--r-- new",
		"var":           "dir -rwxr-xr-x",
	}
	if diff := cmp.Diff(want, snapshot(t, root)); diff != "" {
		t.Errorf("rootfs (-want +got):\n%s", diff)
	}
	if _, err := s.RootFS(oneID.Hex); err != nil {
		t.Errorf("RootFS of the untagged image: %v", err)
	}
	checkConsistent(t, s)
}

func TestImportMovesTag(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	v1img := imageOf(t, layerOf(t, tarEntry{name: "v", body: "1"}))
	v2img := imageOf(t, layerOf(t, tarEntry{name: "v", body: "2"}))
	first, err := s.Import(ctx, bytes.NewReader(dockerArchive(t, map[string]v1.Image{"app:latest": v1img})))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Import(ctx, bytes.NewReader(dockerArchive(t, map[string]v1.Image{"app": v2img})))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("app")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != second[0].ID {
		t.Errorf("app resolves to %s, want the re-imported %s", got.ID, second[0].ID)
	}
	// Like docker load, the old image stays, untagged, until someone removes it.
	old, err := s.Get(first[0].ID)
	if err != nil {
		t.Fatalf("old image after its tag moved: %v", err)
	}
	if len(old.RepoTags) != 0 {
		t.Errorf("old image still has tags %v", old.RepoTags)
	}
	if _, err := s.Remove(old.ID); err != nil {
		t.Errorf("Remove old: %v", err)
	}
	checkConsistent(t, s)
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	shared := layerOf(t, tarEntry{name: "shared", body: "base"})
	a := imageOf(t, shared, layerOf(t, tarEntry{name: "a", body: "a"}))
	b := imageOf(t, shared, layerOf(t, tarEntry{name: "b", body: "b"}))
	if _, err := s.Import(ctx, bytes.NewReader(dockerArchive(t, map[string]v1.Image{"a:1": a, "a:2": a, "b:1": b}))); err != nil {
		t.Fatal(err)
	}
	aBlobs, bBlobs := blobsOf(t, s, "a:1"), blobsOf(t, s, "b:1")
	if _, err := s.RootFS("a:1"); err != nil {
		t.Fatal(err)
	}

	holder := filepath.Join(t.TempDir(), "container")
	if err := os.Mkdir(holder, 0o755); err != nil {
		t.Fatal(err)
	}
	aImg, _ := s.Get("a:1")
	if err := s.Use("a:2", holder); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("a:1"); !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove of a leased image = %v, want ErrInUse", err)
	}
	// The holder directory vanishing (a container cleaned up without Release) frees it.
	if err := os.Remove(holder); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Remove("a:1")
	if err != nil {
		t.Fatalf("Remove after the holder is gone: %v", err)
	}
	if removed.ID != aImg.ID || !cmp.Equal(removed.RepoTags, []string{"docker.io/library/a:1", "docker.io/library/a:2"}) {
		t.Errorf("Remove returned %+v", removed)
	}
	for _, ref := range []string{"a:1", "a:2", aImg.ID} {
		if _, err := s.Get(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) after Remove = %v, want ErrNotFound", ref, err)
		}
	}
	for _, h := range aBlobs {
		_, err := os.Stat(s.blobPath(h))
		kept := containsHash(bBlobs, h)
		if kept && err != nil {
			t.Errorf("shared blob %s was removed: %v", h, err)
		}
		if !kept && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("blob %s only a used is still there: %v", h, err)
		}
	}
	hex := strings.TrimPrefix(aImg.ID, "sha256:")
	for _, p := range []string{s.path("rootfs", hex), s.path("meta", hex+".json")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Remove: %v", p, err)
		}
	}
	if _, err := s.Get("b:1"); err != nil {
		t.Errorf("b after removing a: %v", err)
	}
	if _, err := s.RootFS("b:1"); err != nil {
		t.Errorf("RootFS(b) after removing a: %v", err)
	}
	if _, err := s.Remove("a:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
	checkConsistent(t, s)
}

func containsHash(hs []v1.Hash, h v1.Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

func TestLeases(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	img, err := s.Build(ctx, BuildSpec{Dir: buildContext(t), Tag: "app"})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := filepath.Join(t.TempDir(), "c1"), filepath.Join(t.TempDir(), "c2")
	for _, c := range []string{c1, c2} {
		if err := os.Mkdir(c, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Use("nope", c1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Use of a missing image = %v, want ErrNotFound", err)
	}
	clk.SetTime(t0.Add(time.Hour))
	if err := s.Use("app", c1); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(t0.Add(2 * time.Hour))
	if err := s.Use(img.ID, c2); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("app")
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastUsed.Equal(t0.Add(2*time.Hour)) || !got.Created.Equal(t0) {
		t.Errorf("Created, LastUsed = %v, %v; want %v, %v", got.Created, got.LastUsed, t0, t0.Add(2*time.Hour))
	}

	inUse, err := s.InUse()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{img.ID: {c1, c2}}, inUse, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("InUse (-want +got):\n%s", diff)
	}
	if err := s.Release(c1); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(c1); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if err := os.Remove(c2); err != nil {
		t.Fatal(err)
	}
	inUse, err = s.InUse()
	if err != nil {
		t.Fatal(err)
	}
	if len(inUse) != 0 {
		t.Errorf("InUse = %v after a release and a vanished holder", inUse)
	}
	if ents, _ := os.ReadDir(s.path("leases")); len(ents) != 0 {
		t.Errorf("stale lease files remain: %v", ents)
	}
}

func TestConcurrentMutations(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	other, err := Open(s.Dir(), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	shared := layerOf(t, tarEntry{name: "shared", body: "shared layer"})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 8 {
		st := s
		if i%2 == 1 {
			st = other // a second process, as far as flock can tell
		}
		dir := t.TempDir()
		mustWrite(t, filepath.Join(dir, "id"), fmt.Sprint(i), 0o644)
		img := imageOf(t, shared, layerOf(t, tarEntry{name: "n", body: fmt.Sprint(i)}))
		archive := dockerArchive(t, map[string]v1.Image{fmt.Sprintf("imported:%d", i): img, "imported:latest": img})
		wg.Go(func() {
			for round := range 3 {
				if _, err := st.Build(ctx, BuildSpec{Dir: dir, Tag: fmt.Sprintf("built:%d", i)}); err != nil {
					errs <- fmt.Errorf("build %d: %w", i, err)
				}
				if _, err := st.Import(ctx, bytes.NewReader(archive)); err != nil {
					errs <- fmt.Errorf("import %d: %w", i, err)
				}
				if _, err := st.RootFS(fmt.Sprintf("imported:%d", i)); err != nil && !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("rootfs %d: %w", i, err)
				}
				if _, err := st.Remove(fmt.Sprintf("imported:%d", (i+round)%8)); err != nil && !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("remove %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// A RootFS racing a Remove of the same image may lose its blobs mid-read; that is
		// an error for the caller, not an inconsistency.
		if strings.HasPrefix(err.Error(), "rootfs") {
			continue
		}
		t.Error(err)
	}
	checkConsistent(t, s)
	for i := range 8 {
		if _, err := s.Get(fmt.Sprintf("built:%d", i)); err != nil {
			t.Errorf("built:%d: %v", i, err)
		}
	}
}

func TestPullUnreachable(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Pull(ctx, "127.0.0.1:1/x:1")
	if err == nil {
		t.Fatal("Pull from an unreachable registry succeeded")
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("Pull took %v to fail", elapsed)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error does not name the registry: %v", err)
	}
	if _, err := s.Pull(ctx, "Bad Ref"); err == nil || !strings.Contains(err.Error(), "invalid image reference") {
		t.Errorf("Pull of an invalid reference = %v", err)
	}
}

func TestOpenRequiresClock(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{}); err == nil {
		t.Error("Open without a clock succeeded")
	}
}

// TestCachedIndexFollowsOtherWriters: a store caches what it parsed, yet
// sees what another store (the CLI's, another process's) writes to the
// same directory, and its own writes.
func TestCachedIndexFollowsOtherWriters(t *testing.T) {
	s1, clk := newStore(t)
	s2, err := Open(s1.Dir(), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	build := func(s *Store, tag string) Image {
		t.Helper()
		dir := t.TempDir()
		mustWrite(t, filepath.Join(dir, "f"), tag, 0o644)
		img, err := s.Build(context.Background(), BuildSpec{Dir: dir, Tag: tag})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	a := build(s1, "a:1")
	if l, err := s1.List(); err != nil || len(l) != 1 {
		t.Fatalf("List: %v %v", l, err)
	}
	build(s2, "b:1")
	if l, err := s1.List(); err != nil || len(l) != 2 {
		t.Fatalf("s1 does not see s2's image: %v %v", l, err)
	}
	if _, err := s2.Remove("a:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Get(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("s1 still finds the image s2 removed: %v", err)
	}
	build(s1, "c:1")
	if l, err := s2.List(); err != nil || len(l) != 2 {
		t.Fatalf("s2 after s1's build: %v %v", l, err)
	}
}
