package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/terminus-project/terminus/internal/agent"
	"github.com/terminus-project/terminus/internal/agent/containergc"
	"github.com/terminus-project/terminus/internal/agent/imagegc"
)

// gcOptions are the node agent's garbage collection settings (spec H),
// with the kubelet's flag names, for both `terminus agent` and serve's
// in-process agent. A KubeletConfiguration file sets the image GC
// fields; flags given on the command line win over it, as with the
// kubelet.
type gcOptions struct {
	ConfigFile string // --config (agent) or --agent-config (serve)

	ImageGCHigh, ImageGCLow int
	MinImageTTL             time.Duration
	MaxImageAge             time.Duration
	MinContainerTTL         time.Duration
	MaxDeadPerContainer     int
	MaxDead                 int
	ImageFSCapacity         string
	ImageGCPeriod           time.Duration
	ContainerGCPeriod       time.Duration
	// PullImages is not GC, but it is the image store's other policy.
	PullImages bool

	fs *pflag.FlagSet // to tell flags given from defaults
}

func newGCOptions() *gcOptions {
	ip, cp := imagegc.DefaultPolicy(), containergc.DefaultPolicy()
	return &gcOptions{
		ImageGCHigh: ip.HighThresholdPercent, ImageGCLow: ip.LowThresholdPercent,
		MinImageTTL: ip.MinAge, MaxImageAge: ip.MaxAge,
		MinContainerTTL: cp.MinAge, MaxDeadPerContainer: cp.MaxPerPodContainer, MaxDead: cp.MaxContainers,
		ImageGCPeriod: imagegc.DefaultPeriod, ContainerGCPeriod: containergc.DefaultPeriod,
	}
}

// addFlags registers the flags; configFlag is the name of the
// KubeletConfiguration file's flag.
func (o *gcOptions) addFlags(fs *pflag.FlagSet, configFlag string) {
	o.fs = fs
	fs.StringVar(&o.ConfigFile, configFlag, o.ConfigFile, "a KubeletConfiguration file (kubelet.config.k8s.io/v1beta1): its image GC fields, maxPods and the graceful node shutdown periods are used; flags given win")
	fs.IntVar(&o.ImageGCHigh, "image-gc-high-threshold", o.ImageGCHigh, "image file system usage percent at or above which image GC runs (H5)")
	fs.IntVar(&o.ImageGCLow, "image-gc-low-threshold", o.ImageGCLow, "image file system usage percent image GC frees down to (H5)")
	fs.DurationVar(&o.MinImageTTL, "minimum-image-ttl-duration", o.MinImageTTL, "minimum age of an unused image before image GC may remove it (imageMinimumGCAge)")
	fs.DurationVar(&o.MaxImageAge, "image-maximum-gc-age", o.MaxImageAge, "remove images unused this long whatever the usage; 0: never (imageMaximumGCAge)")
	fs.DurationVar(&o.MinContainerTTL, "minimum-container-ttl-duration", o.MinContainerTTL, "minimum age of a dead container before container GC may remove it (H2)")
	fs.IntVar(&o.MaxDeadPerContainer, "maximum-dead-containers-per-container", o.MaxDeadPerContainer, "dead instances kept per container; negative: no limit (H2)")
	fs.IntVar(&o.MaxDead, "maximum-dead-containers", o.MaxDead, "dead containers kept on the node; negative: no limit (H2)")
	fs.StringVar(&o.ImageFSCapacity, "image-fs-capacity", o.ImageFSCapacity, "the image file system's capacity as a quantity (e.g. 100Mi), usage being the images' bytes; empty: the real file system's (statfs)")
	fs.DurationVar(&o.ImageGCPeriod, "image-gc-period", o.ImageGCPeriod, "time between image GC passes (the kubelet's 5m); negative: none")
	fs.BoolVar(&o.PullImages, "pull-images", o.PullImages, "pull images the local store lacks from their registries by imagePullPolicy, as the kubelet; off, such a container's command runs on the host (or the built-in stand-in)")
	fs.DurationVar(&o.ContainerGCPeriod, "container-gc-period", o.ContainerGCPeriod, "time between container GC passes (the kubelet's 1m); negative: none")
}

// maxPods is the pods capacity: the KubeletConfiguration file's maxPods
// unless --max-pods was given (or the file sets none).
func (o *gcOptions) maxPods(flag int, file fileSettings) int {
	if file.MaxPods == 0 || o.given("max-pods") {
		return flag
	}
	return file.MaxPods
}

// given reports whether the flag name was set on the command line.
func (o *gcOptions) given(name string) bool { return o.fs != nil && o.fs.Changed(name) }

