package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestGCOptions: the GC flags with the kubelet's names and checks (H2,
// H5), a KubeletConfiguration file under them, flags given winning over
// the file.
func TestGCOptions(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good.yaml", `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
imageGCHighThresholdPercent: 70
imageGCLowThresholdPercent: 50
imageMinimumGCAge: 30s
maxPods: 40
`)
	unknown := file("unknown.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nimageGCHighThresholdPrecent: 70\n")
	wrongKind := file("kind.yaml", "apiVersion: v1\nkind: ConfigMap\n")
	shutdown := file("shutdown.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nshutdownGracePeriod: 30s\nshutdownGracePeriodCriticalPods: 10s\n")
	badShutdown := file("badshutdown.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nshutdownGracePeriod: 10s\nshutdownGracePeriodCriticalPods: 20s\n")
	badFile := file("bad.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nimageGCHighThresholdPercent: 70\nimageGCLowThresholdPercent: 90\n")

	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o *gcOptions)
	}{
		{"defaults", nil, "", func(t *testing.T, o *gcOptions) {
			gc, file, _ := o.config()
			maxPods := file.MaxPods
			if gc.Images.HighThresholdPercent != 85 || gc.Images.LowThresholdPercent != 80 || gc.Images.MinAge != 2*time.Minute ||
				gc.Containers.MaxPerPodContainer != 1 || gc.Containers.MaxContainers != -1 || gc.ImageFSCapacity != 0 || maxPods != 0 {
				t.Errorf("defaults: %+v maxPods %d", gc, maxPods)
			}
		}},
		{"low not below high", []string{"--image-gc-high-threshold=80", "--image-gc-low-threshold=80"}, "imageGCLowThresholdPercent (--image-gc-low-threshold) 80 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 80", nil},
		{"percent out of range", []string{"--image-gc-high-threshold=101"}, "imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive", nil},
		{"negative low", []string{"--image-gc-low-threshold=-1"}, "imageGCLowThresholdPercent (--image-gc-low-threshold) -1 must be between 0 and 100, inclusive", nil},
		{"negative container ttl", []string{"--minimum-container-ttl-duration=-1s"}, "--minimum-container-ttl-duration -1s must not be negative", nil},
		{"capacity", []string{"--image-fs-capacity=1Mi"}, "", func(t *testing.T, o *gcOptions) {
			if gc, _, _ := o.config(); gc.ImageFSCapacity != 1<<20 {
				t.Errorf("capacity %d", gc.ImageFSCapacity)
			}
		}},
		{"bad capacity", []string{"--image-fs-capacity=lots"}, `--image-fs-capacity "lots"`, nil},
		{"zero capacity", []string{"--image-fs-capacity=0"}, "must be positive", nil},
		{"container flags", []string{"--maximum-dead-containers-per-container=3", "--maximum-dead-containers=10", "--minimum-container-ttl-duration=1m"}, "", func(t *testing.T, o *gcOptions) {
			if gc, _, _ := o.config(); gc.Containers.MaxPerPodContainer != 3 || gc.Containers.MaxContainers != 10 || gc.Containers.MinAge != time.Minute {
				t.Errorf("containers %+v", gc.Containers)
			}
		}},
		{"config file", []string{"--config=" + good}, "", func(t *testing.T, o *gcOptions) {
			gc, file, _ := o.config()
			maxPods := file.MaxPods
			if gc.Images.HighThresholdPercent != 70 || gc.Images.LowThresholdPercent != 50 || gc.Images.MinAge != 30*time.Second || maxPods != 40 {
				t.Errorf("from the file: %+v maxPods %d", gc.Images, maxPods)
			}
		}},
		{"flags win over the file", []string{"--config=" + good, "--image-gc-high-threshold=90"}, "", func(t *testing.T, o *gcOptions) {
			if gc, _, _ := o.config(); gc.Images.HighThresholdPercent != 90 || gc.Images.LowThresholdPercent != 50 {
				t.Errorf("%+v", gc.Images)
			}
		}},
		{"unknown field in the file", []string{"--config=" + unknown}, `unknown field "imageGCHighThresholdPrecent"`, nil},
		{"another kind", []string{"--config=" + wrongKind}, "", nil},
		{"invalid values in the file", []string{"--config=" + badFile}, "imageGCLowThresholdPercent (--image-gc-low-threshold) 90 must be less than", nil},
		{"graceful node shutdown periods", []string{"--config=" + shutdown}, "", func(t *testing.T, o *gcOptions) {
			if _, f, _ := o.config(); f.ShutdownGracePeriod != 30*time.Second || f.ShutdownGracePeriodCriticalPods != 10*time.Second {
				t.Errorf("shutdown periods %+v", f)
			}
		}},
		{"critical period longer than the whole", []string{"--config=" + badShutdown}, "invalid configuration: shutdownGracePeriodCriticalPods 20s must be <= shutdownGracePeriod 10s", nil},
		{"missing file", []string{"--config=" + filepath.Join(dir, "none")}, "no such file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newGCOptions()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.addFlags(fs, "config")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			_, _, err := o.config()
			switch {
			case tt.name == "another kind":
				if err == nil {
					t.Error("a ConfigMap accepted as KubeletConfiguration")
				}
			case tt.wantErr == "" && err != nil:
				t.Fatalf("config: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("config error %v, want %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

// TestServeRefusesNodeShutdown: serve's in-process agent stops with its
// server, so a graceful node shutdown period is refused there.
func TestServeRefusesNodeShutdown(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.yaml")
	if err := os.WriteFile(p, []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nshutdownGracePeriod: 30s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewServeOptions()
	o.NodeName = "n1"
	o.GC.ConfigFile = p
	if _, err := o.agentConfig(); err == nil || !strings.Contains(err.Error(), "terminus agent only") {
		t.Errorf("agentConfig: %v", err)
	}
}
