package node

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet's limits on status.images (pkg/kubelet/nodestatus and
// kubelet's --node-status-max-images default).
const (
	maxImagesInStatus        = 50
	maxNamesPerImageInStatus = 5
)

// Image is one image of the node's local store as status.images reports
// it.
type Image struct {
	RepoDigests, RepoTags []string
	Size                  int64
}

// statusImages is status.images as the kubelet's Images setter builds it:
// largest first, at most maxImagesInStatus, each named by its repo
// digests then its tags, at most maxNamesPerImageInStatus names.
func statusImages(list []Image) []corev1.ContainerImage {
	sorted := slices.Clone(list)
	slices.SortStableFunc(sorted, func(a, b Image) int { return cmp.Compare(b.Size, a.Size) })
	if len(sorted) > maxImagesInStatus {
		sorted = sorted[:maxImagesInStatus]
	}
	out := make([]corev1.ContainerImage, 0, len(sorted))
	for _, img := range sorted {
		names := append(slices.Clone(img.RepoDigests), img.RepoTags...)
		if len(names) > maxNamesPerImageInStatus {
			names = names[:maxNamesPerImageInStatus]
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: img.Size})
	}
	return out
}
