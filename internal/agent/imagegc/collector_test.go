package imagegc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/terminus-project/terminus/internal/agent/images"
)

// standardImages are 900 bytes of images; their eviction order is c, d, b, a, f; e is in use.
func standardImages() []images.Image {
	return []images.Image{
		img("a", 100, -3*time.Hour, -10*time.Minute),
		img("b", 100, -3*time.Hour, -20*time.Minute),
		img("c", 100, -2*time.Hour, 0), // never used, detected first
		img("d", 100, -1*time.Hour, 0), // never used
		img("e", 300, -3*time.Hour, -1*time.Minute),
		img("f", 200, -3*time.Hour, -5*time.Minute),
	}
}

// youngFirst are images whose eviction order is y (never used, but 1 min old), b, a, f; e is in
// use. 1200 bytes.
func youngFirst() []images.Image {
	var out []images.Image
	for _, im := range standardImages() {
		if im.ID != "c" && im.ID != "d" {
			out = append(out, im)
		}
	}
	return append(out, img("y", 500, -time.Minute, 0))
}

const failedMsg900 = "Insufficient free disk space on the node's image filesystem (90% of 1000 B used). " +
	"Failed to free sufficient space by deleting unused images (freed 600 bytes). " +
	"Investigate disk usage, as it could be used by active images, logs, volumes, or other data."

