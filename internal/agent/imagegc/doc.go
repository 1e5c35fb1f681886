// Package imagegc is the node agent's image garbage collector: the kubelet's image GC manager
// (k8s pkg/kubelet/images/image_gc_manager.go) rebuilt on the agent's local image store.
//
// A Collector runs one pass every Period (5 minutes, as the kubelet's ImageGCPeriod, spec H1).
// A pass follows spec H7:
//
//  1. It lists the store and its live leases. An image with a lease is in use (H6: a lease is
//     held by a container directory, dead containers included, so containers kept by container
//     GC pin their images). In-use images get lastUsed = now in the collector's memory; the
//     rest are the candidates, oldest lastUsed first, then oldest firstDetected.
//  2. Max-age pass: when Policy.MaxAge > 0 and the collector has existed longer than MaxAge,
//     every candidate unused for longer than MaxAge is removed.
//  3. Space pass: usage = 100 − available×100/capacity. At or above HighThresholdPercent it
//     removes candidates, skipping those used during this pass and those younger than MinAge,
//     until usage would be back at LowThresholdPercent.
//  4. If that was not enough it records the kubelet's FreeDiskSpaceFailed Warning on the Node
//     and the pass fails; a capacity of 0 records InvalidDiskCapacity. Run records
//     ImageGCFailed when passes fail twice in a row, as the kubelet does.
//
// Beyond upstream, a pass that removed images records a Normal FreedDiskSpace event, so that
// `kubectl describe node` shows what image GC did and not only when it failed.
//
// The store persists when an image entered it (Image.Created) and when a container last started
// from it (Image.LastUsed), so unlike the kubelet, whose records start afresh at every restart,
// the collector takes firstDetected and lastUsed from there and only adds, in memory, the
// "seen in use at this pass" refresh of H6.
package imagegc
