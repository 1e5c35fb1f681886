package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/lru"
)

// The finalizer-removal backoff is client-go's retry.DefaultBackoff (D11),
// run on the injected clock: 4 attempts, 10 ms ×5.
const (
	finalizerBackoffSteps  = 4
	finalizerBackoffFirst  = 10 * time.Millisecond
	finalizerBackoffFactor = 5
)

func namespaceFor(namespaced bool, ns string) string {
	if namespaced {
		return ns
	}
	return ""
}

// apiResource maps a reference's apiVersion and kind to its resource and
// scope (D3, D16).
func (c *Controller) apiResource(apiVersion, kind string) (schema.GroupVersionResource, bool, error) {
	gvk := schema.FromAPIVersionAndKind(apiVersion, kind)
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return schema.GroupVersionResource{}, false, &restMappingError{kind: kind, apiVersion: apiVersion}
	}
	return m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// getObject reads the object at item's coordinates live.
func (c *Controller) getObject(ctx context.Context, item objectReference) (*metav1.PartialObjectMetadata, error) {
	gvr, namespaced, err := c.apiResource(item.APIVersion, item.Kind)
	if err != nil {
		return nil, err
	}
	if namespaced && item.Namespace == "" {
		return nil, errNamespacedOwnerOfClusterScopedObject
	}
	return c.metadata.Resource(gvr).Namespace(namespaceFor(namespaced, item.Namespace)).Get(ctx, item.Name, metav1.GetOptions{})
}

// deleteObject deletes item with an explicit policy (D18) and uid and
// resourceVersion preconditions. On a conflict where the live object's
// references are unchanged it retries without the resourceVersion (D4).
func (c *Controller) deleteObject(ctx context.Context, item objectReference, rv string, owners []metav1.OwnerReference, policy metav1.DeletionPropagation) error {
	gvr, namespaced, err := c.apiResource(item.APIVersion, item.Kind)
	if err != nil {
		return err
	}
	uid := item.UID
	pre := metav1.Preconditions{UID: &uid}
	if rv != "" {
		pre.ResourceVersion = &rv
	}
	rc := c.metadata.Resource(gvr).Namespace(namespaceFor(namespaced, item.Namespace))
	err = rc.Delete(ctx, item.Name, metav1.DeleteOptions{Preconditions: &pre, PropagationPolicy: &policy})
	if apierrors.IsConflict(err) && rv != "" {
		live, lerr := rc.Get(ctx, item.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(lerr) {
			return lerr
		}
		if lerr == nil && live.UID == item.UID && live.ResourceVersion != rv && reflect.DeepEqual(live.OwnerReferences, owners) {
			return c.deleteObject(ctx, item, "", nil, policy)
		}
	}
	return err
}

func (c *Controller) patchObject(ctx context.Context, item objectReference, patch []byte, pt types.PatchType) (*metav1.PartialObjectMetadata, error) {
	gvr, namespaced, err := c.apiResource(item.APIVersion, item.Kind)
	if err != nil {
		return nil, err
	}
	return c.metadata.Resource(gvr).Namespace(namespaceFor(namespaced, item.Namespace)).Patch(ctx, item.Name, pt, patch, metav1.PatchOptions{})
}

type jsonMergePatchFunc func(context.Context, *node) ([]byte, error)

// patch sends a strategic merge patch and, when the resource does not
// support it (415, custom resources), the JSON merge patch jmp builds.
func (c *Controller) patch(ctx context.Context, item *node, smp []byte, jmp jsonMergePatchFunc) (*metav1.PartialObjectMetadata, error) {
	out, err := c.patchObject(ctx, item.identity, smp, types.StrategicMergePatchType)
	if err == nil || !apierrors.IsUnsupportedMediaType(err) {
		return out, err
	}
	p, err := jmp(ctx, item)
	if err != nil {
		return nil, err
	}
	return c.patchObject(ctx, item.identity, p, types.MergePatchType)
}

// deleteOwnerRefStrategicMergePatch removes the references with the given
// uids, guarded by the dependent's uid (upstream
// GenerateDeleteOwnerRefStrategicMergeBytes).
func deleteOwnerRefStrategicMergePatch(dependent types.UID, owners []types.UID) ([]byte, error) {
	refs := make([]map[string]string, 0, len(owners))
	for _, u := range owners {
		refs = append(refs, map[string]string{"$patch": "delete", "uid": string(u)})
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{"uid": dependent, "ownerReferences": refs}})
}

