package imagegc

import (
	"errors"
	"fmt"
	"time"
)

// Policy is the kubelet's image GC policy (H5). Its fields are the KubeletConfiguration fields
// imageGCHighThresholdPercent, imageGCLowThresholdPercent, imageMinimumGCAge and
// imageMaximumGCAge.
type Policy struct {
	// HighThresholdPercent is the image filesystem usage at or above which the space pass
	// runs. 100 turns the space pass off (H5).
	HighThresholdPercent int
	// LowThresholdPercent is the usage the space pass frees down to.
	LowThresholdPercent int
	// MinAge is how long after an image is first detected it becomes collectable by the
	// space pass: a freshly pulled image is about to be used.
	MinAge time.Duration
	// MaxAge, when positive, removes images unused for longer than it whatever the disk
	// usage (KEP-4210). 0 turns the max-age pass off.
	MaxAge time.Duration
}

// DefaultPolicy returns the kubelet's defaults (k8s pkg/kubelet/apis/config/v1beta1/defaults.go,
// spec H5).
func DefaultPolicy() Policy {
	return Policy{
		HighThresholdPercent: 85,
		LowThresholdPercent:  80,
		MinAge:               2 * time.Minute,
		MaxAge:               0,
	}
}

// Disabled reports whether the policy turns image GC off: a high threshold of 100 with no
// maximum age (H5). The kubelet then never starts its GC loop.
func (p Policy) Disabled() bool {
	return p.HighThresholdPercent == 100 && p.MaxAge == 0
}

// Validate returns the errors the kubelet's configuration validation
// (k8s pkg/kubelet/apis/config/validation) reports for these settings, in its wording and
// order, joined. It is stricter than what New accepts: like the kubelet, which validates its
// configuration before it builds the image manager, callers that take the policy from users
// (flags, a config file) should call it first.
func (p Policy) Validate() error {
	var errs []error
	if p.HighThresholdPercent < 0 || p.HighThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) %v must be between 0 and 100, inclusive", p.HighThresholdPercent))
	}
	if p.LowThresholdPercent < 0 || p.LowThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) %v must be between 0 and 100, inclusive", p.LowThresholdPercent))
	}
	if p.LowThresholdPercent >= p.HighThresholdPercent {
		errs = append(errs, fmt.Errorf("invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) %v must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) %v", p.LowThresholdPercent, p.HighThresholdPercent))
	}
	if p.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("invalid configuration: imageMaximumGCAge %v must not be negative", p.MaxAge))
	}
	if p.MaxAge > 0 && p.MaxAge <= p.MinAge {
		errs = append(errs, fmt.Errorf("invalid configuration: imageMaximumGCAge %v must be greater than imageMinimumGCAge %v", p.MaxAge, p.MinAge))
	}
	return errors.Join(errs...)
}

// check is what the image GC manager itself insists on (k8s NewImageGCManager, spec H5):
// thresholds in [0, 100] and low ≤ high. It admits low == high, which configuration
// validation rejects, so the collector must cope with a space pass whose amount to free is not
// positive (upstream issue #79929).
func (p Policy) check() error {
	var errs []error
	if p.HighThresholdPercent < 0 || p.HighThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("invalid HighThresholdPercent %d, must be in range [0-100]", p.HighThresholdPercent))
	}
	if p.LowThresholdPercent < 0 || p.LowThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("invalid LowThresholdPercent %d, must be in range [0-100]", p.LowThresholdPercent))
	}
	if p.LowThresholdPercent > p.HighThresholdPercent {
		errs = append(errs, fmt.Errorf("LowThresholdPercent %d can not be higher than HighThresholdPercent %d", p.LowThresholdPercent, p.HighThresholdPercent))
	}
	if p.MinAge < 0 {
		errs = append(errs, fmt.Errorf("invalid MinAge %v, must not be negative", p.MinAge))
	}
	if p.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("invalid MaxAge %v, must not be negative", p.MaxAge))
	}
	return errors.Join(errs...)
}
