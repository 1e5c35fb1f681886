package endpointslice

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/terminus-project/terminus/internal/controller/endpointutil"
)

// plan is what one sync writes: slices to create, to update (whole
// objects, with the cached resourceVersion for optimistic concurrency)
// and to delete.
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

// nodeGetter reads a cached node; a missing node is a NotFound error.
type nodeGetter func(name string) (*corev1.Node, error)

// planner computes plans (upstream k8s.io/endpointslice Reconciler,
// without the topology hints).
type planner struct {
	maxPerSlice int
	nodes       nodeGetter
}

// plan computes the writes that make existing (the service's cached
// managed slices) the slices of svc's pods. It also returns an error for
// each pod left out because its node is not cached, so that the service
// is synced again (upstream: the pod's node may appear, or podgc removes
// the pod).
func (p *planner) plan(svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice) (plan, error) {
	var out plan
	var errs []error
	types := addressTypes(svc)
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if !slices.Contains(types, s.AddressType) {
			// The service no longer has this family.
			out.delete = append(out.delete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	for _, at := range types {
		pl, err := p.planAddressType(svc, pods, byType[at], at)
		if err != nil {
			errs = append(errs, err)
		}
		out.create = append(out.create, pl.create...)
		out.update = append(out.update, pl.update...)
		out.delete = append(out.delete, pl.delete...)
	}
	out.reuseDeleted(svc)
	return out, errors.Join(errs...)
}

// desiredGroup is the endpoints of one port mapping.
type desiredGroup struct {
	ports     []discoveryv1.EndpointPort
	endpoints map[string]*discoveryv1.Endpoint
}

// planAddressType is upstream reconcileByAddressType.
func (p *planner) planAddressType(svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice, at discoveryv1.AddressType) (plan, error) {
	var out plan
	var errs []error
	existingByPorts := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if !ownedBy(s, svc) {
			// A slice of an earlier service of this name.
			out.delete = append(out.delete, s)
			continue
		}
		k := portMapKey(s.Ports)
		existingByPorts[k] = append(existingByPorts[k], s)
	}

	desired := map[string]*desiredGroup{}
	for _, pod := range pods {
		// G10: terminating pods stay (with their conditions); terminal
		// pods and pods without an IP go.
		if !endpointutil.ShouldPodBeInEndpoints(pod, true) {
			continue
		}
		ports := endpointPorts(svc, pod)
		k := portMapKey(ports)
		var node *corev1.Node
		if pod.Spec.NodeName != "" {
			n, err := p.nodes(pod.Spec.NodeName)
			switch {
			case err == nil:
				node = n
			case !apierrors.IsNotFound(err):
				return out, fmt.Errorf("reading node %s: %w", pod.Spec.NodeName, err)
			case !svc.Spec.PublishNotReadyAddresses:
				// Leave the pod out but come back (upstream's choice: a
				// pod on a missing node must not hold the slice back).
				errs = append(errs, fmt.Errorf("skipping pod %s: node %s not found", pod.Name, pod.Spec.NodeName))
				continue
			}
		}
		ep := podToEndpoint(pod, node, svc, at)
		if len(ep.Addresses) == 0 {
			continue
		}
		g := desired[k]
		if g == nil {
			g = &desiredGroup{ports: ports, endpoints: map[string]*discoveryv1.Endpoint{}}
			desired[k] = g
		}
		g.endpoints[endpointKey(&ep)] = &ep
	}

	for _, k := range slices.Sorted(maps.Keys(desired)) {
		pl := p.planPorts(svc, existingByPorts[k], desired[k], at)
		out.create = append(out.create, pl.create...)
		out.update = append(out.update, pl.update...)
		out.delete = append(out.delete, pl.delete...)
	}
	// Slices of port mappings no pod has any more.
	for _, k := range slices.Sorted(maps.Keys(existingByPorts)) {
		if _, ok := desired[k]; !ok {
			out.delete = append(out.delete, existingByPorts[k]...)
		}
	}

	// A service without endpoints keeps one empty placeholder slice
	// (upstream), so that consumers can tell "no endpoints" from "not
	// reconciled yet".
	if len(existing) == len(out.delete) && len(out.create) == 0 {
		if len(out.delete) == 1 && isPlaceholder(out.delete[0], svc, at) {
			out.delete = nil
		} else {
			out.create = append(out.create, newSlice(svc, []discoveryv1.EndpointPort{}, at))
		}
	}
	return out, errors.Join(errs...)
}

// planPorts is upstream reconcileByPortMapping: keep desired endpoints
// where they are (updating changed ones), drop the others, fill the
// slices being updated anyway, then put what is left into one unchanged
// slice that has room for all of it, else into new slices.
func (p *planner) planPorts(svc *corev1.Service, existing []*discoveryv1.EndpointSlice, want *desiredGroup, at discoveryv1.AddressType) plan {
	var out plan
	var toUpdate, unchanged []*discoveryv1.EndpointSlice
	for _, s := range existing {
		var keep []discoveryv1.Endpoint
		changed := false
		for i := range s.Endpoints {
			k := endpointKey(&s.Endpoints[i])
			d, ok := want.endpoints[k]
			if !ok {
				continue
			}
			keep = append(keep, *d)
			changed = changed || !endpointsEqual(d, &s.Endpoints[i])
			delete(want.endpoints, k)
		}
		labels := sliceLabels(svc)
		switch {
		case changed || len(keep) != len(s.Endpoints):
			if len(keep) == 0 {
				out.delete = append(out.delete, s)
				continue
			}
			s = s.DeepCopy()
			s.Endpoints, s.Labels = keep, labels
			toUpdate = append(toUpdate, s)
		case !maps.Equal(s.Labels, labels):
			s = s.DeepCopy()
			s.Labels = labels
			toUpdate = append(toUpdate, s)
		default:
			unchanged = append(unchanged, s)
		}
	}

	// What is left, in a stable order.
	var left []*discoveryv1.Endpoint
	for _, k := range slices.Sorted(maps.Keys(want.endpoints)) {
		left = append(left, want.endpoints[k])
	}
	// Fill the fullest slices being updated first.
	slices.SortStableFunc(toUpdate, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(len(b.Endpoints), len(a.Endpoints)) })
	for _, s := range toUpdate {
		for len(left) > 0 && len(s.Endpoints) < p.maxPerSlice {
			s.Endpoints = append(s.Endpoints, *left[0])
			left = left[1:]
		}
	}
	for len(left) > 0 {
		var fill *discoveryv1.EndpointSlice
		if len(left) < p.maxPerSlice {
			if i := sliceToFill(unchanged, len(left), p.maxPerSlice); i >= 0 {
				fill = unchanged[i].DeepCopy()
				unchanged = slices.Delete(unchanged, i, i+1)
				toUpdate = append(toUpdate, fill)
			}
		}
		if fill == nil {
			fill = newSlice(svc, want.ports, at)
			out.create = append(out.create, fill)
		}
		for len(left) > 0 && len(fill.Endpoints) < p.maxPerSlice {
			fill.Endpoints = append(fill.Endpoints, *left[0])
			left = left[1:]
		}
	}
	out.update = toUpdate
	return out
}

