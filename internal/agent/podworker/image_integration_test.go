package podworker_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/terminus-project/terminus/internal/agent/images"
	"github.com/terminus-project/terminus/internal/agent/process"
	"github.com/terminus-project/terminus/internal/apptest"
)

// imageScript is the entrypoint of the test image: it reports where it
// runs and what it was given, then waits for its image's stop signal
// (SIGQUIT) and exits 0; SIGTERM, not trapped, would end it with 143.
const imageScript = `#!/bin/sh
echo "cwd=$(pwd)"
echo "mode=$MODE from=$FROM root=$TERMINUS_ROOTFS"
echo "args=$*"
echo "data=$(cat data.txt)"
trap 'echo "quit $(date +%s%N)" >> "$RECORD"; exit 0' QUIT
echo "ready $(date +%s%N)" >> "$RECORD"
while :; do sleep 1 & wait; done
`

// buildTestImage builds example.com/app:1 from a directory holding the
// script (in /app) and a data file in its WORKDIR.
func (e *env) buildTestImage() images.Image {
	e.t.Helper()
	dir := e.t.TempDir()
	for name, content := range map[string]string{"app/run.sh": imageScript, "srv/data.txt": "from the image\n"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	img, err := e.images.Build(context.Background(), images.BuildSpec{Dir: dir, Tag: "example.com/app:1", Config: images.Config{
		Entrypoint: []string{"/app/run.sh"}, Cmd: []string{"default-arg"},
		Env: []string{"MODE=image", "FROM=image"}, WorkingDir: "/srv", StopSignal: "SIGQUIT",
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	return img
}

// TestContainerFromLocalImage: an image in the local store supplies the
// entrypoint and cmd, env (the container's wins), working directory and
// files, and its STOPSIGNAL ends the container on delete (G6 step 6);
// the status names the image as the kubelet does; the image is in use
// while the container exists.
func TestContainerFromLocalImage(t *testing.T) {
	e := setup(t)
	img := e.buildTestImage()
	e.startAgent()
	rec := filepath.Join(t.TempDir(), "record")
	pod := e.create(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: e.ns},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{
			Name: "app", Image: "example.com/app:1",
			Env: []corev1.EnvVar{{Name: "MODE", Value: "pod"}, {Name: "RECORD", Value: rec}},
		}}},
	})
	running := e.waitRunning("app")
	recorded(t, rec, "ready")
	e.waitEvent("Pulled", `Container image "example.com/app:1" already present on machine`)
	cs := running.Status.ContainerStatuses[0]
	wantID := img.ID // the repo digest if there is one, as containerd's image ref
	if len(img.RepoDigests) > 0 {
		wantID = img.RepoDigests[0]
	}
	if cs.Image != "example.com/app:1" || cs.ImageID != wantID {
		t.Errorf("status image %q imageID %q, want example.com/app:1 and %s", cs.Image, cs.ImageID, wantID)
	}
	inUse, err := e.images.InUse()
	if err != nil || len(inUse[img.ID]) != 1 {
		t.Errorf("H6: in use %v %v, want one holder of %s", inUse, err, img.ID)
	}

	root, err := e.images.RootFS(img.ID)
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{
		"cwd=" + filepath.Join(root, "srv"),
		"mode=pod from=image root=" + root,
		"args=default-arg",
		"data=from the image",
	}
	dir := filepath.Join(e.root, "pods", string(pod.UID), "containers", "app", "0")
	var logs bytes.Buffer
	apptest.Eventually(t, "the entrypoint's output", func() (bool, error) {
		logs.Reset()
		if err := process.WriteLogs(context.Background(), dir, process.LogOptions{Tail: -1}, &logs); err != nil {
			return false, err
		}
		return strings.Contains(logs.String(), "data="), nil
	})
	for _, want := range wants {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	final := e.watchFinal(ctx, pod)
	e.delete("app", 30)
	recorded(t, rec, "quit")
	e.waitGone("app")
	last := <-final
	if last == nil || last.Status.ContainerStatuses[0].State.Terminated == nil || last.Status.ContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Fatalf("G6: the image's stop signal should end it with 0; final status %+v", last)
	}
	apptest.Eventually(t, "lease released with the pod", func() (bool, error) {
		inUse, err := e.images.InUse()
		return len(inUse[img.ID]) == 0, err
	})
}

