// Package podcontrol is what the controllers that own pods share
// (ReplicaSet, ReplicationController, later Job): upstream's
// pkg/controller/controller_utils.go and controller_ref_manager.go,
// rewritten over client-go only.
//
//   - PodControl creates pods from a template with the owner's controller
//     reference and deletes them, recording upstream's events.
//   - Expectations keep a controller from acting twice before its
//     informer has seen its own creates and deletes.
//   - RefManager claims pods for an owner: adopts matching orphans,
//     releases owned pods that no longer match (spec D, G11).
//   - ActivePodsWithRanks orders pods for scale-down (spec G11).
//   - SlowStartBatch batches creates so a failing quota is hit once, not
//     N times.
//
// Time comes from the caller's injected clock (DESIGN decision 4).
package podcontrol
