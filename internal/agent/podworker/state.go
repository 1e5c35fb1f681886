package podworker

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/terminus-project/terminus/internal/agent/grace"
)

const stateFile = "state.json"

// podState is what a worker persists in <pod dir>/state.json: enough to
// resume after an agent restart, and to stop a pod that was deleted while
// the agent was down (G9).
type podState struct {
	// Pod is the pod as last synced (spec, namespace, name, uid).
	Pod *corev1.Pod `json:"pod"`
	// Containers are init and regular containers by name.
	Containers map[string]*containerRecord `json:"containers,omitempty"`
	// InitFailed: an init container failed and will not restart
	// (restartPolicy Never): the pod is Failed.
	InitFailed bool `json:"initFailed,omitempty"`
	// Plan is the stop plan once termination began (G5–G7).
	Plan *grace.Plan `json:"plan,omitempty"`
	// Removed: the pod is gone from the API (G9); no status, no DELETE.
	Removed bool `json:"removed,omitempty"`
	// NodeShutdown is the grace (seconds) of a node shutdown that stops
	// the pod (Agent.Shutdown); nil if none.
	NodeShutdown *int64 `json:"nodeShutdown,omitempty"`
	// DeadlineExceeded: the pod ran longer than activeDeadlineSeconds; it
	// is Failed and its containers are stopped by Plan, but it is not
	// deleted (kubelet's activeDeadlineHandler).
	DeadlineExceeded bool `json:"deadlineExceeded,omitempty"`
}

// containerRecord is one container's attempts.
type containerRecord struct {
	Name string `json:"name"`
	Init bool   `json:"init,omitempty"`
	// Attempt numbers the current attempt from 0; it is the restartCount.
	Attempt int `json:"attempt"`
	// ID is the current attempt's id (containerID terminus://<ID>).
	ID string `json:"id"`
	// Dir is the current attempt's process.Runtime directory.
	Dir string `json:"dir"`
	// Last is the previous attempt's end (lastState.terminated).
	Last *terminated `json:"last,omitempty"`
	// BackOff is the crash-loop back-off entry.
	BackOff backOff `json:"backOff,omitzero"`
	// Image and ImageID are the current attempt's image in the local
	// store (status image and imageID), StopSignal the image's STOPSIGNAL
	// (G6 step 6), kept here so the stop plan has it even if the image
	// is removed meanwhile. Empty when the program is not from an image.
	Image      string `json:"image,omitempty"`
	ImageID    string `json:"imageID,omitempty"`
	StopSignal string `json:"stopSignal,omitempty"`
	// Kill is the current attempt's kill while the pod is not
	// terminating: a failed liveness or startup probe or postStart hook.
	Kill *containerKill `json:"kill,omitempty"`
}

// containerKill is the kill of one container of a running pod (G6 for
// that container alone).
type containerKill struct {
	// Message is the Killing event's message.
	Message string `json:"message"`
	// Restart: the container restarts whatever its exit code (a probe
	// kill under a restartPolicy other than Never), through the usual
	// back-off.
	Restart bool        `json:"restart,omitempty"`
	Plan    *grace.Plan `json:"plan"`
}

// terminated is a finished attempt.
type terminated struct {
	ID         string    `json:"id"`
	ExitCode   int       `json:"exitCode"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// attemptDir is the directory of a container's attempt n.
func attemptDir(podDir, name string, n int) string {
	return filepath.Join(podDir, "containers", name, strconv.Itoa(n))
}

// newID is a container id as containerd makes them: 64 hex digits.
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// saveState writes the state atomically (temporary file, rename), so a
// crash leaves the old state or the new one. It returns what it wrote;
// when that equals last (what the previous call wrote) the file already
// holds it and nothing is written: the worker saves on every pass, most
// of which change nothing.
func saveState(dir string, st *podState, last []byte) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return last, fmt.Errorf("encode pod state: %w", err)
	}
	if bytes.Equal(b, last) {
		return last, nil
	}
	if err := writeState(dir, b); err != nil {
		return last, err
	}
	return b, nil
}

func writeState(dir string, b []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("pod directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+stateFile+".*")
	if err != nil {
		return fmt.Errorf("write pod state: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write pod state: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, stateFile)); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write pod state: %w", err)
	}
	return nil
}

// loadState reads a pod directory's state; (nil, nil) if it has none.
func loadState(dir string) (*podState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pod state: %w", err)
	}
	var st podState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode pod state in %s: %w", dir, err)
	}
	if st.Containers == nil {
		st.Containers = map[string]*containerRecord{}
	}
	return &st, nil
}
