package node

import (
	"fmt"
	"slices"
	"testing"
)

// TestStatusImages: status.images as the kubelet reports it: largest
// first, repo digests before tags, at most 5 names and 50 images.
func TestStatusImages(t *testing.T) {
	list := []Image{
		{RepoTags: []string{"docker.io/library/small:1"}, Size: 10},
		{RepoDigests: []string{"docker.io/library/big@sha256:aa"}, RepoTags: []string{"docker.io/library/big:1", "docker.io/library/big:2"}, Size: 30},
		{RepoTags: []string{"t1", "t2", "t3", "t4", "t5", "t6"}, Size: 20},
	}
	got := statusImages(list)
	if len(got) != 3 || got[0].SizeBytes != 30 || got[1].SizeBytes != 20 || got[2].SizeBytes != 10 {
		t.Fatalf("order: %+v", got)
	}
	if want := []string{"docker.io/library/big@sha256:aa", "docker.io/library/big:1", "docker.io/library/big:2"}; !slices.Equal(got[0].Names, want) {
		t.Errorf("names %q, want %q", got[0].Names, want)
	}
	if len(got[1].Names) != maxNamesPerImageInStatus {
		t.Errorf("names not cut at %d: %q", maxNamesPerImageInStatus, got[1].Names)
	}
	var many []Image
	for i := range 60 {
		many = append(many, Image{RepoTags: []string{fmt.Sprint("i", i)}, Size: int64(i)})
	}
	if got := statusImages(many); len(got) != maxImagesInStatus || got[0].SizeBytes != 59 {
		t.Errorf("60 images: %d reported, first %d bytes; want %d, largest first", len(got), got[0].SizeBytes, maxImagesInStatus)
	}
}
