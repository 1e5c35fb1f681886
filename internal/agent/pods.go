package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/agent/kubeletapi"
	"github.com/terminus-project/terminus/internal/agent/podworker"
	"github.com/terminus-project/terminus/internal/agent/process"
)

// kubeletPods is what the kubelet API serves, taken from the pod workers
// (which pods, which container attempt is where) and the runtime (logs,
// commands in containers).
type kubeletPods struct {
	pods    *podworker.Agent
	runtime *process.Runtime
}

var _ kubeletapi.Pods = (*kubeletPods)(nil)

func (k *kubeletPods) GetPodByName(namespace, name string) (*corev1.Pod, bool) {
	return k.pods.PodByName(namespace, name)
}

func (k *kubeletPods) ListPods() []*corev1.Pod { return k.pods.Pods() }

func (k *kubeletPods) ContainerLogs(ctx context.Context, pod *corev1.Pod, container, containerID string, opts kubeletapi.LogOptions, w io.Writer) error {
	dir, err := k.pods.ContainerDir(pod, container, containerID)
	if errors.Is(err, podworker.ErrContainerNotFound) && containerID != "" {
		// The kubelet's words when the runtime no longer has the
		// container (collected by container GC).
		return fmt.Errorf("unable to retrieve container logs for %s", containerID)
	}
	if err != nil {
		return err
	}
	return process.WriteLogs(ctx, dir, process.LogOptions(opts), w)
}

// open re-attaches to the running attempt of a container, for a command
// run in it; the caller closes it. A container that never started or has
// exited is the kubelet's "container not found", without the agent's
// paths.
func (k *kubeletPods) open(pod *corev1.Pod, container string) (*process.Container, error) {
	notFound := fmt.Errorf("container not found (%q)", container)
	dir, err := k.pods.ContainerDir(pod, container, "")
	if errors.Is(err, podworker.ErrContainerNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	c, err := k.runtime.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		_ = c.Close()
		return nil, notFound
	}
	return c, nil
}

// Exec runs the command with the container's environment and working
// directory, streaming stdin, stdout and stderr (one terminal with TTY).
func (k *kubeletPods) Exec(ctx context.Context, pod *corev1.Pod, container string, cmd []string, s kubeletapi.Streams) (int, error) {
	c, err := k.open(pod, container)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	spec := process.ExecStreamSpec{Command: cmd, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, TTY: s.TTY}
	if s.Resize != nil {
		resize := make(chan process.TerminalSize)
		spec.Resize = resize
		go func() {
			defer close(resize)
			for size := range s.Resize {
				select {
				case resize <- process.TerminalSize(size):
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return k.runtime.ExecStream(ctx, c, spec)
}

// Attach streams the container's output from now on. Containers run with
// stdin on /dev/null, so attaching stdin is refused.
func (k *kubeletPods) Attach(ctx context.Context, pod *corev1.Pod, container string, s kubeletapi.Streams) error {
	c, err := k.open(pod, container)
	if err != nil {
		return err
	}
	defer c.Close()
	err = k.runtime.Attach(ctx, c, s.Stdin, s.Stdout, s.Stderr)
	if errors.Is(err, process.ErrAttachStdin) {
		return process.ErrAttachStdin // without the container's directory
	}
	return err
}

// PortForward connects to the port on the loopback address: pods use the
// host's network, and the kubelet dials localhost inside the pod's
// network namespace too.
func (k *kubeletPods) PortForward(ctx context.Context, _ *corev1.Pod, port int32, stream io.ReadWriter) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("failed to connect to localhost:%d: %w", port, err)
	}
	defer conn.Close()
	// The client's end of input is passed on as a half-close; the
	// forwarding ends when the pod's side is done answering (or ctx).
	// Returning closes conn, which ends the copy from the client; the
	// server closes stream.
	go func() { _, _ = io.Copy(conn, stream); closeWrite(conn) }()
	answered := make(chan struct{})
	go func() { _, _ = io.Copy(stream, conn); close(answered) }()
	select {
	case <-answered:
	case <-ctx.Done():
	}
	return nil
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
