package garbagecollector

import (
	"reflect"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

type eventType int

const (
	addEvent eventType = iota
	updateEvent
	deleteEvent
)

// event is one graph change: an informer event or a virtual delete the
// workers emit when an object turns out to be absent (D3).
type event struct {
	virtual   bool
	eventType eventType
	obj       any
	oldObj    any // for updates
	gvk       schema.GroupVersionKind
}

// processGraphChanges applies one graph change. It is the graph's only
// writer and runs on one goroutine (D2). It returns false once the queue
// is shut down.
func (c *Controller) processGraphChanges() bool {
	ev, quit := c.graphChanges.Get()
	if quit {
		return false
	}
	defer c.graphChanges.Done(ev)
	accessor, err := meta.Accessor(ev.obj)
	if err != nil {
		c.log.Error("cannot access object", "err", err)
		return true
	}
	existing, found := c.uidToNode.Read(accessor.GetUID())
	if found && !ev.virtual && !existing.isObserved() {
		// A virtual node is observed for real: if the dependents named it
		// with other coordinates, their references may be invalid (D15,
		// D12); verify them.
		observed := identityFromEvent(ev, accessor)
		if observed != existing.identity {
			_, invalid := partitionDependents(existing.getDependents(), observed)
			for _, dep := range invalid {
				if observed.Namespace != "" && dep.identity.Namespace != observed.Namespace {
					c.reportInvalidNamespaceOwnerRef(dep, observed.UID)
				}
				c.attemptToDelete.Add(dep)
			}
			existing = existing.clone()
			existing.identity = observed
			c.uidToNode.Write(existing)
		}
		existing.markObserved()
	}

	switch {
	case (ev.eventType == addEvent || ev.eventType == updateEvent) && !found:
		n := &node{identity: identityFromEvent(ev, accessor), owners: accessor.GetOwnerReferences()}
		if beingDeleted(accessor) {
			n.flags |= flagBeingDeleted
			if hasFinalizer(accessor, metav1.FinalizerDeleteDependents) {
				n.flags |= flagDeletingDependents
			}
		}
		c.uidToNode.Write(n)
		c.addDependentToOwners(n, n.owners)
		c.processTransitions(ev.oldObj, accessor, n)
	case ev.eventType == addEvent || ev.eventType == updateEvent:
		added, removed, changed := referencesDiffs(existing.getOwners(), accessor.GetOwnerReferences())
		if len(added)+len(removed)+len(changed) > 0 {
			// A blocking reference that went away or stopped blocking may
			// release an owner waiting in foreground deletion (D9).
			c.addUnblockedOwnersToDeleteQueue(removed, changed)
			existing.setOwners(accessor.GetOwnerReferences())
			c.addDependentToOwners(existing, added)
			c.removeDependentFromOwners(existing, removed)
		}
		if beingDeleted(accessor) {
			existing.markBeingDeleted()
		}
		c.processTransitions(ev.oldObj, accessor, existing)
	default: // delete
		if !found {
			return true
		}
		c.processDelete(ev, accessor, existing)
	}
	return true
}

// processDelete removes a node for a real or virtual delete event, and
// queues its dependents and its owners waiting in foreground deletion.
func (c *Controller) processDelete(ev *event, accessor metav1.Object, existing *node) {
	if ev.virtual {
		deleted := identityFromEvent(ev, accessor)
		if !existing.isObserved() {
			// Only the coordinates the worker checked are absent. If other
			// dependents name this uid with other coordinates, keep the
			// virtual node and verify those separately (D15).
			matching, nonmatching := partitionDependents(existing.getDependents(), deleted)
			if len(nonmatching) > 0 {
				if len(matching) > 0 {
					c.absentOwnerCache.Add(deleted)
					for _, dep := range matching {
						c.attemptToDelete.Add(dep)
					}
				}
				if existing.identity == deleted {
					if alt := alternateOwnerIdentity(nonmatching, deleted); alt != nil {
						r := existing.clone()
						r.identity = *alt
						c.uidToNode.Write(r)
						c.attemptToDelete.AddRateLimited(r)
					}
				}
				return
			}
		} else if existing.identity != deleted {
			// The object exists with this uid at other coordinates: only
			// the dependents naming the absent coordinates are affected.
			matching, _ := partitionDependents(existing.getDependents(), deleted)
			if len(matching) > 0 {
				c.absentOwnerCache.Add(deleted)
				for _, dep := range matching {
					c.attemptToDelete.Add(dep)
				}
			}
			return
		}
	}
	c.uidToNode.Delete(existing.identity.UID)
	c.removeDependentFromOwners(existing, existing.getOwners())
	deps := existing.getDependents()
	if len(deps) > 0 {
		c.absentOwnerCache.Add(identityFromEvent(ev, accessor))
	}
	for _, dep := range deps {
		c.attemptToDelete.Add(dep)
	}
	for _, o := range existing.getOwners() {
		if on, ok := c.uidToNode.Read(o.UID); ok && on.isDeletingDependents() {
			c.attemptToDelete.Add(on)
		}
	}
}

// addDependentToOwners links n to its owners, creating virtual owners for
// unobserved uids and queueing them for verification (D2, D3). A
// reference whose observed owner lives elsewhere or has other coordinates
// queues n itself (D12, D13, D15).
func (c *Controller) addDependentToOwners(n *node, owners []metav1.OwnerReference) {
	potentiallyInvalid := false
	for _, owner := range owners {
		on, ok := c.uidToNode.Read(owner.UID)
		if !ok {
			on = &node{
				identity: objectReference{OwnerReference: ownerReferenceCoordinates(owner), Namespace: n.identity.Namespace},
				flags:    flagVirtual,
			}
			c.uidToNode.Write(on)
		}
		on.addDependent(n)
		if !ok {
			c.attemptToDelete.Add(on)
			continue
		}
		if potentiallyInvalid {
			continue
		}
		ownerNamespaced := on.identity.Namespace != ""
		switch {
		case ownerNamespaced && on.identity.Namespace != n.identity.Namespace:
			if on.isObserved() {
				c.reportInvalidNamespaceOwnerRef(n, owner.UID)
			}
			potentiallyInvalid = true
		case !ownerReferenceMatchesCoordinates(owner, on.identity.OwnerReference):
			potentiallyInvalid = true
		case !ownerNamespaced && on.identity.Namespace != n.identity.Namespace && !on.isObserved():
			potentiallyInvalid = true
		}
	}
	if potentiallyInvalid {
		c.attemptToDelete.Add(n)
	}
}

// reportInvalidNamespaceOwnerRef records upstream's Warning event on a
// dependent whose owner uid was observed in another namespace (D12, D13).
func (c *Controller) reportInvalidNamespaceOwnerRef(n *node, ownerUID types.UID) {
	i := slices.IndexFunc(n.getOwners(), func(r metav1.OwnerReference) bool { return r.UID == ownerUID })
	if i < 0 {
		return
	}
	bad := n.getOwners()[i]
	ref := &corev1.ObjectReference{
		Kind: n.identity.Kind, APIVersion: n.identity.APIVersion,
		Namespace: n.identity.Namespace, Name: n.identity.Name, UID: n.identity.UID,
	}
	invalid := objectReference{OwnerReference: ownerReferenceCoordinates(bad), Namespace: n.identity.Namespace}
	c.recorder.Eventf(ref, corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
		"ownerRef %s does not exist in namespace %q", invalid, n.identity.Namespace)
}

func (c *Controller) removeDependentFromOwners(n *node, owners []metav1.OwnerReference) {
	for _, o := range owners {
		if on, ok := c.uidToNode.Read(o.UID); ok {
			on.deleteDependent(n)
		}
	}
}

type ownerRefPair struct{ oldRef, newRef metav1.OwnerReference }

// referencesDiffs compares two reference lists by uid.
func referencesDiffs(old, cur []metav1.OwnerReference) (added, removed []metav1.OwnerReference, changed []ownerRefPair) {
	byUID := make(map[types.UID]metav1.OwnerReference, len(old))
	for _, r := range old {
		byUID[r.UID] = r
	}
	for _, r := range cur {
		o, ok := byUID[r.UID]
		if !ok {
			added = append(added, r)
			continue
		}
		if !reflect.DeepEqual(o, r) {
			changed = append(changed, ownerRefPair{oldRef: o, newRef: r})
		}
		delete(byUID, r.UID)
	}
	for _, r := range old {
		if _, ok := byUID[r.UID]; ok {
			removed = append(removed, r)
		}
	}
	return added, removed, changed
}

func isTrue(b *bool) bool { return b != nil && *b }

func (c *Controller) addUnblockedOwnersToDeleteQueue(removed []metav1.OwnerReference, changed []ownerRefPair) {
	for _, r := range removed {
		if isTrue(r.BlockOwnerDeletion) {
			if on, ok := c.uidToNode.Read(r.UID); ok {
				c.attemptToDelete.Add(on)
			}
		}
	}
	for _, p := range changed {
		if isTrue(p.oldRef.BlockOwnerDeletion) && !isTrue(p.newRef.BlockOwnerDeletion) {
			if on, ok := c.uidToNode.Read(p.newRef.UID); ok {
				c.attemptToDelete.Add(on)
			}
		}
	}
}

func beingDeleted(o metav1.Object) bool { return o.GetDeletionTimestamp() != nil }

func hasFinalizer(o metav1.Object, f string) bool { return slices.Contains(o.GetFinalizers(), f) }

// deletionStartsWithFinalizer: the object is now being deleted with f, and
// was not before.
func deletionStartsWithFinalizer(oldObj any, cur metav1.Object, f string) bool {
	if !beingDeleted(cur) || !hasFinalizer(cur, f) {
		return false
	}
	if oldObj == nil {
		return true
	}
	old, err := meta.Accessor(oldObj)
	if err != nil {
		return false
	}
	return !beingDeleted(old) || !hasFinalizer(old, f)
}

// processTransitions starts orphan (D10) and foreground (D9) deletions.
func (c *Controller) processTransitions(oldObj any, cur metav1.Object, n *node) {
	if deletionStartsWithFinalizer(oldObj, cur, metav1.FinalizerOrphanDependents) {
		c.attemptToOrphan.Add(n)
		return
	}
	if deletionStartsWithFinalizer(oldObj, cur, metav1.FinalizerDeleteDependents) {
		n.markDeletingDependents()
		for _, dep := range n.getDependents() {
			c.attemptToDelete.Add(dep)
		}
		c.attemptToDelete.Add(n)
	}
}

func identityFromEvent(ev *event, o metav1.Object) objectReference {
	return objectReference{
		OwnerReference: metav1.OwnerReference{
			APIVersion: ev.gvk.GroupVersion().String(), Kind: ev.gvk.Kind, UID: o.GetUID(), Name: o.GetName(),
		},
		Namespace: o.GetNamespace(),
	}
}

// enqueueVirtualDeleteEvent tells the graph builder that the object at
// ref is absent (D3, D4).
func (c *Controller) enqueueVirtualDeleteEvent(ref objectReference) {
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	c.graphChanges.Add(&event{
		virtual: true, eventType: deleteEvent, gvk: gv.WithKind(ref.Kind),
		obj: &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: ref.APIVersion, Kind: ref.Kind},
			ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, UID: ref.UID, Name: ref.Name},
		},
	})
}