func TestGarbageCollect(t *testing.T) {
	thresholds := func(high, low int) Policy {
		return Policy{HighThresholdPercent: high, LowThresholdPercent: low, MinAge: 2 * time.Minute}
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		images []images.Image // default: standardImages()
		inUse  []string       // default: e
		// capacity for CapacityStats; stats overrides it.
		capacity int64
		stats    func() (FSStats, error)
		step     time.Duration // clock advance after New
		onRemove func(s *fakeStore) func(id string) error

		wantRemoved []string
		wantAge     int
		wantUsage   int
		wantAmount  int64
		wantErr     string // substring; "" means success
		wantEvents  []string
	}{
		{
			name:      "below the high threshold nothing is removed",
			policy:    DefaultPolicy(),
			capacity:  1100, // 900 used: 82%
			wantUsage: 82,
		},
		{
			name:        "at the high threshold the oldest go until the low threshold",
			policy:      DefaultPolicy(),
			capacity:    1000, // 90%: free 1000×20% − 100 = 100
			wantRemoved: []string{"c"},
			wantUsage:   90,
			wantAmount:  100,
			wantEvents:  []string{"Normal FreedDiskSpace Freed 100 bytes from the image filesystem by deleting 1 unused images"},
		},
		{
			name:        "order is lastUsed then firstDetected",
			policy:      thresholds(85, 50),
			capacity:    1000, // free 500 − 100 = 400
			wantRemoved: []string{"c", "d", "b", "a"},
			wantUsage:   90,
			wantAmount:  400,
			wantEvents:  []string{"Normal FreedDiskSpace Freed 400 bytes from the image filesystem by deleting 4 unused images"},
		},
		{
			name:        "in-use images are never removed; too little freed fails",
			policy:      thresholds(85, 0),
			capacity:    1000, // free 900, only 600 unused
			wantRemoved: []string{"c", "d", "b", "a", "f"},
			wantUsage:   90,
			wantAmount:  900,
			wantErr:     failedMsg900,
			wantEvents: []string{
				"Normal FreedDiskSpace Freed 600 bytes from the image filesystem by deleting 5 unused images",
				"Warning FreeDiskSpaceFailed " + failedMsg900,
			},
		},
		{
			name:   "images younger than MinAge are kept",
			policy: DefaultPolicy(),
			images: youngFirst(),
			// 1200 of 1300: 93%; free 260 − 100 = 160. y comes first but is 1 min old.
			capacity:    1300,
			wantRemoved: []string{"b", "a"},
			wantUsage:   93,
			wantAmount:  160,
			wantEvents:  []string{"Normal FreedDiskSpace Freed 200 bytes from the image filesystem by deleting 2 unused images"},
		},
		{
			name:        "without MinAge a young image goes",
			policy:      Policy{HighThresholdPercent: 85, LowThresholdPercent: 80},
			images:      youngFirst(),
			capacity:    1300,
			wantRemoved: []string{"y"},
			wantUsage:   93,
			wantAmount:  160,
			wantEvents:  []string{"Normal FreedDiskSpace Freed 500 bytes from the image filesystem by deleting 1 unused images"},
		},
		{
			name:   "images used during the pass are kept",
			policy: thresholds(85, 0),
			// z was used after the pass began (a Use racing the pass): last in order, kept.
			images:      append(standardImages(), img("z", 100, -3*time.Hour, time.Nanosecond)),
			capacity:    1100, // 1000 of 1100: 91%; free 1100 − 100
			wantRemoved: []string{"c", "d", "b", "a", "f"},
			wantUsage:   91,
			wantAmount:  1000,
			wantErr:     "Failed to free sufficient space",
			wantEvents: []string{
				"Normal FreedDiskSpace Freed 600 bytes from the image filesystem by deleting 5 unused images",
				"Warning FreeDiskSpaceFailed Insufficient free disk space on the node's image filesystem (91% of 1.1 KiB used). Failed to free sufficient space by deleting unused images (freed 600 bytes). Investigate disk usage, as it could be used by active images, logs, volumes, or other data.",
			},
		},
		{
			name:   "max-age pass removes images unused for longer than MaxAge",
			policy: Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute, MaxAge: time.Hour},
			images: []images.Image{
				img("old-used", 100, -3*time.Hour, -10*time.Minute), // unused 2h10m at t0+2h
				img("old-never", 100, -2*time.Hour, 0),              // arrived 4h ago, never used
				img("new-never", 100, 90*time.Minute, 0),            // arrived 30m ago, never used
				img("recent", 100, -3*time.Hour, 100*time.Minute),   // used 20m ago
				img("busy", 100, -3*time.Hour, -3*time.Hour),        // in use
			},
			inUse:       []string{"busy"},
			capacity:    100000,
			step:        2 * time.Hour,
			wantRemoved: []string{"old-never", "old-used"},
			wantAge:     2,
			wantUsage:   1,
			wantEvents:  []string{"Normal FreedDiskSpace Freed 200 bytes from the image filesystem by deleting 2 unused images"},
		},
		{
			name:      "max-age pass waits until the collector has run longer than MaxAge",
			policy:    Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MaxAge: time.Hour},
			images:    []images.Image{img("old", 100, -5*time.Hour, -4*time.Hour)},
			inUse:     []string{},
			capacity:  100000,
			step:      time.Hour,
			wantUsage: 1,
		},
		{
			name:       "capacity 0",
			policy:     DefaultPolicy(),
			stats:      fixedStats(0, 0),
			wantErr:    "invalid capacity 0 on image filesystem",
			wantEvents: []string{"Warning InvalidDiskCapacity invalid capacity 0 on image filesystem"},
		},
		{
			name:      "high 100 and low 100 on a full disk: no negative amount, no GC (#79929)",
			policy:    Policy{HighThresholdPercent: 100, LowThresholdPercent: 100},
			stats:     fixedStats(1000, 0),
			wantUsage: 100,
		},
		{
			name:      "high 100 turns the space pass off even with a max age",
			policy:    Policy{HighThresholdPercent: 100, LowThresholdPercent: 80, MaxAge: 24 * time.Hour},
			stats:     fixedStats(1000, 0),
			wantUsage: 100,
		},
		{
			name:      "available above capacity counts as capacity",
			policy:    DefaultPolicy(),
			stats:     fixedStats(1000, 5000),
			wantUsage: 0,
		},
		{
			name:     "an image a container started using meanwhile is skipped",
			policy:   DefaultPolicy(),
			capacity: 1000,
			onRemove: func(s *fakeStore) func(string) error {
				return func(id string) error {
					if id == "c" {
						s.use("c", "/run/containers/late")
					}
					return nil
				}
			},
			wantRemoved: []string{"d"},
			wantUsage:   90,
			wantAmount:  100,
			wantEvents:  []string{"Normal FreedDiskSpace Freed 100 bytes from the image filesystem by deleting 1 unused images"},
		},
		{
			name:     "an image removed by someone else is skipped",
			policy:   DefaultPolicy(),
			capacity: 1000,
			onRemove: func(s *fakeStore) func(string) error {
				return func(id string) error {
					if id == "c" {
						return images.ErrNotFound
					}
					return nil
				}
			},
			wantRemoved: []string{"d"},
			wantUsage:   90,
			wantAmount:  100,
			wantEvents:  []string{"Normal FreedDiskSpace Freed 100 bytes from the image filesystem by deleting 1 unused images"},
		},
		{
			name:     "removal errors fail the pass after trying the rest",
			policy:   DefaultPolicy(),
			capacity: 1000,
			onRemove: func(*fakeStore) func(string) error {
				return func(id string) error {
					if id == "c" {
						return errors.New("read-only file system")
					}
					return nil
				}
			},
			wantRemoved: []string{"d"},
			wantUsage:   90,
			wantAmount:  100,
			wantErr:     "wanted to free 100 bytes, but freed 100 bytes space with errors in image deletion: removing image c: read-only file system",
			wantEvents:  []string{"Normal FreedDiskSpace Freed 100 bytes from the image filesystem by deleting 1 unused images"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs := tc.images
			if imgs == nil {
				imgs = standardImages()
			}
			store := newFakeStore(imgs...)
			inUse := tc.inUse
			if inUse == nil {
				inUse = []string{"e"}
			}
			for _, id := range inUse {
				store.use(id, "/run/containers/"+id)
			}
			if tc.onRemove != nil {
				store.onRemove = tc.onRemove(store)
			}
			stats := tc.stats
			if stats == nil {
				stats = CapacityStats(tc.capacity, store)
			}
			c, clk, rec := newTestCollector(t, store, tc.policy, stats)
			clk.Step(tc.step)

			before := store.ids()
			res, err := c.GarbageCollect(context.Background())
			if tc.wantErr == "" && err != nil {
				t.Fatalf("GarbageCollect: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("GarbageCollect: %v, want an error containing %q", err, tc.wantErr)
			}

			if got := store.removals(); !slices.Equal(got, tc.wantRemoved) {
				t.Errorf("store removals = %q, want %q", got, tc.wantRemoved)
			}
			var gotIDs []string
			var freed int64
			for _, im := range res.Removed {
				gotIDs = append(gotIDs, im.ID)
				freed += im.Size
			}
			if !slices.Equal(gotIDs, tc.wantRemoved) {
				t.Errorf("Result.Removed = %q, want %q", gotIDs, tc.wantRemoved)
			}
			if res.FreedBytes != freed {
				t.Errorf("FreedBytes = %d, want %d", res.FreedBytes, freed)
			}
			for _, id := range inUse {
				if !slices.Contains(store.ids(), id) {
					t.Errorf("in-use image %s was removed", id)
				}
			}
			if res.RemovedForAge != tc.wantAge {
				t.Errorf("RemovedForAge = %d, want %d", res.RemovedForAge, tc.wantAge)
			}
			if res.Usage != tc.wantUsage {
				t.Errorf("Usage = %d, want %d", res.Usage, tc.wantUsage)
			}
			if res.AmountToFree != tc.wantAmount {
				t.Errorf("AmountToFree = %d, want %d", res.AmountToFree, tc.wantAmount)
			}
			if res.Images != len(before) {
				t.Errorf("Images = %d, want %d", res.Images, len(before))
			}
			if got := events(rec); !slices.Equal(got, tc.wantEvents) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantEvents, "\n"))
			}
		})
	}
}

