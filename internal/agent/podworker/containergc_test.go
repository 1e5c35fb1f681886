package podworker

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/agent/containergc"
	"github.com/terminus-project/terminus/internal/agent/process"
)

// gcFixture is an Agent (not running) over a root of pod directories
// whose containers are real exited (or running) processes.
type gcFixture struct {
	t  *testing.T
	a  *Agent
	rt *process.Runtime
}

func newGCFixture(t *testing.T, p containergc.Policy) *gcFixture {
	t.Helper()
	rt, err := process.New(process.Config{Logger: slog.New(slog.DiscardHandler), Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Client: fake.NewClientset(), NodeName: "n", Runtime: rt, RootDir: t.TempDir(),
		ContainerGC: &p, Recorder: record.NewFakeRecorder(10)})
	if err != nil {
		t.Fatal(err)
	}
	return &gcFixture{t: t, a: a, rt: rt}
}

// container runs one attempt of pod/name: "true" exits at once, "sleep"
// keeps running until the test ends.
func (f *gcFixture) container(pod, name string, attempt int, program string) string {
	f.t.Helper()
	dir := attemptDir(f.a.podDir(ktypes.UID(pod)), name, attempt)
	cmd := []string{"true"}
	if program == "sleep" {
		cmd = []string{"sleep", "60"}
	}
	c, err := f.rt.Start(context.Background(), process.Spec{Dir: dir, Command: cmd})
	if err != nil {
		f.t.Fatal(err)
	}
	if program == "sleep" {
		f.t.Cleanup(func() {
			_ = c.Kill()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = c.Wait(ctx)
			_ = c.Close()
		})
		return dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Wait(ctx); err != nil {
		f.t.Fatal(err)
	}
	_ = c.Close()
	return dir
}

// remaining lists the attempt directories left, as pod/name/attempt.
func (f *gcFixture) remaining() []string {
	dirs, _ := filepath.Glob(filepath.Join(f.a.podsDir(), "*", "containers", "*", "*"))
	var out []string
	for _, d := range dirs {
		rel, _ := filepath.Rel(f.a.podsDir(), d)
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

// TestGarbageCollectContainers: a pass removes dead containers by the
// policy (H3) and keeps each container's newest attempt, which the pod's
// status is reported from; a running attempt is never dead.
func TestGarbageCollectContainers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  containergc.Policy
		removed int
		want    []string
	}{
		{"defaults: the newest dead instance stays", containergc.DefaultPolicy(), 2,
			[]string{"a/containers/c/2", "b/containers/d/0", "b/containers/d/1"}},
		{"none kept: only the newest attempts stay", containergc.Policy{MaxPerPodContainer: 0, MaxContainers: -1}, 3,
			[]string{"a/containers/c/2", "b/containers/d/1"}},
		{"minimum age not reached: nothing goes", containergc.Policy{MinAge: time.Hour, MaxPerPodContainer: 0, MaxContainers: -1}, 0,
			[]string{"a/containers/c/0", "a/containers/c/1", "a/containers/c/2", "b/containers/d/0", "b/containers/d/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newGCFixture(t, tc.policy)
			for i := range 3 {
				f.container("a", "c", i, "true")
			}
			f.container("b", "d", 0, "true")
			f.container("b", "d", 1, "sleep")
			res, err := f.a.GarbageCollectContainers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Dead != 4 || res.Removed != tc.removed {
				t.Errorf("result %+v, want 4 dead, %d removed", res, tc.removed)
			}
			if got := f.remaining(); !slices.Equal(got, tc.want) {
				t.Errorf("left %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCleanDeadInstances is H4: when a container dies and restarts, its
// older dead instances beyond max(MaxPerPodContainer, 1) go at once.
func TestCleanDeadInstances(t *testing.T) {
	f := newGCFixture(t, containergc.Policy{MaxPerPodContainer: 0, MaxContainers: -1, MinAge: time.Hour})
	for i := range 4 {
		f.container("a", "c", i, "true")
	}
	w := &worker{a: f.a, uid: ktypes.UID("a"), dir: f.a.podDir(ktypes.UID("a")), log: slog.New(slog.DiscardHandler)}
	w.cleanDeadInstances("c")
	if got, want := f.remaining(), []string{"a/containers/c/" + strconv.Itoa(3)}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if _, err := os.Stat(attemptDir(w.dir, "c", 3)); err != nil {
		t.Error(err)
	}
}

// BenchmarkContainerGC10000 times one container GC pass over 10,000 dead
// containers (1,000 pods, 10 dead instances each, copies of one real
// dead container's directory): the default policy keeps the newest of
// each, so 9,000 go.
func BenchmarkContainerGC10000(b *testing.B) {
	f := newGCFixture(&testing.T{}, containergc.DefaultPolicy())
	seed := f.container("seed", "c", 0, "true")
	files, err := os.ReadDir(seed)
	if err != nil {
		b.Fatal(err)
	}
	contents := map[string][]byte{}
	for _, e := range files {
		if data, err := os.ReadFile(filepath.Join(seed, e.Name())); err == nil {
			contents[e.Name()] = data
		}
	}
	if err := os.RemoveAll(f.a.podsDir()); err != nil {
		b.Fatal(err)
	}
	populate := func() {
		for p := range 1000 {
			for at := range 10 {
				dir := attemptDir(f.a.podDir(ktypes.UID("pod-"+strconv.Itoa(p))), "c", at)
				if err := os.MkdirAll(dir, 0o750); err != nil {
					b.Fatal(err)
				}
				for name, data := range contents {
					if err := os.WriteFile(filepath.Join(dir, name), data, 0o640); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	for b.Loop() {
		b.StopTimer()
		populate()
		b.StartTimer()
		res, err := f.a.GarbageCollectContainers(context.Background())
		if err != nil || res.Dead != 10000 || res.Removed != 9000 {
			b.Fatalf("pass: %+v %v", res, err)
		}
	}
}