// TestImageNeverPull: imagePullPolicy Never with the image absent is
// kubelet's ErrImageNeverPull; an unparsable name is InvalidImageName.
func TestImageNeverPull(t *testing.T) {
	e := setup(t)
	e.startAgent()
	for _, tc := range []struct {
		name, image, reason, event, message string
		policy                              corev1.PullPolicy
	}{
		{"never", "example.com/absent:1", "ErrImageNeverPull", "ErrImageNeverPull", `Container image "example.com/absent:1" is not present with pull policy of Never`, corev1.PullNever},
		{"invalid", "Bad:Name:x", "InvalidImageName", "InspectFailed", `Failed to apply default image tag "Bad:Name:x": couldn't parse image name "Bad:Name:x"`, corev1.PullIfNotPresent},
	} {
		e.create(&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: e.ns},
			Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{
				Name: "c", Image: tc.image, ImagePullPolicy: tc.policy, Command: []string{"sleep", "60"},
			}}},
		})
		e.waitContainer(tc.name, tc.reason, func(_ *corev1.Pod, cs corev1.ContainerStatus) bool {
			return cs.State.Waiting != nil && cs.State.Waiting.Reason == tc.reason && strings.HasPrefix(cs.State.Waiting.Message, tc.message)
		})
		e.waitEvent(tc.event, tc.message)
	}
}

// TestPullImages: with pulls on, an image the store lacks is pulled by
// its policy (kubelet's Pulling and Pulled events) from a registry (here
// go-containerregistry's, in process) and runs; an unreachable registry
// is ErrImagePull, then ImagePullBackOff without another try until the
// back-off has passed.
func TestPullImages(t *testing.T) {
	e := setup(t)
	e.pull = true
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")

	base, err := crane.Image(map[string][]byte{"app/run.sh": []byte("echo pulled app ran in $(pwd)\nexec sleep 60\n")})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Config(base, v1.Config{Cmd: []string{"sh", "run.sh"}, WorkingDir: "/app"})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	e.startAgent()

	pod := e.create(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pulled", Namespace: e.ns},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{
			Name: "app", Image: host + "/app:1", ImagePullPolicy: corev1.PullIfNotPresent,
		}}},
	})
	e.waitRunning("pulled")
	e.waitEvent("Pulling", `Pulling image "`+host+`/app:1"`)
	e.waitEvent("Pulled", `Successfully pulled image "`+host+`/app:1" in `)
	if _, err := e.images.Get(host + "/app:1"); err != nil {
		t.Errorf("the pulled image is not in the store: %v", err)
	}
	dir := filepath.Join(e.root, "pods", string(pod.UID), "containers", "app", "0")
	apptest.Eventually(t, "the pulled image's program runs", func() (bool, error) {
		var logs bytes.Buffer
		err := process.WriteLogs(context.Background(), dir, process.LogOptions{Tail: -1}, &logs)
		return strings.Contains(logs.String(), "pulled app ran in "), err
	})

	e.create(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unreachable", Namespace: e.ns},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{
			Name: "c", Image: "127.0.0.1:1/nothing:1", Command: []string{"sleep", "60"},
		}}},
	})
	e.waitEvent("Failed", `Failed to pull image "127.0.0.1:1/nothing:1"`)
	e.waitContainer("unreachable", "ImagePullBackOff", func(_ *corev1.Pod, cs corev1.ContainerStatus) bool {
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "ImagePullBackOff" &&
			strings.HasPrefix(cs.State.Waiting.Message, `Back-off pulling image "127.0.0.1:1/nothing:1": ErrImagePull: `)
	})
	e.waitEvent("BackOff", `Back-off pulling image "127.0.0.1:1/nothing:1"`)
}