// sliceToFill returns the index of the fullest slice with room for n more
// endpoints, or -1 (upstream getSliceToFill).
func sliceToFill(candidates []*discoveryv1.EndpointSlice, n, limit int) int {
	best := -1
	for i, s := range candidates {
		if len(s.Endpoints)+n <= limit && (best < 0 || len(s.Endpoints) > len(candidates[best].Endpoints)) {
			best = i
		}
	}
	return best
}

// reuseDeleted turns a create and a delete of the same address type into
// an update of the slice that would go (upstream finalize): fewer writes,
// and slice names stay stable. Only slices owned by svc are reused, never
// those of an earlier service of the same name that the garbage collector
// is taking.
func (pl *plan) reuseDeleted(svc *corev1.Service) {
	for i := 0; i < len(pl.delete) && len(pl.create) > 0; {
		old := pl.delete[i]
		last := pl.create[len(pl.create)-1]
		if old.AddressType != last.AddressType || !ownedBy(old, svc) {
			i++
			continue
		}
		reused := old.DeepCopy()
		reused.Labels, reused.Ports, reused.Endpoints = last.Labels, last.Ports, last.Endpoints
		pl.create = pl.create[:len(pl.create)-1]
		pl.update = append(pl.update, reused)
		pl.delete = slices.Delete(pl.delete, i, i+1)
	}
}

