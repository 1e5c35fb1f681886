package registry

import (
	"context"
	"errors"
	"fmt"
	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"slices"
	"sort"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/terminus-project/terminus/internal/crd"
	"github.com/terminus-project/terminus/internal/lifecycle"
)

// CRDResource is apiextensions.k8s.io/v1 customresourcedefinitions.
var CRDResource = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// customSet is what one CRD serves: a store per served version, whose
// watch caches run under cancel's context.
type customSet struct {
	uid        string
	generation int64
	// served is what of the CRD's status the served resources depend
	// on; a status write that changes none of it changes nothing here.
	served    servedState
	keyPrefix string
	stores    []*Store
	cancel    context.CancelFunc
}

// runCustomResources follows the CRDs in the registry's own watch cache and
// serves, changes or withdraws their custom resources as upstream's CRD
// handler does: a CRD is served once its names are accepted (or it is
// established) and listed in discovery once established.
func (r *Registry) runCustomResources(ctx context.Context) {
	crdStore, _ := r.Store(CRDResource)
	for ctx.Err() == nil {
		// Every CRD first, then the initial-events-end bookmark (spec I8):
		// CRDs served before but absent from the list were deleted while
		// no watch was open.
		sendInitial := true
		w, err := crdStore.Watch(ctx, "", WatchOptions{ListOptions: ListOptions{ListOptions: metav1.ListOptions{
			SendInitialEvents: &sendInitial, AllowWatchBookmarks: true,
		}}})
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("watching CustomResourceDefinitions", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-r.cfg.Clock.After(100 * time.Millisecond):
			}
			continue
		}
		seen := map[string]bool{}
		for ev := range w.ResultChan() {
			c, ok := ev.Object.(*apiextensionsv1.CustomResourceDefinition)
			if !ok {
				continue
			}
			switch ev.Type {
			case watch.Bookmark:
				if seen != nil && c.Annotations[InitialEventsEndAnnotation] == "true" {
					r.dropCustomExcept(seen)
					seen = nil
					r.customSyncOnce.Do(func() { close(r.customSynced) })
				}
			case watch.Added, watch.Modified:
				if seen != nil {
					seen[c.Name] = true
				}
				r.serveCRD(c)
			case watch.Deleted:
				r.withdrawCRD(c.Name)
			}
		}
		w.Stop()
	}
}

// dropCustomExcept withdraws every CRD not in keep.
func (r *Registry) dropCustomExcept(keep map[string]bool) {
	r.mu.RLock()
	var gone []string
	for name := range r.custom {
		if !keep[name] {
			gone = append(gone, name)
		}
	}
	r.mu.RUnlock()
	for _, name := range gone {
		r.withdrawCRD(name)
	}
}

// servedState is the part of a CRD's status and metadata that its served
// resources are built from (CustomResources).
type servedState struct {
	served, established, terminating bool
	names                            string
}

func servedStateOf(c *apiextensionsv1.CustomResourceDefinition) servedState {
	n := c.Status.AcceptedNames
	return servedState{
		served:      lifecycle.CRDServed(c),
		established: apihelpers.IsCRDConditionTrue(c, apiextensionsv1.Established),
		terminating: c.DeletionTimestamp != nil || apihelpers.IsCRDConditionTrue(c, apiextensionsv1.Terminating),
		names:       fmt.Sprint(n.Plural, "|", n.Singular, "|", n.Kind, "|", n.ListKind, "|", n.ShortNames, "|", n.Categories),
	}
}

// serveCRD brings the served custom resources of c up to date.
func (r *Registry) serveCRD(c *apiextensionsv1.CustomResourceDefinition) {
	state := servedStateOf(c)
	r.mu.RLock()
	old := r.custom[c.Name]
	unchanged := old != nil && old.uid == string(c.UID) && old.generation == c.Generation && old.served == state
	r.mu.RUnlock()
	if unchanged {
		// A status write (conditions, stored versions) that serves
		// nothing differently: no rebuild of schemas, routing,
		// discovery or OpenAPI.
		return
	}
	resources, err := CustomResources(c)
	if err != nil {
		// An invalid stored CRD (validation should prevent it) serves
		// nothing rather than half of itself.
		r.log.Error("cannot serve CustomResourceDefinition", "name", c.Name, "err", err)
		r.withdrawCRD(c.Name)
		return
	}
	if len(resources) == 0 {
		r.withdrawCRD(c.Name)
		return
	}
	r.mu.Lock()
	old = r.custom[c.Name]
	set := &customSet{uid: string(c.UID), generation: c.Generation, served: state, keyPrefix: resources[0].KeyPrefix}
	// A status change (conditions, a deletion starting) keeps the watch
	// caches and their watchers; a spec change (new schema, versions)
	// starts them afresh, since a cache decodes with its version's rules.
	reuse := old != nil && old.uid == set.uid && old.generation == set.generation && old.keyPrefix == set.keyPrefix
	var stopOld context.CancelFunc
	if old != nil {
		for _, s := range old.stores {
			delete(r.stores, s.res.GVR)
		}
		if !reuse {
			stopOld = old.cancel
		}
	}
	var cacheCtx context.Context
	if reuse {
		set.cancel = old.cancel
	} else {
		cacheCtx, set.cancel = context.WithCancel(r.runCtx)
	}
	for _, res := range resources {
		var s *Store
		if reuse {
			// The same objects in the same place: keep the watch cache
			// (and its watchers), serve them with the new rules.
			for _, o := range old.stores {
				if o.res.GVR == res.GVR {
					cp := *o
					cp.res = res
					s = &cp
				}
			}
		}
		if s == nil {
			s = r.newStore(res)
		}
		r.stores[res.GVR] = s
		set.stores = append(set.stores, s)
	}
	r.custom[c.Name] = set
	r.rebuildResourcesLocked()
	listeners := slices.Clone(r.listeners)
	r.mu.Unlock()
	if stopOld != nil {
		stopOld()
	}
	if cacheCtx != nil {
		for _, s := range set.stores {
			r.customCaches.Add(1)
			go func() {
				defer r.customCaches.Done()
				s.cache.run(cacheCtx)
			}()
		}
	}
	for _, f := range listeners {
		f()
	}
}

