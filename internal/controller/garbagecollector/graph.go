package garbagecollector

import (
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// objectReference is a node's identity: an owner reference's coordinates
// plus the namespace. Namespace is empty for cluster-scoped objects.
type objectReference struct {
	metav1.OwnerReference
	Namespace string
}

// String gives upstream's rendering, which the OwnerRefInvalidNamespace
// event message embeds (D12).
func (s objectReference) String() string {
	return fmt.Sprintf("[%s/%s, namespace: %s, name: %s, uid: %s]", s.APIVersion, s.Kind, s.Namespace, s.Name, s.UID)
}

// node flags.
const (
	flagVirtual            uint8 = 1 << iota // referenced but not observed by an informer yet
	flagBeingDeleted                         // has a deletionTimestamp
	flagDeletingDependents                   // being deleted with foregroundDeletion
)

// node is one object in the graph (D2). The graph builder is its only
// writer; workers read it. identity never changes after the node is
// published: a node whose identity must change is cloned and replaced.
type node struct {
	identity objectReference

	mu sync.RWMutex
	// dependents is allocated on the first dependent: most objects own
	// nothing, and an empty map costs memory at 100k objects.
	dependents map[*node]struct{}
	// owners are the ownerReferences of the last observed state; the slice
	// is the informer's and is never modified in place.
	owners []metav1.OwnerReference
	flags  uint8
}

func (n *node) hasFlag(f uint8) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.flags&f != 0
}

func (n *node) setFlag(f uint8, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if on {
		n.flags |= f
	} else {
		n.flags &^= f
	}
}

func (n *node) isObserved() bool           { return !n.hasFlag(flagVirtual) }
func (n *node) markObserved()              { n.setFlag(flagVirtual, false) }
func (n *node) isBeingDeleted() bool       { return n.hasFlag(flagBeingDeleted) }
func (n *node) markBeingDeleted()          { n.setFlag(flagBeingDeleted, true) }
func (n *node) isDeletingDependents() bool { return n.hasFlag(flagDeletingDependents) }
func (n *node) markDeletingDependents()    { n.setFlag(flagDeletingDependents, true) }

// clone copies n with a new identity's worth of state; the caller sets the
// identity before publishing it.
func (n *node) clone() *node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c := &node{identity: n.identity, owners: n.owners, flags: n.flags}
	if len(n.dependents) > 0 {
		c.dependents = make(map[*node]struct{}, len(n.dependents))
		for d := range n.dependents {
			c.dependents[d] = struct{}{}
		}
	}
	return c
}

func (n *node) setOwners(owners []metav1.OwnerReference) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.owners = owners
}

func (n *node) getOwners() []metav1.OwnerReference {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.owners
}

func (n *node) addDependent(d *node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dependents == nil {
		n.dependents = make(map[*node]struct{}, 1)
	}
	n.dependents[d] = struct{}{}
}

func (n *node) deleteDependent(d *node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.dependents, d)
	if len(n.dependents) == 0 {
		n.dependents = nil
	}
}

func (n *node) dependentsLength() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.dependents)
}

func (n *node) getDependents() []*node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	ret := make([]*node, 0, len(n.dependents))
	for d := range n.dependents {
		ret = append(ret, d)
	}
	return ret
}

// blockingDependents are the dependents whose reference to n has
// blockOwnerDeletion=true: a foreground deletion of n waits for them until
// they leave the graph (D9).
func (n *node) blockingDependents() []*node {
	var ret []*node
	for _, d := range n.getDependents() {
		for _, o := range d.getOwners() {
			if o.UID == n.identity.UID && o.BlockOwnerDeletion != nil && *o.BlockOwnerDeletion {
				ret = append(ret, d)
				break
			}
		}
	}
	return ret
}

// ownerReferenceCoordinates keeps the fields that identify an owner.
func ownerReferenceCoordinates(ref metav1.OwnerReference) metav1.OwnerReference {
	return metav1.OwnerReference{UID: ref.UID, Name: ref.Name, Kind: ref.Kind, APIVersion: ref.APIVersion}
}

func ownerReferenceMatchesCoordinates(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && a.Name == b.Name && a.Kind == b.Kind && a.APIVersion == b.APIVersion
}

// uidToNode is the graph's index.
type uidToNode struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
}

func newUIDToNode() *uidToNode { return &uidToNode{nodes: make(map[types.UID]*node)} }

func (m *uidToNode) Write(n *node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[n.identity.UID] = n
}

func (m *uidToNode) Read(uid types.UID) (*node, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.nodes[uid]
	return n, ok
}

func (m *uidToNode) Delete(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, uid)
}

func (m *uidToNode) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.nodes)
}
