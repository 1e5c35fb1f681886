package kubeletapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/terminus-project/terminus/internal/agent/process"
	"github.com/terminus-project/terminus/internal/pki"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// fakePods is the agent for the tests: pods by namespace/name, container
// logs in process's CRI log directories by container ID (read with
// process.WriteLogs, as the agent does), and scripted exec, attach and
// port-forward.
type fakePods struct {
	mu   sync.Mutex
	pods map[string]*corev1.Pod
	// logDirs maps container IDs to log directories.
	logDirs map[string]string
	// exec runs an exec; nil answers exit code 0 without output.
	exec func(ctx context.Context, cmd []string, s Streams) (int, error)
	// forward serves a forwarded connection; nil dials 127.0.0.1:port.
	forward func(ctx context.Context, port int32, stream io.ReadWriter) error
}

func newFakePods() *fakePods {
	return &fakePods{pods: map[string]*corev1.Pod{}, logDirs: map[string]string{}}
}

func (f *fakePods) add(p *corev1.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods[p.Namespace+"/"+p.Name] = p
}

func (f *fakePods) GetPodByName(ns, name string) (*corev1.Pod, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[ns+"/"+name]
	return p, ok
}

func (f *fakePods) ListPods() []*corev1.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*corev1.Pod
	for _, p := range f.pods {
		out = append(out, p)
	}
	return out
}

func (f *fakePods) ContainerLogs(ctx context.Context, _ *corev1.Pod, _, id string, o LogOptions, w io.Writer) error {
	f.mu.Lock()
	dir, ok := f.logDirs[id]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("no log for container %s", id)
	}
	return process.WriteLogs(ctx, dir, process.LogOptions{
		Tail: o.Tail, SinceTime: o.SinceTime, Follow: o.Follow,
		Timestamps: o.Timestamps, LimitBytes: o.LimitBytes, Stream: o.Stream,
	}, w)
}

func (f *fakePods) Exec(ctx context.Context, _ *corev1.Pod, _ string, cmd []string, s Streams) (int, error) {
	if f.exec == nil {
		return 0, nil
	}
	return f.exec(ctx, cmd, s)
}

func (f *fakePods) Attach(ctx context.Context, _ *corev1.Pod, _ string, s Streams) error {
	if f.exec == nil {
		return nil
	}
	_, err := f.exec(ctx, nil, s)
	return err
}

func (f *fakePods) PortForward(ctx context.Context, _ *corev1.Pod, port int32, stream io.ReadWriter) error {
	if f.forward != nil {
		return f.forward(ctx, port, stream)
	}
	return errors.New("no forwarding in this test")
}

// logDir makes a container log directory with the given CRI log content.
func (f *fakePods) logDir(t *testing.T, id, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, process.LogFile), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.logDirs[id] = dir
	f.mu.Unlock()
	return dir
}

// testEnv is a running server and a client presenting the admin
// certificate of the same test CA.
type testEnv struct {
	srv    *Server
	bundle *pki.Bundle
	client *http.Client
	base   string
}

func startServer(t *testing.T, pods Pods, clk clock.Clock) *testEnv {
	t.Helper()
	bundle, err := pki.Ensure(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Address: "127.0.0.1:0", ServingCert: bundle.ServingCert, ClientCAs: bundle.CAPool,
		Pods: pods, Clock: clk, StreamCreationTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: bundle.CAPool, Certificates: []tls.Certificate{bundle.AdminCert},
	}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return &testEnv{srv: srv, bundle: bundle, client: &http.Client{Transport: tr}, base: "https://" + srv.Addr().String()}
}

// get returns the status and body of a GET.
func (e *testEnv) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := e.client.Get(e.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// runningPod is a pod with one container "c" running as attempt "id-1"
// after attempt "id-0" ended.
func runningPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-p"},
		Spec: corev1.PodSpec{
			Containers:     []corev1.Container{{Name: "c"}, {Name: "waiting"}, {Name: "fresh"}},
			InitContainers: []corev1.Container{{Name: "init"}},
		},
		Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{
				Name: "init", ContainerID: "terminus://init-0",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ContainerID: "terminus://init-0"}},
			}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "c", ContainerID: "terminus://id-1",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ContainerID: "terminus://id-0", ExitCode: 1,
				}},
			}, {
				Name:  "waiting",
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
			}, {
				Name: "fresh", ContainerID: "terminus://fresh-0",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			}},
		},
	}
}