func TestFreeSpaceErrorIsTyped(t *testing.T) {
	store := newFakeStore(standardImages()...)
	store.use("e", "/c/e")
	c, _, _ := newTestCollector(t, store, Policy{HighThresholdPercent: 85}, CapacityStats(1000, store))
	_, err := c.GarbageCollect(context.Background())
	var fsErr *FreeSpaceError
	if !errors.As(err, &fsErr) {
		t.Fatalf("error %v is not a *FreeSpaceError", err)
	}
	want := FreeSpaceError{Usage: 90, Capacity: 1000, Wanted: 900, Freed: 600}
	if *fsErr != want {
		t.Errorf("FreeSpaceError = %+v, want %+v", *fsErr, want)
	}
}

// TestInUseRefreshesLastUsed checks H6: an image seen in use at a pass counts as used then, even
// though the store's LastUsed is older, so once released it goes after images used since.
func TestInUseRefreshesLastUsed(t *testing.T) {
	store := newFakeStore(
		img("held", 100, -3*time.Hour, -3*time.Hour), // leased since long ago
		img("other", 100, -3*time.Hour, -time.Hour),
	)
	store.use("held", "/c/held")
	policy := Policy{HighThresholdPercent: 1, LowThresholdPercent: 0, MinAge: time.Minute}
	c, clk, _ := newTestCollector(t, store, policy, fixedStats(1000, 990))

	// First pass: "held" is in use; its lastUsed becomes t0 in memory. "other" would be
	// removed, so make it fail as in use as well for this pass.
	store.onRemove = func(id string) error { return errors.New("not now") }
	if _, err := c.GarbageCollect(context.Background()); err == nil {
		t.Fatal("first pass: want the injected error")
	}
	store.onRemove = nil

	// The container of "held" exits and is removed: its lease goes.
	store.mu.Lock()
	delete(store.inUse, "held")
	store.mu.Unlock()
	clk.Step(5 * time.Minute)

	res, err := c.GarbageCollect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Store LastUsed alone would order held (−3h) before other (−1h); the refresh puts it at
	// t0, after other.
	if got := store.removals(); !slices.Equal(got, []string{"other"}) {
		t.Errorf("removals = %q, want [other]", got)
	}
	_ = res
}

