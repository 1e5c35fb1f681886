package imagegc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"github.com/terminus-project/terminus/internal/agent/images"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu      sync.Mutex
	images  map[string]images.Image
	inUse   map[string][]string
	removed []string // IDs, in order
	lists   int      // List calls

	// onRemove, if set, runs before a removal and may fail it.
	onRemove func(id string) error
	listErr  error
}

func newFakeStore(imgs ...images.Image) *fakeStore {
	s := &fakeStore{images: map[string]images.Image{}, inUse: map[string][]string{}}
	for _, img := range imgs {
		s.images[img.ID] = img
	}
	return s
}

func (s *fakeStore) use(id, holder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse[id] = append(s.inUse[id], holder)
}

func (s *fakeStore) List() ([]images.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	if s.listErr != nil {
		return nil, s.listErr
	}
	out := slices.Collect(maps.Values(s.images))
	slices.SortFunc(out, func(a, b images.Image) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *fakeStore) InUse() (map[string][]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.inUse))
	for id, h := range s.inUse {
		out[id] = slices.Clone(h)
	}
	return out, nil
}

func (s *fakeStore) Remove(ref string) (images.Image, error) {
	if s.onRemove != nil {
		if err := s.onRemove(ref); err != nil {
			return images.Image{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img, ok := s.images[ref]
	if !ok {
		return images.Image{}, fmt.Errorf("%w: %s", images.ErrNotFound, ref)
	}
	if h := s.inUse[ref]; len(h) > 0 {
		return images.Image{}, fmt.Errorf("%w: %s is used by %s", images.ErrInUse, ref, strings.Join(h, ", "))
	}
	delete(s.images, ref)
	s.removed = append(s.removed, ref)
	return img, nil
}

func (s *fakeStore) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.images))
}

func (s *fakeStore) removals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.removed)
}

func (s *fakeStore) listCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

// img builds a test image: created and lastUsed are offsets from t0; a zero lastUsed means
// never used.
func img(id string, size int64, created, lastUsed time.Duration) images.Image {
	im := images.Image{ID: id, RepoTags: []string{"example.com/" + id + ":latest"}, Size: size, Created: t0.Add(created)}
	if lastUsed != 0 {
		im.LastUsed = t0.Add(lastUsed)
	}
	return im
}

func newFakeClock() *testclock.FakeClock { return testclock.NewFakeClock(t0) }

func nodeRef() *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: "node-a", UID: "node-a"}
}

// newTestCollector makes a collector on a fake clock at t0 with a fake recorder.
func newTestCollector(t testing.TB, store Store, policy Policy, stats func() (FSStats, error)) (*Collector, *testclock.FakeClock, *record.FakeRecorder) {
	t.Helper()
	clk := testclock.NewFakeClock(t0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Config{
		Store:    store,
		Policy:   policy,
		Stats:    stats,
		Clock:    clk,
		Recorder: rec,
		NodeRef:  nodeRef(),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, clk, rec
}

// events drains the recorder.
func events(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func fixedStats(capacity, available int64) func() (FSStats, error) {
	return func() (FSStats, error) { return FSStats{Capacity: capacity, Available: available}, nil }
}

func TestFakeStoreErrorsMatchTheRealOnes(t *testing.T) {
	s := newFakeStore(img("a", 1, 0, 0))
	s.use("a", "/c1")
	if _, err := s.Remove("a"); !errors.Is(err, images.ErrInUse) {
		t.Errorf("Remove in use: %v", err)
	}
	if _, err := s.Remove("b"); !errors.Is(err, images.ErrNotFound) {
		t.Errorf("Remove missing: %v", err)
	}
}
