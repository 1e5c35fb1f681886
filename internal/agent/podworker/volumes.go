package podworker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// volumeDir is where a volume's files are: a hostPath is the host's path
// itself; every other volume is a directory under the pod directory.
func (w *worker) volumeDir(pod *corev1.Pod, name string) string {
	for _, v := range pod.Spec.Volumes {
		if v.Name == name && v.HostPath != nil {
			return v.HostPath.Path
		}
	}
	return filepath.Join(w.dir, "volumes", name)
}

// setUpVolumes makes the pod's volumes: emptyDir a directory, configMap
// and secret their keys as files (items and modes honoured, optional
// honoured). Volume kinds this agent cannot provide (persistent volumes,
// projected service account tokens, ...) get an empty directory, so the
// pod still runs. Contents are written once per worker: updates of a
// ConfigMap are not propagated yet.
func (w *worker) setUpVolumes(ctx context.Context, pod *corev1.Pod) error {
	for _, v := range pod.Spec.Volumes {
		if v.HostPath != nil {
			continue
		}
		dir := w.volumeDir(pod, v.Name)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
		var data map[string][]byte
		var items []corev1.KeyToPath
		mode := int32(0o644)
		switch {
		case v.ConfigMap != nil:
			cm, err := w.a.cfg.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && optional(v.ConfigMap.Optional) {
				continue
			}
			if err != nil {
				return fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
			}
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
			items = v.ConfigMap.Items
			if v.ConfigMap.DefaultMode != nil {
				mode = *v.ConfigMap.DefaultMode
			}
		case v.Secret != nil:
			s, err := w.a.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && optional(v.Secret.Optional) {
				continue
			}
			if err != nil {
				return fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
			}
			data, items = s.Data, v.Secret.Items
			if v.Secret.DefaultMode != nil {
				mode = *v.Secret.DefaultMode
			}
		default:
			continue
		}
		if err := writeVolumeFiles(dir, data, items, mode); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	}
	return nil
}

func writeVolumeFiles(dir string, data map[string][]byte, items []corev1.KeyToPath, mode int32) error {
	type file struct {
		path string
		mode int32
		b    []byte
	}
	var files []file
	if len(items) == 0 {
		for k, b := range data {
			files = append(files, file{k, mode, b})
		}
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("configuration key %q not found", it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		files = append(files, file{it.Path, m, b})
	}
	for _, f := range files {
		if strings.Contains(f.path, "..") || filepath.IsAbs(f.path) {
			return fmt.Errorf("invalid path %q", f.path)
		}
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.b, os.FileMode(f.mode)&0o777); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(f.mode)&0o777); err != nil {
			return err
		}
	}
	return nil
}
