// Package lifecycle holds every deletion rule of the spec (sections A, B,
// C, E2–E3, G1–G4) once, as pure functions of (stored object, request,
// now) → (object to write, and whether to write, remove or do nothing).
// The registry executes the decisions against storage; explain and cascade
// call the same functions to predict them. Nothing here does I/O or reads
// a clock.
package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GCPolicy is a resource's garbage-collection default when a DELETE names
// no policy (spec B7).
type GCPolicy int

const (
	// Background: no GC finalizer by default (most resources).
	Background GCPolicy = iota
	// Orphan: the orphan finalizer by default (batch/v1 Jobs, v1
	// ReplicationControllers).
	Orphan
	// Unsupported: never a GC finalizer (Events).
	Unsupported
)

// Outcome is what a DELETE does to storage.
type Outcome int

const (
	// Unchanged: deletion is pending and nothing is written; answer with
	// the stored object (B8, G4, E3).
	Unchanged Outcome = iota + 1
	// Mark: write Object; the deletion stays pending (finalizers, a pod's
	// grace period, a namespace's spec.finalizers).
	Mark
	// Remove: delete the object physically, after writing Object first
	// when WriteFirst is set (spec C8: a pod deleted at once is first
	// marked with grace 0).
	Remove
)

func (o Outcome) String() string {
	switch o {
	case Unchanged:
		return "Unchanged"
	case Mark:
		return "Mark"
	case Remove:
		return "Remove"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// DeleteRequest is one DELETE of one stored object.
type DeleteRequest struct {
	// Stored is a private copy of the stored object; Delete may change it
	// and return it.
	Stored runtime.Object
	// Options are the request's DeleteOptions, already validated (B2).
	// nil means grace 0, as upstream's Store treats it.
	Options *metav1.DeleteOptions
	// Resource and Kind name the object for error messages: B3/J1 use
	// the plural resource, B4's preconditions the Kind.
	Resource schema.GroupResource
	Kind     schema.GroupKind
	// Policy is the resource's default (B7).
	Policy GCPolicy
	// Now is the server's time (DESIGN decision 4).
	Now time.Time
}

// DeleteDecision is what the registry must do.
type DeleteDecision struct {
	Outcome Outcome
	// Object is what to write (Mark; Remove with WriteFirst), or the
	// object to answer with (Unchanged; Remove without WriteFirst).
	Object     runtime.Object
	WriteFirst bool
}

// Delete decides a DELETE (spec B5), dispatching to the namespace path
// (E2, E3) for Namespaces.
func Delete(req DeleteRequest) (DeleteDecision, error) {
	if req.Options == nil {
		zero := int64(0)
		req.Options = &metav1.DeleteOptions{GracePeriodSeconds: &zero}
	}
	if ns, ok := req.Stored.(*corev1.Namespace); ok {
		return deleteNamespace(ns, req)
	}
	if c, ok := req.Stored.(*apiextensionsv1.CustomResourceDefinition); ok {
		return deleteCRD(c, req)
	}
	return deleteGeneric(req)
}

// deleteGeneric is kube-apiserver's Store.Delete with
// updateForGracefulDeletionAndFinalizers (spec B5).
func deleteGeneric(req DeleteRequest) (DeleteDecision, error) {
	obj := req.Stored
	m, err := meta.Accessor(obj)
	if err != nil {
		return DeleteDecision{}, apierrors.NewInternalError(err)
	}
	opts := req.Options.DeepCopy()
	graceful, pending, err := beforeDelete(obj, m, opts, req)
	if err != nil {
		return DeleteDecision{}, err
	}
	if pending {
		// B8 and G4: a pod in its grace period is not shortened; GC
		// options are ignored once graceful deletion has started.
		return DeleteDecision{Outcome: Unchanged, Object: obj}, nil
	}
	changeGC, gcFinalizers := gcFinalizers(m.GetFinalizers(), opts, req.Policy)
	if changeGC {
		m.SetFinalizers(gcFinalizers)
	}
	pendingFinalizers := len(m.GetFinalizers()) > 0
	if !graceful {
		if !pendingFinalizers {
			// Nothing holds the object: remove it without a write, even
			// when that drops a GC finalizer (B8's Orphan → Background).
			return DeleteDecision{Outcome: Remove, Object: obj}, nil
		}
		changed := markAsDeleting(m, req.Now)
		if !changed && !changeGC {
			// B8: same GC finalizers, nothing written, no event.
			return DeleteDecision{Outcome: Unchanged, Object: obj}, nil
		}
		return DeleteDecision{Outcome: Mark, Object: obj}, nil
	}
	// Graceful (pods): the grace is now in the object.
	if pendingFinalizers || *m.GetDeletionGracePeriodSeconds() > 0 {
		return DeleteDecision{Outcome: Mark, Object: obj}, nil
	}
	return DeleteDecision{Outcome: Remove, Object: obj, WriteFirst: true}, nil
}

// beforeDelete is rest.BeforeDelete: preconditions (B4), then the grace
// logic of graceful resources (G1–G4). graceful means the object was
// changed for a graceful deletion; pending that a graceful deletion is
// under way and the request does not shorten it.
func beforeDelete(obj runtime.Object, m metav1.Object, opts *metav1.DeleteOptions, req DeleteRequest) (graceful, pending bool, err error) {
	if err := checkPreconditions(m, opts, req.Kind); err != nil {
		return false, false, err
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		one := int64(1)
		opts.GracePeriodSeconds = &one
	}
	pod, isPod := obj.(*corev1.Pod)
	if !isPod {
		return false, false, nil
	}
	if pod.DeletionTimestamp != nil {
		cur := pod.DeletionGracePeriodSeconds
		if cur == nil || *cur == 0 {
			// Already at grace 0 (or a half-finished earlier delete): go
			// on and remove it.
			return false, false, nil
		}
		if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds >= *cur {
			return false, true, nil
		}
		shortenGrace(pod, *opts.GracePeriodSeconds, req.Now)
		return true, false, nil
	}
	grace := podGrace(pod, opts)
	ts := metav1.NewTime(req.Now.Add(time.Duration(grace) * time.Second))
	pod.DeletionTimestamp = &ts
	pod.DeletionGracePeriodSeconds = &grace
	if pod.Generation > 0 {
		pod.Generation++
	}
	return true, false, nil
}

// podGrace is the pod strategy's CheckGracefulDelete (spec G1).
func podGrace(pod *corev1.Pod, opts *metav1.DeleteOptions) int64 {
	var grace int64
	switch {
	case opts.GracePeriodSeconds != nil:
		grace = *opts.GracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		grace = 0
	}
	if grace < 0 {
		grace = 1
	}
	return grace
}

// shortenGrace applies spec G4's arithmetic for g < c: the deletion
// timestamp moves back by c-g; if that lies in the past it becomes now and
// a positive g becomes 1.
func shortenGrace(pod *corev1.Pod, g int64, now time.Time) {
	c := *pod.DeletionGracePeriodSeconds
	ts := pod.DeletionTimestamp.Add(-time.Duration(c) * time.Second).Add(time.Duration(g) * time.Second)
	if ts.Before(now) {
		ts = now
		if g > 0 {
			g = 1
		}
	}
	t := metav1.NewTime(ts)
	pod.DeletionTimestamp = &t
	pod.DeletionGracePeriodSeconds = &g
}

// markAsDeleting is the Store's markAsDeleting for non-graceful objects
// held by finalizers (A7, A9): deletionTimestamp now unless set (or set in
// the future), grace 0, generation +1 on the first transition. It reports
// whether anything changed.
func markAsDeleting(m metav1.Object, now time.Time) bool {
	changed := false
	if m.GetDeletionTimestamp() == nil && m.GetGeneration() > 0 {
		m.SetGeneration(m.GetGeneration() + 1)
		changed = true
	}
	if ts := m.GetDeletionTimestamp(); ts == nil || ts.After(now) {
		t := metav1.NewTime(now)
		m.SetDeletionTimestamp(&t)
		changed = true
	}
	if g := m.GetDeletionGracePeriodSeconds(); g == nil || *g != 0 {
		zero := int64(0)
		m.SetDeletionGracePeriodSeconds(&zero)
		changed = true
	}
	return changed
}

// checkPreconditions is spec B4: 409 Conflict naming the Kind.
func checkPreconditions(m metav1.Object, opts *metav1.DeleteOptions, kind schema.GroupKind) error {
	p := opts.Preconditions
	if p == nil {
		return nil
	}
	asResource := schema.GroupResource{Group: kind.Group, Resource: kind.Kind}
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(asResource, m.GetName(), fmt.Errorf(
			"the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated",
			*p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(asResource, m.GetName(), fmt.Errorf(
			"the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified",
			*p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// gcFinalizers is the Store's deletionFinalizersForGarbageCollection (spec
// B7): the GC finalizer the options imply, other finalizers kept in order
// and the GC finalizer appended. changed reports whether the set differs.
func gcFinalizers(current []string, opts *metav1.DeleteOptions, policy GCPolicy) (changed bool, out []string) {
	if policy == Unsupported {
		return false, current
	}
	orphan := shouldOrphan(current, opts, policy)
	foreground := shouldForeground(current, opts)
	out = make([]string, 0, len(current)+1)
	for _, f := range current {
		if f != metav1.FinalizerOrphanDependents && f != metav1.FinalizerDeleteDependents {
			out = append(out, f)
		}
	}
	if orphan {
		out = append(out, metav1.FinalizerOrphanDependents)
	}
	if foreground {
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	if sameSet(current, out) {
		return false, current
	}
	return true, out
}

func shouldOrphan(current []string, opts *metav1.DeleteOptions, policy GCPolicy) bool {
	if opts.OrphanDependents != nil {
		return *opts.OrphanDependents
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan:
			return true
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
			return false
		}
	}
	for _, f := range current {
		switch f {
		case metav1.FinalizerOrphanDependents:
			return true
		case metav1.FinalizerDeleteDependents:
			return false
		}
	}
	return policy == Orphan
}

func shouldForeground(current []string, opts *metav1.DeleteOptions) bool {
	if opts.OrphanDependents != nil {
		// B7: orphanDependents:false means background, not foreground.
		return false
	}
	if p := opts.PropagationPolicy; p != nil {
		return *p == metav1.DeletePropagationForeground
	}
	return slices.Contains(current, metav1.FinalizerDeleteDependents)
}

func sameSet(a, b []string) bool {
	set := make(map[string]bool, len(a))
	for _, x := range a {
		set[x] = true
	}
	other := make(map[string]bool, len(b))
	for _, x := range b {
		other[x] = true
		if !set[x] {
			return false
		}
	}
	return len(set) == len(other)
}

// deleteNamespace is the Namespace registry's own Delete (spec E2, E3):
// the first DELETE marks the namespace Terminating; later ones wait for
// spec.finalizers, then take the generic path.
func deleteNamespace(ns *corev1.Namespace, req DeleteRequest) (DeleteDecision, error) {
	opts := req.Options
	if err := ownPreconditions(ns, req, "Precondition failed"); err != nil {
		return DeleteDecision{}, err
	}
	if ns.DeletionTimestamp == nil {
		now := metav1.NewTime(req.Now)
		ns.DeletionTimestamp = &now
		ns.Status.Phase = corev1.NamespaceTerminating
		have := map[string]bool{}
		for _, f := range ns.Finalizers {
			have[f] = true
		}
		want := map[string]bool{
			metav1.FinalizerOrphanDependents: namespaceOrphan(opts, have[metav1.FinalizerOrphanDependents]),
			metav1.FinalizerDeleteDependents: namespaceForeground(opts, have[metav1.FinalizerDeleteDependents]),
		}
		change := false
		for f, w := range want {
			if have[f] != w {
				change = true
			}
			if w {
				have[f] = true
			} else {
				delete(have, f)
			}
		}
		if change {
			fs := make([]string, 0, len(have))
			for f := range have {
				fs = append(fs, f)
			}
			sort.Strings(fs)
			ns.Finalizers = fs
		}
		return DeleteDecision{Outcome: Mark, Object: ns}, nil
	}
	if len(ns.Spec.Finalizers) > 0 {
		return DeleteDecision{Outcome: Unchanged, Object: ns}, nil
	}
	return deleteGeneric(req)
}

func namespaceOrphan(opts *metav1.DeleteOptions, have bool) bool {
	if opts.OrphanDependents != nil {
		return *opts.OrphanDependents
	}
	if opts.PropagationPolicy != nil {
		return *opts.PropagationPolicy == metav1.DeletePropagationOrphan
	}
	return have
}

func namespaceForeground(opts *metav1.DeleteOptions, have bool) bool {
	if opts.OrphanDependents != nil {
		return !*opts.OrphanDependents
	}
	if opts.PropagationPolicy != nil {
		return *opts.PropagationPolicy == metav1.DeletePropagationForeground
	}
	return have
}

// ErrProtectedNamespace is returned for a DELETE of default, kube-system or
// kube-public (spec E4).
var ErrProtectedNamespace = errors.New("this namespace may not be deleted")

// CheckNamespaceDeletable is NamespaceLifecycle admission's rule (E4).
func CheckNamespaceDeletable(name string) error {
	switch name {
	case metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic:
		return apierrors.NewForbidden(corev1.Resource("namespaces"), name, ErrProtectedNamespace)
	}
	return nil
}

// ownPreconditions is the precondition check of the Namespace and CRD
// registries' own delete paths (spec B4): a 409 whose message starts with
// prefix ("Precondition failed" for Namespaces, "precondition failed" for
// CRDs).
func ownPreconditions(m metav1.Object, req DeleteRequest, prefix string) error {
	p := req.Options.Preconditions
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(req.Resource, m.GetName(),
			fmt.Errorf("%s: UID in precondition: %v, UID in object meta: %v", prefix, *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(req.Resource, m.GetName(),
			fmt.Errorf("%s: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", prefix, *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}