// fileSettings are the KubeletConfiguration fields that are not GC.
type fileSettings struct {
	MaxPods int
	// ShutdownGracePeriod and ShutdownGracePeriodCriticalPods are the
	// graceful node shutdown's (agent.Config).
	ShutdownGracePeriod, ShutdownGracePeriodCriticalPods time.Duration
}

// config reads the KubeletConfiguration file, applies the flags over it
// and validates the result as the kubelet does.
func (o *gcOptions) config() (*agent.GC, fileSettings, error) {
	images := imagegc.Policy{HighThresholdPercent: o.ImageGCHigh, LowThresholdPercent: o.ImageGCLow, MinAge: o.MinImageTTL, MaxAge: o.MaxImageAge}
	var file fileSettings
	var errs []error
	if o.ConfigFile != "" {
		kc, err := readKubeletConfiguration(o.ConfigFile)
		if err != nil {
			return nil, fileSettings{}, err
		}
		given := o.given
		if kc.ImageGCHighThresholdPercent != nil && !given("image-gc-high-threshold") {
			images.HighThresholdPercent = int(*kc.ImageGCHighThresholdPercent)
		}
		if kc.ImageGCLowThresholdPercent != nil && !given("image-gc-low-threshold") {
			images.LowThresholdPercent = int(*kc.ImageGCLowThresholdPercent)
		}
		if kc.ImageMinimumGCAge.Duration != 0 && !given("minimum-image-ttl-duration") {
			images.MinAge = kc.ImageMinimumGCAge.Duration
		}
		if kc.ImageMaximumGCAge.Duration != 0 && !given("image-maximum-gc-age") {
			images.MaxAge = kc.ImageMaximumGCAge.Duration
		}
		file.MaxPods = int(kc.MaxPods)
		file.ShutdownGracePeriod, file.ShutdownGracePeriodCriticalPods = kc.ShutdownGracePeriod.Duration, kc.ShutdownGracePeriodCriticalPods.Duration
		// The kubelet's validation of the graceful node shutdown fields.
		if file.ShutdownGracePeriod < 0 {
			errs = append(errs, fmt.Errorf("invalid configuration: shutdownGracePeriod %v must be >= 0", file.ShutdownGracePeriod))
		}
		if file.ShutdownGracePeriodCriticalPods < 0 {
			errs = append(errs, fmt.Errorf("invalid configuration: shutdownGracePeriodCriticalPods %v must be >= 0", file.ShutdownGracePeriodCriticalPods))
		}
		if file.ShutdownGracePeriodCriticalPods > file.ShutdownGracePeriod {
			errs = append(errs, fmt.Errorf("invalid configuration: shutdownGracePeriodCriticalPods %v must be <= shutdownGracePeriod %v", file.ShutdownGracePeriodCriticalPods, file.ShutdownGracePeriod))
		}
		if len(kc.ShutdownGracePeriodByPodPriority) > 0 {
			errs = append(errs, errors.New("invalid configuration: shutdownGracePeriodByPodPriority is not supported by terminus (use shutdownGracePeriod and shutdownGracePeriodCriticalPods)"))
		}
	}
	containers := containergc.Policy{MinAge: o.MinContainerTTL, MaxPerPodContainer: o.MaxDeadPerContainer, MaxContainers: o.MaxDead}
	var capacity int64
	if o.ImageFSCapacity != "" {
		q, err := resource.ParseQuantity(o.ImageFSCapacity)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--image-fs-capacity %q: %w", o.ImageFSCapacity, err))
		case q.Sign() <= 0:
			errs = append(errs, fmt.Errorf("--image-fs-capacity %q must be positive", o.ImageFSCapacity))
		default:
			capacity = q.Value()
		}
	}
	if images.MinAge < 0 {
		errs = append(errs, fmt.Errorf("invalid configuration: imageMinimumGCAge (--minimum-image-ttl-duration) %v must not be negative", images.MinAge))
	}
	errs = append(errs, images.Validate(), containers.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, fileSettings{}, err
	}
	return &agent.GC{Images: images, ImageFSCapacity: capacity, ImageGCPeriod: o.ImageGCPeriod,
		Containers: containers, ContainerGCPeriod: o.ContainerGCPeriod}, file, nil
}

// readKubeletConfiguration decodes a KubeletConfiguration file strictly:
// another kind, another version or an unknown field is an error, as the
// kubelet's --config.
func readKubeletConfiguration(path string) (*kubeletv1beta1.KubeletConfiguration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := kubeletv1beta1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(scheme, serializer.EnableStrict)
	obj, gvk, err := codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	kc, ok := obj.(*kubeletv1beta1.KubeletConfiguration)
	if !ok {
		return nil, fmt.Errorf("--config %s: kind %s, want KubeletConfiguration", path, gvk.Kind)
	}
	return kc, nil
}
