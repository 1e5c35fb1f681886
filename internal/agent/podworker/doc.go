// Package podworker is the node agent's pod workers: it runs the pods bound
// to its node as local processes and ends them as a kubelet does (DESIGN
// decision 6; spec G5–G9; upstream pkg/kubelet/pod_workers.go, kubelet.go
// SyncPod/SyncTerminatingPod/SyncTerminatedPod, status/status_manager.go).
//
// # Shape
//
// An Agent watches the pods with spec.nodeName = its node (a field-selected
// informer) and runs one worker goroutine per pod uid. A worker is a state
// machine as upstream's: syncing (start init containers one at a time, in
// order, each to completion; then the regular containers; restart them
// per restartPolicy with kubelet's back-off) → terminating (a grace.Plan
// drives Killing events, preStop hooks, the stop signal and SIGKILL on the
// injected clock) → terminated (terminal status, the final DELETE with
// gracePeriodSeconds 0 and preconditions.uid, G8; then the pod directory
// is removed).
//
// # The pod directory
//
//	<RootDir>/pods/<uid>/state.json            the persisted state (written atomically)
//	<RootDir>/pods/<uid>/volumes/<volume>/     emptyDir, configMap and secret volumes
//	<RootDir>/pods/<uid>/containers/<name>/<n> one process.Runtime directory per attempt
//
// state.json holds the pod as first seen (so a pod deleted while the agent
// was down can still be stopped with its hooks and signals, G9), every
// container's attempts and back-off, and the grace.Plan once termination
// began. It is written before acting (write-ahead), so after an agent
// restart the worker re-attaches to running containers (process.Runtime
// Open) and a Plan resumes with its deadlines (issue 6: "An agent restart
// during termination keeps the deadline").
//
// # What runs
//
// An image in the local store (Config.Images, agent/images) supplies
// what the container leaves out (ENTRYPOINT, CMD, ENV, WORKDIR,
// STOPSIGNAL) and its files: without a mount namespace, the image's
// unpacked root stands in for "/" by path (docs/decisions/0005): the
// working directory is under it, an absolute program path found there
// runs from there, the image's PATH is looked up there first, and
// TERMINUS_ROOTFS names it. A Normal event Pulled says the image was
// present; imagePullPolicy Never with the image absent is
// ErrImageNeverPull, an unparsable name InvalidImageName.
//
// An image not in the store (pulls are not done yet) leaves the
// container's command and args to run on the host, and a Normal event
// HostCommand says so. Without a command, the args are the argv (an image
// without ENTRYPOINT, as busybox). Without either
// (registry.k8s.io/pause), the built-in stand-in runs: the container's
// shim itself (process.Spec.StandIn), which waits for SIGTERM or SIGINT
// and exits 0 as pause does; a Normal event StandIn says so.
//
// There are no mount namespaces, so a volume cannot appear at its
// mountPath. Each volume is a directory under the pod directory and a
// container gets, for every volumeMount, the environment variable
// TERMINUS_VOLUME_<NAME> (the volume's name upper-cased, '-' and '.' as
// '_') holding that directory (joined with subPath). A relative
// workingDir is resolved under <pod dir>/root and created; an absolute
// one is used as is and must exist (else the container fails with
// StartError, as a runtime reports it); an empty one is the attempt's
// directory. Every container runs on the host's network, so podIP is the
// node's InternalIP (127.0.0.1 if the node has none).
//
// # Probes, hooks and deadlines
//
// Readiness, liveness and startup probes (exec through Runtime.Exec,
// httpGet, tcpSocket; gRPC answers "not supported" as a probe error) run
// on the injected clock, every periodSeconds after initialDelaySeconds,
// with upstream's thresholds and Unhealthy events (probe.go, probes.go).
// The startup probe gates the other two; a started container without a
// readiness probe is ready; a sidecar lets the containers after it start
// once it is started. A failed liveness or startup probe kills the
// container by G6's stop path with the probe's or the pod's grace (a
// grace.Plan of its own, kept in the state) and it restarts at once
// unless restartPolicy is Never. A postStart hook runs right after the
// start; until it returns the container is reported as being created,
// and a failure kills it (FailedPostStartHook) and lets restartPolicy
// decide. Once status.startTime is activeDeadlineSeconds old the pod is
// Failed with reason DeadlineExceeded and its containers are stopped as
// for a deletion, but it is not deleted (lifecycle.go). Probe results
// live in memory, as kubelet's: after an agent restart they start again
// from their initial values.
//
// # Not done yet
//
// gRPC probes, service environment variables, downward API and projected
// volumes (they get an empty directory), ConfigMap and Secret volume
// updates.
package podworker