// partitionDependents splits dependents into those whose reference to the
// owner's uid matches its identity and those that do not.
func partitionDependents(deps []*node, owner objectReference) (matching, nonmatching []*node) {
	ownerNamespaced := owner.Namespace != ""
	for _, dep := range deps {
		match, mismatch := false, false
		if ownerNamespaced && owner.Namespace != dep.identity.Namespace {
			mismatch = true
		} else {
			for _, r := range dep.getOwners() {
				if r.UID == owner.UID {
					if ownerReferenceMatchesCoordinates(r, owner.OwnerReference) {
						match = true
					} else {
						mismatch = true
					}
				}
			}
		}
		if match {
			matching = append(matching, dep)
		}
		if mismatch {
			nonmatching = append(nonmatching, dep)
		}
	}
	return matching, nonmatching
}

func referenceLessThan(a, b objectReference) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.APIVersion != b.APIVersion {
		return a.APIVersion < b.APIVersion
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.UID < b.UID
}

// alternateOwnerIdentity picks the next identity to verify for a virtual
// node, after the one just found absent, in a stable order so that all
// candidates are eventually tried.
func alternateOwnerIdentity(deps []*node, absent objectReference) *objectReference {
	clusterScoped := absent.Namespace == ""
	seen := map[objectReference]bool{absent: true}
	var first, firstFollowing *objectReference
	for _, dep := range deps {
		for _, r := range dep.getOwners() {
			if r.UID != absent.UID {
				continue
			}
			if ownerReferenceMatchesCoordinates(r, absent.OwnerReference) &&
				(clusterScoped || absent.Namespace == dep.identity.Namespace) {
				continue
			}
			ref := objectReference{OwnerReference: ownerReferenceCoordinates(r), Namespace: dep.identity.Namespace}
			if clusterScoped && ref.APIVersion == absent.APIVersion && ref.Kind == absent.Kind {
				ref.Namespace = ""
			}
			if seen[ref] {
				continue
			}
			seen[ref] = true
			if first == nil || referenceLessThan(ref, *first) {
				first = &ref
			}
			if referenceLessThan(absent, ref) && (firstFollowing == nil || referenceLessThan(ref, *firstFollowing)) {
				firstFollowing = &ref
			}
		}
	}
	if firstFollowing != nil {
		return firstFollowing
	}
	return first
}
