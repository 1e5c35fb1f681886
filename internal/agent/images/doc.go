// Package images is the node agent's local image store.
//
// Images are kept on disk so that image garbage collection works on real bytes on a real
// filesystem (DESIGN.md, decision 6). The store is rooted at one directory:
//
//	oci-layout               the OCI image-layout marker ({"imageLayoutVersion": "1.0.0"})
//	index.json               one descriptor per tag, pointing at an image manifest; the tag is the
//	                         full normalized reference in org.opencontainers.image.ref.name. An image
//	                         without a tag has one descriptor without that annotation, so it stays
//	                         listable (and removable) by ID.
//	blobs/sha256/<hex>       manifests, configs and layers, content addressed
//	meta/<hex>.json          per image (config digest): when it entered the store, when it was last
//	                         used and how big its unpacked root filesystem is
//	leases/<hash>.json       one file per holder (a container directory) naming the image it uses
//	rootfs/<hex>/            the unpacked root filesystem of an image, created on first use
//	ingest/                  private scratch space: blobs and root filesystems are written here
//	                         first and renamed into place, so nothing half-written is ever visible
//	lock                     flock(2) target
//
// The first three entries are a plain OCI image layout, so any OCI tool (skopeo, crane, umoci)
// can read the store; everything the layout has no place for lives beside it in small files of
// its own rather than in annotations, because it changes often (LastUsed on every container
// start) and rewriting index.json for that would contend with pulls.
//
// An image's ID is its config digest, as in containerd and the CRI: two manifests of the same
// config (say, the same image pushed with different compression) are one image with several
// repo digests.
//
// The agent and the `terminus image` CLI may open the same directory at the same time. Every
// mutation holds an exclusive flock on the lock file, every read a shared one, and every file a
// reader may see is replaced by rename, never rewritten in place. Slow work (reading an archive,
// pulling, unpacking) happens in ingest/ without the lock; only the final renames and the
// index.json update happen under it. Because of that, an import re-checks under the lock that
// every blob it relies on is still present, since a concurrent Remove may have deleted a shared
// blob it decided not to copy.
//
// Image archives and layers are untrusted input: extraction goes through an os.Root, refuses
// ".." and writing through symlinks the archive created, and ignores ownership and device nodes.
// Blobs are verified against their digests before they enter blobs/.
package images
