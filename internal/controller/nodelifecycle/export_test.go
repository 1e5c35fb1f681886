package nodelifecycle

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
)

// What the external integration test (package nodelifecycle_test, which
// must be external: it starts a whole server through apptest, and the
// server imports this package) reads of the internals.

// CachedNode is the controller's informer copy of a node.
func (c *Controller) CachedNode(name string) (*corev1.Node, error) { return c.nodeLister.Get(name) }

// ReadyCondition and TaintStrings expose the package's helpers.
var (
	ReadyCondition = readyCondition
	TaintStrings   = taintStrings
)

// CachedLease is the controller's informer copy of a node's Lease.
func (c *Controller) CachedLease(name string) (*coordinationv1.Lease, error) {
	return c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(name)
}