// apply writes pl: creates (not for a service being deleted, which
// would race the garbage collector), updates, deletes, stopping at the
// first error. Created and updated slices carry the trigger time.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, pl plan, trigger time.Time) error {
	client := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	if svc.DeletionTimestamp == nil {
		for _, s := range pl.create {
			s.Annotations = endpointutil.SetTriggerTime(s.Annotations, trigger)
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			c.metrics.change("create", err)
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					// Every create would fail alike; the namespace is
					// going away with the service.
					return nil
				}
				return fmt.Errorf("creating an EndpointSlice for service %s/%s: %w", svc.Namespace, svc.Name, err)
			}
			c.tracker.update(created)
		}
	}
	for _, s := range pl.update {
		s.Annotations = endpointutil.SetTriggerTime(s.Annotations, trigger)
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		c.metrics.change("update", err)
		if err != nil {
			return fmt.Errorf("updating EndpointSlice %s/%s: %w", s.Namespace, s.Name, err)
		}
		c.tracker.update(updated)
	}
	for _, s := range pl.delete {
		if err := c.deleteSlice(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// deleteSlice deletes s, that exact object (a uid precondition), and
// expects the informer to show it gone. A slice already gone is fine.
func (c *Controller) deleteSlice(ctx context.Context, s *discoveryv1.EndpointSlice) error {
	err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(s.UID))})
	c.metrics.change("delete", err)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting EndpointSlice %s/%s: %w", s.Namespace, s.Name, err)
	}
	c.tracker.expectDeletion(s)
	return nil
}

// newSlice is an empty slice of svc with ports and address type at
// (upstream newEndpointSlice): generateName "<service>-", the service as
// controller owner, blocking its foreground deletion.
func newSlice(svc *corev1.Service, ports []discoveryv1.EndpointPort, at discoveryv1.AddressType) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       svc.Namespace,
			GenerateName:    slicePrefix(svc.Name),
			Labels:          sliceLabels(svc),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))},
		},
		AddressType: at,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
}

// slicePrefix is "<service>-", or the bare name if that is not a valid
// prefix (upstream getEndpointSlicePrefix).
func slicePrefix(name string) string {
	prefix := name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		return name
	}
	return prefix
}

// sliceLabels are a slice's labels (upstream setEndpointSliceLabels): the
// service's, minus the reserved keys, plus the service name, the
// manager and, for a headless service, service.kubernetes.io/headless.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		switch k {
		case discoveryv1.LabelServiceName, discoveryv1.LabelManagedBy, corev1.IsHeadlessService:
			continue
		}
		out[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ControllerName
	return out
}

// ownedBy reports whether svc is the slice's controller owner.
func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	ref := metav1.GetControllerOfNoCopy(s)
	return ref != nil && ref.UID == svc.UID && ref.Kind == "Service"
}

// isPlaceholder reports whether s is already the placeholder slice that
// planAddressType would create.
func isPlaceholder(s *discoveryv1.EndpointSlice, svc *corev1.Service, at discoveryv1.AddressType) bool {
	return ownedBy(s, svc) && s.AddressType == at && len(s.Endpoints) == 0 && len(s.Ports) == 0 &&
		maps.Equal(s.Labels, sliceLabels(svc))
}
