package podworker

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/terminus-project/terminus/internal/agent/images"
)

// TestArgvFromImage: the four cases of "Define a Command and Arguments
// for a Container".
func TestArgvFromImage(t *testing.T) {
	cfg := images.Config{Entrypoint: []string{"/bin/app"}, Cmd: []string{"--serve"}}
	tests := []struct {
		name          string
		command, args []string
		cfg           images.Config
		want          []string
	}{
		{"neither: entrypoint and cmd", nil, nil, cfg, []string{"/bin/app", "--serve"}},
		{"command only: image ignored", []string{"sleep"}, nil, cfg, []string{"sleep"}},
		{"args only: entrypoint with the args", nil, []string{"--debug"}, cfg, []string{"/bin/app", "--debug"}},
		{"both: the container's", []string{"sh", "-c"}, []string{"echo hi"}, cfg, []string{"sh", "-c", "echo hi"}},
		{"cmd only image", nil, nil, images.Config{Cmd: []string{"sh"}}, []string{"sh"}},
		{"nothing at all", nil, nil, images.Config{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := argvFromImage(tt.command, tt.args, tt.cfg); !slices.Equal(got, tt.want) {
				t.Errorf("argv = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEnvWithImage: the container's variables replace the image's of the
// same name; the image's PATH is looked up under the unpacked root first.
func TestEnvWithImage(t *testing.T) {
	tests := []struct {
		name             string
		image, container []string
		want             []string
	}{
		{"image PATH mapped, container wins",
			[]string{"PATH=/usr/bin:/bin", "MODE=image", "KEEP=1"}, []string{"MODE=pod"},
			[]string{"KEEP=1", "PATH=/r/usr/bin:/r/bin:/usr/bin:/bin", "MODE=pod", "TERMINUS_ROOTFS=/r"}},
		{"no image PATH: containerd's default",
			nil, nil,
			[]string{"PATH=/r/usr/local/sbin:/r/usr/local/bin:/r/usr/sbin:/r/usr/bin:/r/sbin:/r/bin:" + defaultImagePath, "TERMINUS_ROOTFS=/r"}},
		{"container PATH left alone",
			[]string{"PATH=/opt/bin"}, []string{"PATH=/mine"},
			[]string{"PATH=/mine", "TERMINUS_ROOTFS=/r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := envWithImage(tt.image, tt.container, "/r"); !slices.Equal(got, tt.want) {
				t.Errorf("env = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "app"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "app", "run"), nil, 0o750); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/app/run":          filepath.Join(root, "app", "run"),
		"/app/../app/run":   filepath.Join(root, "app", "run"),
		"/bin/sh":           "/bin/sh", // not in the image: the host's
		"sleep":             "sleep",   // looked up in PATH
		"/../../../app/run": filepath.Join(root, "app", "run"),
	} {
		if got := inRoot(root, in); got != want {
			t.Errorf("inRoot(%q) = %q, want %q", in, got, want)
		}
	}
}