// mergePatchMeta is the body of the GC's JSON merge patches: the
// resourceVersion makes them conditional.
type mergePatchMeta struct {
	ResourceVersion string                  `json:"resourceVersion"`
	OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
}

type mergePatch struct {
	Metadata mergePatchMeta `json:"metadata"`
}

func (c *Controller) deleteOwnerRefJSONMergePatch(ctx context.Context, item *node, owners ...types.UID) ([]byte, error) {
	live, err := c.getObject(ctx, item.identity)
	if err != nil {
		return nil, err
	}
	p := mergePatch{Metadata: mergePatchMeta{ResourceVersion: live.ResourceVersion}}
	for _, r := range live.OwnerReferences {
		if !slices.Contains(owners, r.UID) {
			p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, r)
		}
	}
	return json.Marshal(p)
}

// unblockOwnerReferencesStrategicMergePatch sets blockOwnerDeletion=false
// on n's blocking references.
func unblockOwnerReferencesStrategicMergePatch(n *node) ([]byte, error) {
	var refs []metav1.OwnerReference
	for _, o := range n.getOwners() {
		if isTrue(o.BlockOwnerDeletion) {
			o.BlockOwnerDeletion = new(false)
			refs = append(refs, o)
		}
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{"uid": n.identity.UID, "ownerReferences": refs}})
}

func (c *Controller) unblockOwnerReferencesJSONMergePatch(ctx context.Context, n *node) ([]byte, error) {
	live, err := c.getObject(ctx, n.identity)
	if err != nil {
		return nil, err
	}
	p := mergePatch{Metadata: mergePatchMeta{ResourceVersion: live.ResourceVersion}}
	for _, o := range live.OwnerReferences {
		o.BlockOwnerDeletion = new(false)
		p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, o)
	}
	return json.Marshal(p)
}

type finalizersPatch struct {
	Metadata struct {
		ResourceVersion string   `json:"resourceVersion"`
		Finalizers      []string `json:"finalizers"`
	} `json:"metadata"`
}

// removeFinalizer removes one of the GC's finalizers from owner with a
// JSON merge patch carrying resourceVersion, retrying conflicts with
// DefaultBackoff (D11, C9). A missing object or finalizer is done.
func (c *Controller) removeFinalizer(ctx context.Context, owner *node, finalizer string) error {
	delay := finalizerBackoffFirst
	for attempt := 1; ; attempt++ {
		err := c.tryRemoveFinalizer(ctx, owner, finalizer)
		if !apierrors.IsConflict(err) {
			return err
		}
		if attempt == finalizerBackoffSteps {
			return fmt.Errorf("removing finalizer %s from %s: still conflicting after %d attempts: %w", finalizer, owner.identity, attempt, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.clock.After(delay):
		}
		delay *= finalizerBackoffFactor
	}
}

func (c *Controller) tryRemoveFinalizer(ctx context.Context, owner *node, finalizer string) error {
	live, err := c.getObject(ctx, owner.identity)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot finalize owner %s: %w", owner.identity, err)
	}
	if !slices.Contains(live.Finalizers, finalizer) {
		return nil
	}
	var p finalizersPatch
	p.Metadata.ResourceVersion = live.ResourceVersion
	p.Metadata.Finalizers = slices.DeleteFunc(slices.Clone(live.Finalizers), func(f string) bool { return f == finalizer })
	if p.Metadata.Finalizers == nil {
		p.Metadata.Finalizers = []string{}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = c.patchObject(ctx, owner.identity, body, types.MergePatchType)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		c.metrics.finalizers.WithLabelValues(finalizer).Inc()
	}
	return err
}

// referenceCache is the LRU of owners verified absent (D3).
type referenceCache struct{ cache *lru.Cache }

func newReferenceCache(size int) *referenceCache { return &referenceCache{cache: lru.New(size)} }

func (r *referenceCache) Add(ref objectReference) { r.cache.Add(ref, nil) }

func (r *referenceCache) Has(ref objectReference) bool {
	_, ok := r.cache.Get(ref)
	return ok
}
