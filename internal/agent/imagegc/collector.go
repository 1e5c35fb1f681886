package imagegc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/agent/images"
)

// DefaultPeriod is the time between passes: the kubelet's ImageGCPeriod (H1).
const DefaultPeriod = 5 * time.Minute

// Event reasons recorded on the Node. All but ReasonFreedDiskSpace are the kubelet's
// (k8s pkg/kubelet/events).
const (
	ReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed"
	ReasonInvalidDiskCapacity = "InvalidDiskCapacity"
	ReasonImageGCFailed       = "ImageGCFailed"
	// ReasonFreedDiskSpace is ours: a Normal event for a pass that removed images.
	ReasonFreedDiskSpace = "FreedDiskSpace"
)

// Store is what the collector needs from the image store; *images.Store implements it.
type Store interface {
	// List returns every image with its size, Created and LastUsed.
	List() ([]images.Image, error)
	// InUse returns image ID -> holders of live leases.
	InUse() (map[string][]string, error)
	// Remove removes an image, failing with images.ErrInUse while a lease holds it.
	Remove(ref string) (images.Image, error)
}

var _ Store = (*images.Store)(nil)

// Config configures a Collector.
type Config struct {
	Store Store // required
	// Policy is the GC policy. The zero Policy, which configuration validation rejects
	// (its low threshold is not below its high one), stands for DefaultPolicy().
	Policy Policy
	// Stats reports the image filesystem. nil: statfs(2) of StatfsPath.
	Stats func() (FSStats, error)
	// StatfsPath is a path on the image filesystem, used when Stats is nil. Empty: the
	// store's directory, if the Store has a Dir() string method (*images.Store does).
	StatfsPath string
	// Period is the time between passes. 0: DefaultPeriod (H1).
	Period time.Duration
	// Clock is the time source. nil: the real clock.
	Clock clock.Clock
	// Logger receives the collector's logs; every keep/remove decision at debug level.
	// nil: discard.
	Logger *slog.Logger
	// Recorder records events on NodeRef. nil: no events.
	Recorder record.EventRecorder
	// NodeRef is the Node events are recorded on: kind Node, its name, and UID = the name,
	// as the kubelet does. Required with a Recorder.
	NodeRef *corev1.ObjectReference
	// Registerer receives the collector's metrics. nil: no metrics.
	Registerer prometheus.Registerer
}

// Collector is the image garbage collector. Its methods are safe for concurrent use; passes
// never overlap.
type Collector struct {
	store    Store
	policy   Policy
	stats    func() (FSStats, error)
	period   time.Duration
	clock    clock.Clock
	log      *slog.Logger
	recorder record.EventRecorder
	nodeRef  *corev1.ObjectReference
	metrics  *metrics
	// started is when the collector was made. The max-age pass waits until MaxAge has
	// passed since then (H7 step 2): just after a restart, lastUsed may be stale because no
	// container has been started from an image yet, and removing it would be premature.
	started time.Time

	mu sync.Mutex // serializes passes; guards records
	// records holds, per image ID, what the collector has seen beyond the store: the time
	// it last saw the image in use (H6).
	records map[string]*imageRecord
}

type imageRecord struct {
	lastSeenInUse time.Time
	// firstSeen stands in for firstDetected when the store does not know when the image
	// arrived (metadata lost): like the kubelet after a restart, the collector counts from
	// when it first saw the image.
	firstSeen time.Time
}

// Result reports what a pass did.
type Result struct {
	// Removed are the images removed, in removal order: the max-age pass's first.
	Removed []images.Image
	// RemovedForAge is how many of Removed the max-age pass removed.
	RemovedForAge int
	// FreedBytes is the sum of the Removed images' sizes.
	FreedBytes int64
	// Images is how many images the store held when the pass began; InUse how many of
	// them had a live lease.
	Images, InUse int
	// Usage is the image filesystem's usage in percent as H7 computes it, Capacity and
	// Available the figures it came from. They are read after the max-age pass, as the
	// kubelet does, and are zero if the pass did not get that far.
	Usage               int
	Capacity, Available int64
	// AmountToFree is what the space pass set out to free; 0 if it had nothing to do.
	AmountToFree int64
}