func TestMetrics(t *testing.T) {
	store := newFakeStore(standardImages()...)
	store.use("e", "/c/e")
	reg := prometheus.NewPedanticRegistry()
	c, err := New(Config{
		Store:      store,
		Policy:     Policy{HighThresholdPercent: 85, LowThresholdPercent: 50},
		Stats:      CapacityStats(1000, store),
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GarbageCollect(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"terminus_agent_image_gc_bytes_freed_total":    400,
		"terminus_agent_image_gc_images_removed_total": 4,
		"terminus_agent_images":                        2,
		"terminus_agent_image_fs_usage_percent":        90,
	} {
		if got := gatherValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gatherValue(t, reg, "terminus_agent_image_gc_duration_seconds"); got != 1 {
		t.Errorf("duration histogram counted %v passes, want 1", got)
	}
	if _, err := New(Config{Store: store, Stats: CapacityStats(1000, store), Registerer: reg}); err == nil {
		t.Error("registering twice succeeded")
	}
}

func gatherValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestDebugLogGivesAReasonForEveryImage(t *testing.T) {
	// 960 of 1060 bytes: 91%; free 212 − 100 = 112. young is first but too young, old1 goes,
	// old2 is not needed, busy is in use.
	store := newFakeStore(
		img("young", 10, -time.Minute, 0),
		img("old1", 150, -3*time.Hour, -2*time.Hour),
		img("old2", 100, -3*time.Hour, -time.Hour),
		img("busy", 700, -3*time.Hour, -time.Hour),
	)
	store.use("busy", "/c/busy")
	var buf bytes.Buffer
	c, err := New(Config{
		Store:  store,
		Policy: DefaultPolicy(),
		Stats:  CapacityStats(1060, store),
		Clock:  newFakeClock(),
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GarbageCollect(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	for _, want := range []string{
		`msg="Keeping image: in use" image=busy`,
		`msg="Keeping image: younger than the minimum age" image=young`,
		`msg="Removed image" image=old1`,
		`reason="freeing space"`,
		`msg="Keeping image: enough space freed" image=old2`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("debug log lacks %q:\n%s", want, logs)
		}
	}
}

func TestCancelledPassStops(t *testing.T) {
	store := newFakeStore(standardImages()...)
	c, _, _ := newTestCollector(t, store, Policy{HighThresholdPercent: 85}, CapacityStats(1000, store))
	ctx, cancel := context.WithCancel(context.Background())
	store.onRemove = func(string) error { cancel(); return nil }
	_, err := c.GarbageCollect(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GarbageCollect = %v, want context.Canceled", err)
	}
	if got := store.removals(); len(got) != 1 {
		t.Errorf("removals after cancel = %q, want exactly one", got)
	}
}
