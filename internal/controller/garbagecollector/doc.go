// Package garbagecollector is terminus's garbage collector (spec section D),
// built the way kube-controller-manager's pkg/controller/garbagecollector is
// built, as an API client only.
//
// A graph builder, one goroutine, turns the events of metadata-only
// informers over every discovered resource that supports list, watch and
// delete into a graph of nodes keyed by uid, with edges from owner to
// dependent (D2). Owners referenced before they are observed become virtual
// nodes and are verified with a live GET (D3). Two rate-limited queues feed
// the workers: attemptToDelete classifies a node's references into solid,
// dangling and waitingForDependentsDeletion and deletes the node, prunes
// references from it, or finishes a foreground deletion (D4–D9, D12–D16);
// attemptToOrphan removes an owner's references from its dependents and
// then the owner's orphan finalizer (D10). The GC removes its own finalizers
// with a JSON merge patch carrying resourceVersion (D11) and always sends an
// explicit propagation policy (D18).
//
// Discovery is refreshed every ResyncDiscovery (and early when a reference
// cannot be mapped), so resources added later, such as custom resources,
// are covered without a restart. A monitor whose informer never syncs does
// not stop the others: Ready reports it, and collection proceeds for the
// synced resources.
package garbagecollector