// withdrawCRD stops serving the custom resources of the named CRD.
func (r *Registry) withdrawCRD(name string) {
	r.mu.Lock()
	old, ok := r.custom[name]
	if !ok {
		r.mu.Unlock()
		return
	}
	for _, s := range old.stores {
		delete(r.stores, s.res.GVR)
	}
	delete(r.custom, name)
	r.rebuildResourcesLocked()
	listeners := slices.Clone(r.listeners)
	r.mu.Unlock()
	old.cancel()
	for _, f := range listeners {
		f()
	}
}

func (r *Registry) stopAllCustom() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, set := range r.custom {
		set.cancel()
	}
}

// rebuildResourcesLocked replaces the served table: built-in resources in
// table order, then custom resources by CRD name, versions in the CRD's
// order.
func (r *Registry) rebuildResourcesLocked() {
	out := slices.Clone(r.cfg.Resources)
	names := make([]string, 0, len(r.custom))
	for n := range r.custom {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, s := range r.custom[n].stores {
			out = append(out, s.res)
		}
	}
	r.resources = out
}

// customVerbs are custom resources' verbs in upstream's discovery order
// (customresource_discovery_controller.go).
var customVerbs = []string{"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"}

// CustomResources describes what a CRD serves: one Resource per served
// version, or none until its names are accepted.
func CustomResources(c *apiextensionsv1.CustomResourceDefinition) ([]*Resource, error) {
	if !lifecycle.CRDServed(c) {
		return nil, nil
	}
	names := c.Status.AcceptedNames
	if names.Kind == "" || names.Plural == "" {
		return nil, nil
	}
	storageVersion := ""
	for _, v := range c.Spec.Versions {
		if v.Storage {
			storageVersion = v.Name
		}
	}
	if storageVersion == "" {
		return nil, errors.New("no storage version")
	}
	terminating := c.DeletionTimestamp != nil || apihelpers.IsCRDConditionTrue(c, apiextensionsv1.Terminating)
	established := apihelpers.IsCRDConditionTrue(c, apiextensionsv1.Established)
	var out []*Resource
	for _, v := range c.Spec.Versions {
		if !v.Served {
			continue
		}
		cv, err := crd.NewVersion(c, v.Name)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		gv := schema.GroupVersion{Group: c.Spec.Group, Version: v.Name}
		res := &Resource{
			GVR:          gv.WithResource(c.Spec.Names.Plural),
			Kind:         names.Kind,
			ListKind:     names.ListKind,
			Namespaced:   c.Spec.Scope == apiextensionsv1.NamespaceScoped,
			ShortNames:   names.ShortNames,
			Categories:   names.Categories,
			SingularName: names.Singular,
			Verbs:        customVerbs,
			KeyPrefix:    "/registry/" + c.Spec.Group + "/" + c.Spec.Names.Plural,
			// Spec A7: custom resources have spec semantics.
			HasGeneration: true,
			GCPolicy:      GCBackground,
			// Spec A5/J4d: custom resources need a resourceVersion to
			// update.
			AllowUnconditionalUpdate: false,
			Custom:                   cv,
			CRD:                      c,
			StorageVersion:           storageVersion,
			Terminating:              terminating,
			Hidden:                   !established,
		}
		kind := gv.WithKind(names.Kind)
		listKind := gv.WithKind(names.ListKind)
		res.New = func() runtime.Object {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(kind)
			return u
		}
		res.NewList = func() runtime.Object {
			l := &unstructured.UnstructuredList{}
			l.SetGroupVersionKind(listKind)
			return l
		}
		if cv.HasStatus() {
			res.Subresources = append(res.Subresources, Subresource{Name: "status", Verbs: subresourceVerbs, GVK: kind})
		}
		if cv.HasScale() {
			res.Subresources = append(res.Subresources, Subresource{Name: "scale", Verbs: subresourceVerbs, GVK: scaleGVK})
		}
		out = append(out, res)
	}
	return out, nil
}
