package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// terminusCmd runs the terminus binary with args and returns its output
// and exit error.
func terminusCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	c := exec.CommandContext(ctx, terminusBin, args...)
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return out.String(), err
}

// TestImageBuildAndRun: a user builds an image into serve's agent's store
// with `terminus image build`, runs a pod from it with kubectl, and the
// image supplies the program, its files, its working directory and its
// stop signal (G6 step 6); the store shows it in use (H6), refuses to
// remove it while a container uses it, and the Node lists it.
func TestImageBuildAndRun(t *testing.T) {
	t.Parallel()
	s := startServerWithAgent(t, "--storage=memory")
	k := pathKubectl(t)
	c := k.on(t, s)
	root := filepath.Join(s.dataDir, "agent")
	marks := t.TempDir()

	src := t.TempDir()
	script := "#!/bin/sh\n" +
		`trap 'echo "$1" >> ` + filepath.Join(marks, "signal") + `; exit 0' INT` + "\n" +
		`echo "hello from $(pwd) with $(cat greeting.txt)"` + "\n" +
		"while :; do sleep 0.1; done\n"
	if err := os.MkdirAll(filepath.Join(src, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "app", "run.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "app", "greeting.txt"), []byte("the image's file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := terminusCmd(t, "image", "build", "--root-dir", root, "--from-dir", src, "--tag", "hello:1",
		"--entrypoint", `["/app/run.sh"]`, "--cmd", "SIGINT", "--workdir", "/app", "--stop-signal", "SIGINT")
	if err != nil || !strings.Contains(out, "docker.io/library/hello:1") {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	if out, err := terminusCmd(t, "image", "ls", "--root-dir", root); err != nil || !strings.Contains(out, "docker.io/library/hello:1") || !strings.Contains(out, "never") {
		t.Fatalf("image ls: %v\n%s", err, out)
	}

	c.ok("run", "hello", "--image=hello:1", "--image-pull-policy=Never")
	c.ok("wait", "--for=condition=Ready", "pod/hello", "--timeout=60s")
	eventually(t, podWait, func() error {
		logs := c.ok("logs", "hello")
		if !strings.Contains(logs, "hello from "+root) || !strings.Contains(logs, "/app with the image's file") {
			return errNotYet("logs: " + logs)
		}
		return nil
	})
	if img := c.ok("get", "pod", "hello", "-o", "jsonpath={.status.containerStatuses[0].image}"); img != "docker.io/library/hello:1" {
		t.Errorf("status image %q, want the normalized name", img)
	}
	if out, err := terminusCmd(t, "image", "ls", "--root-dir", root); err != nil || !strings.Contains(out, "yes (1)") {
		t.Errorf("H6: image ls should show it in use: %v\n%s", err, out)
	}
	if out, err := terminusCmd(t, "image", "rm", "--root-dir", root, "hello:1"); err == nil || !strings.Contains(out, "in use") {
		t.Errorf("image rm of an image in use: %v\n%s", err, out)
	}
	eventually(t, podWait, func() error {
		if names := c.ok("get", "nodes", "-o", "jsonpath={.items[0].status.images[*].names}"); !strings.Contains(names, "docker.io/library/hello:1") {
			return errNotYet("node status.images: " + names)
		}
		return nil
	})

	c.ok("delete", "pod", "hello")
	got, err := os.ReadFile(filepath.Join(marks, "signal"))
	if err != nil || strings.TrimSpace(string(got)) != "SIGINT" {
		t.Errorf("G6: the image's stop signal should have ended the program: %q %v", got, err)
	}
	eventually(t, podWait, func() error {
		out, err := terminusCmd(t, "image", "rm", "--root-dir", root, "hello:1")
		if err != nil {
			return errNotYet("image rm: " + out)
		}
		return nil
	})
	if out, err := terminusCmd(t, "image", "ls", "--root-dir", root); err != nil || strings.Contains(out, "hello") {
		t.Errorf("image ls after rm: %v\n%s", err, out)
	}
}

// TestNodeGarbageCollection: the agent collects dead containers and
// unused images by the kubelet's rules, configured with its flags:
// `kubectl logs --previous` shows a restarted container's last instance
// until container GC removes it after --minimum-container-ttl-duration
// (H2, H3; H4 keeps it at the restart), and image GC removes an unused
// image, never the one a pod uses, once usage crosses the high threshold
// of a small --image-fs-capacity (H5–H7), with an event on the Node.
func TestNodeGarbageCollection(t *testing.T) {
	t.Parallel()
	s := startServerWithAgent(t, "--storage=memory",
		"--container-gc-period=1s", "--minimum-container-ttl-duration=3s", "--maximum-dead-containers-per-container=0",
		"--image-gc-period=1s", "--image-fs-capacity=500Ki", "--image-gc-high-threshold=50", "--image-gc-low-threshold=45",
		"--minimum-image-ttl-duration=8s")
	k := pathKubectl(t)
	c := k.on(t, s)
	root := filepath.Join(s.dataDir, "agent")

	t.Run("dead container kept, then collected after its TTL", func(t *testing.T) {
		c := k.on(t, s)
		mark := filepath.Join(t.TempDir(), "ran")
		script := `echo "run $(date +%s%N)"; if [ ! -e ` + mark + ` ]; then touch ` + mark + `; exit 1; fi; sleep 3600`
		c.runIn(podManifest("crashonce", "Always", 1, script), nil, "apply", "-f", "-")
		eventually(t, podWait, func() error {
			if n := c.ok("get", "pod", "crashonce", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"); n != "1" {
				return errNotYet("restartCount " + n)
			}
			return nil
		})
		if r := c.run("logs", "crashonce", "--previous"); r.code != 0 || !strings.HasPrefix(r.stdout, "run ") {
			t.Fatalf("H4: logs --previous right after the restart: %s", r)
		}
		eventually(t, podWait, func() error {
			r := c.run("logs", "crashonce", "--previous")
			if r.code == 0 {
				return errNotYet("the dead instance is still there")
			}
			if !strings.Contains(r.stderr, "unable to retrieve container logs for terminus://") {
				t.Fatalf("logs --previous once collected: %s", r)
			}
			return nil
		})
		if out := c.ok("logs", "crashonce"); !strings.HasPrefix(out, "run ") {
			t.Errorf("the running instance's log is kept: %q", out)
		}
		c.ok("delete", "pod", "crashonce", "--grace-period=1")
	})

	t.Run("unused image collected above the threshold, the used one kept", func(t *testing.T) {
		build := func(tag string, size int) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "app", "run.sh"), []byte("#!/bin/sh\nexec sleep 3600\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			noise := make([]byte, size) // incompressible, so the layer is as big as the file
			if _, err := rand.Read(noise); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "app", "data"), noise, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := terminusCmd(t, "image", "build", "--root-dir", root, "--from-dir", dir, "--tag", tag, "--entrypoint", "/app/run.sh"); err != nil {
				t.Fatalf("image build %s: %v\n%s", tag, err, out)
			}
		}
		build("used:1", 100<<10)
		c.ok("run", "user", "--image=used:1", "--image-pull-policy=Never")
		build("unused:1", 200<<10)
		c.ok("wait", "--for=condition=Ready", "pod/user", "--timeout=60s")
		eventually(t, podWait, func() error {
			out, err := terminusCmd(t, "image", "ls", "--root-dir", root)
			if err != nil {
				return err
			}
			if strings.Contains(out, "unused:1") {
				return errNotYet("unused:1 still there")
			}
			if !strings.Contains(out, "docker.io/library/used:1") {
				t.Fatalf("H6: the image in use was removed:\n%s", out)
			}
			return nil
		})
		eventually(t, podWait, func() error {
			if out := c.ok("describe", "node"); !strings.Contains(out, "FreedDiskSpace") {
				return errNotYet("no FreedDiskSpace event on the node")
			}
			return nil
		})
		c.ok("delete", "pod", "user", "--grace-period=1")
	})
}