// FreeSpaceError is returned by a pass whose space pass could not free enough (H7 step 4).
// Its message is the kubelet's FreeDiskSpaceFailed event message.
type FreeSpaceError struct {
	Usage    int   // percent used when the space pass began
	Capacity int64 // bytes
	Wanted   int64 // bytes the space pass set out to free
	Freed    int64 // bytes it freed
}

func (e *FreeSpaceError) Error() string {
	return fmt.Sprintf("Insufficient free disk space on the node's image filesystem (%d%% of %s used). "+
		"Failed to free sufficient space by deleting unused images (freed %d bytes). "+
		"Investigate disk usage, as it could be used by active images, logs, volumes, or other data.",
		e.Usage, formatSize(e.Capacity), e.Freed)
}

// InvalidCapacityError is returned by a pass when the image filesystem reports no capacity
// (H7 step 5).
type InvalidCapacityError struct {
	Capacity int64
}

func (e *InvalidCapacityError) Error() string {
	return fmt.Sprintf("invalid capacity %d on image filesystem", e.Capacity)
}

// New returns a collector. It checks the policy as the kubelet's image manager does (ranges,
// low ≤ high), not as its configuration validation does; see Policy.Validate.
func New(cfg Config) (*Collector, error) {
	if cfg.Store == nil {
		return nil, errors.New("imagegc: Config.Store is required")
	}
	policy := cfg.Policy
	if policy == (Policy{}) {
		policy = DefaultPolicy()
	}
	if err := policy.check(); err != nil {
		return nil, fmt.Errorf("imagegc: invalid policy: %w", err)
	}
	if cfg.Period < 0 {
		return nil, fmt.Errorf("imagegc: invalid Period %v", cfg.Period)
	}
	if cfg.Recorder != nil && cfg.NodeRef == nil {
		return nil, errors.New("imagegc: Config.NodeRef is required with a Recorder")
	}
	stats := cfg.Stats
	if stats == nil {
		path := cfg.StatfsPath
		if path == "" {
			d, ok := cfg.Store.(interface{ Dir() string })
			if !ok {
				return nil, errors.New("imagegc: Config.Stats or Config.StatfsPath is required")
			}
			path = d.Dir()
		}
		stats = statfsStats(path)
	}
	c := &Collector{
		store:    cfg.Store,
		policy:   policy,
		stats:    stats,
		period:   cfg.Period,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		recorder: cfg.Recorder,
		nodeRef:  cfg.NodeRef,
		metrics:  newMetrics(),
		records:  map[string]*imageRecord{},
	}
	if c.period == 0 {
		c.period = DefaultPeriod
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	c.started = c.clock.Now()
	return c, nil
}

// Policy returns the policy in force (DefaultPolicy() if the Config left it zero).
func (c *Collector) Policy() Policy { return c.policy }

// Run runs a pass at once and then every Period after the previous one ended, until ctx ends;
// it then returns nil. If the policy is Disabled it returns nil at once, as the kubelet does
// not start image GC then (H5). A failed pass is logged and never ends Run; the second failure
// in a row, and each one after, also records an ImageGCFailed Warning on the Node, as the
// kubelet does (the first may be stats not being ready yet).
func (c *Collector) Run(ctx context.Context) error {
	if c.policy.Disabled() {
		c.log.InfoContext(ctx, "Image garbage collection is disabled: imageGCHighThresholdPercent is 100 and imageMaximumGCAge is 0")
		return nil
	}
	prevFailed := false
	for {
		_, err := c.collect(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && prevFailed:
			c.log.ErrorContext(ctx, "Image garbage collection failed multiple times in a row", "err", err)
			c.event(corev1.EventTypeWarning, ReasonImageGCFailed, err.Error())
		case err != nil:
			c.log.ErrorContext(ctx, "Image garbage collection failed once", "err", err)
		case prevFailed:
			c.log.InfoContext(ctx, "Image garbage collection succeeded")
		default:
			c.log.DebugContext(ctx, "Image garbage collection succeeded")
		}
		prevFailed = err != nil

		t := c.clock.NewTimer(c.period)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// GarbageCollect runs one pass now (H7) and reports what it did; Result is filled in as far as
// the pass got, also on error. A pass that could not free enough returns a *FreeSpaceError, one
// that found no capacity an *InvalidCapacityError; both are also recorded as Warning events.
func (c *Collector) GarbageCollect(ctx context.Context) (Result, error) {
	res, err := c.collect(ctx)
	if err != nil {
		return res, fmt.Errorf("imagegc: %w", err)
	}
	return res, nil
}

// collect is GarbageCollect without the package prefix on errors, which Run records in
// ImageGCFailed events as the kubelet does: the message is the pass's own.
func (c *Collector) collect(ctx context.Context) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	began := c.clock.Now()
	var res Result
	err := c.pass(ctx, began, &res)
	c.metrics.duration.Observe(c.clock.Since(began).Seconds())

	if n := len(res.Removed); n > 0 {
		c.event(corev1.EventTypeNormal, ReasonFreedDiskSpace,
			fmt.Sprintf("Freed %d bytes from the image filesystem by deleting %d unused images", res.FreedBytes, n))
	}
	var fsErr *FreeSpaceError
	var capErr *InvalidCapacityError
	switch {
	case errors.As(err, &fsErr):
		c.event(corev1.EventTypeWarning, ReasonFreeDiskSpaceFailed, fsErr.Error())
	case errors.As(err, &capErr):
		c.event(corev1.EventTypeWarning, ReasonInvalidDiskCapacity, capErr.Error())
	}
	if err != nil {
		return res, err
	}
	if len(res.Removed) > 0 {
		c.log.InfoContext(ctx, "Image garbage collection freed space", "images", len(res.Removed), "bytes", res.FreedBytes, "usage", res.Usage)
	}
	return res, nil
}

// candidate is an image that is not in use, with the times H7 orders it by.
type candidate struct {
	img           images.Image
	firstDetected time.Time
	lastUsed      time.Time
}

func (c *Collector) pass(ctx context.Context, now time.Time, res *Result) error {
	// Leases first: a container that starts after this reads will have a LastUsed after
	// now, and the space pass skips it (H7 step 3, "used during this round"), and Remove
	// refuses it anyway while it holds its lease.
	inUse, err := c.store.InUse()
	if err != nil {
		return fmt.Errorf("listing images in use: %w", err)
	}
	imgs, err := c.store.List()
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	res.Images = len(imgs)
	defer func() { c.metrics.images.Set(float64(len(imgs) - len(res.Removed))) }()

	cands := c.detect(ctx, now, imgs, inUse)
	res.InUse = len(imgs) - len(cands)

	cands, err = c.freeOldImages(ctx, now, cands, res)
	if err != nil {
		return err
	}
	return c.freeSpace(ctx, now, cands, res)
}

// detect updates the records from the store and returns the candidates in eviction order:
// lastUsed ascending, then firstDetected ascending (H7 step 1), then ID so that the order is
// stable.
func (c *Collector) detect(ctx context.Context, now time.Time, imgs []images.Image, inUse map[string][]string) []candidate {
	seen := make(map[string]bool, len(imgs))
	cands := make([]candidate, 0, len(imgs))
	for _, img := range imgs {
		seen[img.ID] = true
		rec := c.records[img.ID]
		if rec == nil {
			rec = &imageRecord{firstSeen: now}
			c.records[img.ID] = rec
		}
		if holders := inUse[img.ID]; len(holders) > 0 {
			// H6: refreshed on every pass while in use. Kept in memory only: the
			// store's LastUsed means "a container last started", which a pass
			// must not rewrite.
			rec.lastSeenInUse = now
			c.debug(ctx, "Keeping image: in use", img, "reason", "in use", "holders", strings.Join(holders, ","))
			continue
		}
		cd := candidate{img: img, firstDetected: img.Created, lastUsed: img.LastUsed}
		if cd.firstDetected.IsZero() {
			cd.firstDetected = rec.firstSeen
		}
		if rec.lastSeenInUse.After(cd.lastUsed) {
			cd.lastUsed = rec.lastSeenInUse
		}
		cands = append(cands, cd)
	}
	for id := range c.records {
		if !seen[id] {
			delete(c.records, id)
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if d := a.lastUsed.Compare(b.lastUsed); d != 0 {
			return d
		}
		if d := a.firstDetected.Compare(b.firstDetected); d != 0 {
			return d
		}
		return strings.Compare(a.img.ID, b.img.ID)
	})
	return cands
}

// freeOldImages is the max-age pass (H7 step 2). It returns the candidates it kept.
func (c *Collector) freeOldImages(ctx context.Context, now time.Time, cands []candidate, res *Result) ([]candidate, error) {
	maxAge := c.policy.MaxAge
	if maxAge == 0 {
		return cands, nil
	}
	if running := now.Sub(c.started); running <= maxAge {
		c.log.DebugContext(ctx, "Skipping the max-age pass: the collector has not been running longer than the maximum age", "running", running, "maxAge", maxAge)
		return cands, nil
	}
	kept := cands[:0:0]
	var errs []error
	for i, cd := range cands {
		// The kubelet measures from lastUsed alone, which it leaves zero for an image it
		// never saw in use, so it removes such an image at once however new. Measuring
		// a never-used image from when it arrived keeps a freshly pulled or imported
		// image for MaxAge instead.
		since := cd.lastUsed
		if since.IsZero() {
			since = cd.firstDetected
		}
		if unused := now.Sub(since); unused <= maxAge {
			c.debug(ctx, "Keeping image in the max-age pass: used recently enough", cd.img, "reason", "unused for less than the maximum age", "unusedFor", unused, "maxAge", maxAge)
			kept = append(kept, cd)
			continue
		}
		if err := ctx.Err(); err != nil {
			return append(kept, cands[i:]...), fmt.Errorf("max-age pass: %w", err)
		}
		removed, err := c.remove(ctx, now, cd, "unused for longer than the maximum age", res)
		if err != nil {
			errs = append(errs, err)
		}
		if !removed {
			kept = append(kept, cd)
			continue
		}
		res.RemovedForAge++
	}
	if len(errs) > 0 {
		return kept, fmt.Errorf("wanted to free images older than %v, encountered errors in image deletion: %w", maxAge, errors.Join(errs...))
	}
	return kept, nil
}

// freeSpace is the space pass (H7 step 3).
func (c *Collector) freeSpace(ctx context.Context, now time.Time, cands []candidate, res *Result) error {
	st, err := c.stats()
	if err != nil {
		return fmt.Errorf("reading image filesystem stats: %w", err)
	}
	capacity, available := st.Capacity, st.Available
	if available > capacity {
		c.log.InfoContext(ctx, "Availability is larger than capacity", "available", available, "capacity", capacity)
		available = capacity
	}
	available = max(available, 0)
	if capacity <= 0 {
		return &InvalidCapacityError{Capacity: capacity}
	}
	usage := 100 - int(available*100/capacity)
	res.Usage, res.Capacity, res.Available = usage, capacity, available
	c.metrics.usage.Set(float64(usage))

	high, low := c.policy.HighThresholdPercent, c.policy.LowThresholdPercent
	if high >= 100 {
		// 100 means "never for space" (H5). Without this, a full disk would reach it, and
		// with low = 100 the amount below would be negative (upstream #79929).
		c.log.DebugContext(ctx, "Skipping the space pass: the high threshold is 100%", "usage", usage)
		return nil
	}
	if usage < high {
		c.log.DebugContext(ctx, "Image filesystem usage is below the high threshold", "usage", usage, "highThreshold", high)
		return nil
	}
	amount := capacity*int64(100-low)/100 - available
	if amount <= 0 {
		// Only when low == high and rounding puts usage just at both (#79929).
		c.log.DebugContext(ctx, "Nothing to free down to the low threshold", "usage", usage, "lowThreshold", low, "amountToFree", amount)
		return nil
	}
	res.AmountToFree = amount
	c.log.InfoContext(ctx, "Image filesystem usage is over the high threshold, freeing space down to the low threshold",
		"usage", usage, "highThreshold", high, "amountToFree", amount, "lowThreshold", low)

	var freed int64
	var errs []error
	for i, cd := range cands {
		if freed >= amount {
			if c.log.Enabled(ctx, slog.LevelDebug) {
				for _, cd := range cands[i:] {
					c.debug(ctx, "Keeping image: enough space freed", cd.img, "reason", "enough space freed")
				}
			}
			break
		}
		// A LastUsed at or after the start of the pass is a container started during it.
		if !cd.lastUsed.Before(now) {
			c.debug(ctx, "Keeping image: used during this pass", cd.img, "reason", "used during this pass", "lastUsed", cd.lastUsed)
			continue
		}
		// A young image was probably just pulled for a container about to start.
		if age := now.Sub(cd.firstDetected); age < c.policy.MinAge {
			c.debug(ctx, "Keeping image: younger than the minimum age", cd.img, "reason", "younger than the minimum age", "age", age, "minAge", c.policy.MinAge)
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("space pass: %w", err)
		}
		before := res.FreedBytes
		if _, err := c.remove(ctx, now, cd, "freeing space", res); err != nil {
			errs = append(errs, err)
			continue
		}
		freed += res.FreedBytes - before
	}
	if len(errs) > 0 {
		return fmt.Errorf("wanted to free %d bytes, but freed %d bytes space with errors in image deletion: %w", amount, freed, errors.Join(errs...))
	}
	if freed < amount {
		return &FreeSpaceError{Usage: usage, Capacity: capacity, Wanted: amount, Freed: freed}
	}
	return nil
}

// remove removes one candidate and accounts for it in res. An image that a container started
// using since the pass listed leases (images.ErrInUse), or that someone else removed
// (images.ErrNotFound), is skipped: neither is a failure of the pass.
func (c *Collector) remove(ctx context.Context, now time.Time, cd candidate, why string, res *Result) (bool, error) {
	img, err := c.store.Remove(cd.img.ID)
	switch {
	case err == nil:
	case errors.Is(err, images.ErrInUse):
		if rec := c.records[cd.img.ID]; rec != nil {
			rec.lastSeenInUse = now
		}
		c.debug(ctx, "Keeping image: a container started using it during this pass", cd.img, "reason", "in use")
		return false, nil
	case errors.Is(err, images.ErrNotFound):
		delete(c.records, cd.img.ID)
		c.debug(ctx, "Skipping image: already removed", cd.img, "reason", "already removed")
		return false, nil
	default:
		c.log.WarnContext(ctx, "Failed to remove image", "image", cd.img.ID, "err", err)
		return false, fmt.Errorf("removing image %s: %w", cd.img.ID, err)
	}
	delete(c.records, cd.img.ID)
	res.Removed = append(res.Removed, img)
	res.FreedBytes += img.Size
	c.metrics.imagesRemoved.Inc()
	c.metrics.bytesFreed.Add(float64(img.Size))
	c.log.DebugContext(ctx, "Removed image", "image", img.ID, "tags", img.RepoTags, "size", img.Size, "reason", why,
		"lastUsed", cd.lastUsed, "firstDetected", cd.firstDetected)
	return true, nil
}

// debug logs one GC decision about img. The level check first spares a pass over a thousand
// images the cost of building records nobody reads.
func (c *Collector) debug(ctx context.Context, msg string, img images.Image, args ...any) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	c.log.DebugContext(ctx, msg, append([]any{"image", img.ID, "tags", img.RepoTags, "size", img.Size}, args...)...)
}

func (c *Collector) event(eventType, reason, message string) {
	if c.recorder == nil {
		return
	}
	c.recorder.Event(c.nodeRef, eventType, reason, message)
}
