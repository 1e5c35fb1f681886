package imagegc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// FSStats is the size of the image filesystem in bytes.
type FSStats struct {
	Capacity  int64
	Available int64 // to unprivileged users, as statfs(2)'s f_bavail
}

// statfsStats reports the filesystem holding path. Available is f_bavail, not f_bfree,
// because that is what cAdvisor reports to the kubelet as the image filesystem's available
// bytes: space reserved for root is not space images can use.
func statfsStats(path string) func() (FSStats, error) {
	return func() (FSStats, error) {
		var st unix.Statfs_t
		if err := unix.Statfs(path, &st); err != nil {
			return FSStats{}, fmt.Errorf("statfs %s: %w", path, err)
		}
		bsize := int64(st.Bsize) // int64 on linux, but not on every platform
		return FSStats{
			Capacity:  int64(st.Blocks) * bsize,
			Available: int64(st.Bavail) * bsize,
		}, nil
	}
}

// CapacityStats returns a Stats function for an image filesystem of the given capacity that
// holds nothing but the store's images: Available is capacity minus the sum of the images'
// sizes, never below 0. It suits tests, and an agent that gives images a quota rather than a
// filesystem of their own.
func CapacityStats(capacity int64, store Store) func() (FSStats, error) {
	return func() (FSStats, error) {
		imgs, err := store.List()
		if err != nil {
			return FSStats{}, fmt.Errorf("sizing the image store: %w", err)
		}
		var used int64
		for _, img := range imgs {
			used += img.Size
		}
		return FSStats{Capacity: capacity, Available: max(capacity-used, 0)}, nil
	}
}

// formatSize renders a byte count the way the kubelet's FreeDiskSpaceFailed message does
// ("26.4 GiB"): binary units, one decimal.
func formatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	units := [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / unit
	i := 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
