package namespace

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// cond is a condition without its time, for comparisons.
type cond struct {
	Status  corev1.ConditionStatus
	Reason  string
	Message string
}

func conditions(ns *corev1.Namespace) map[corev1.NamespaceConditionType]cond {
	out := map[corev1.NamespaceConditionType]cond{}
	for _, c := range ns.Status.Conditions {
		out[c.Type] = cond{c.Status, c.Reason, c.Message}
	}
	return out
}

// allOK is the five conditions of a namespace whose content is gone.
func allOK() map[corev1.NamespaceConditionType]cond {
	out := map[corev1.NamespaceConditionType]cond{}
	for _, t := range conditionTypes {
		r, m := okCondition(t)
		out[t] = cond{corev1.ConditionFalse, r, m}
	}
	return out
}

func with(m map[corev1.NamespaceConditionType]cond, t corev1.NamespaceConditionType, c cond) map[corev1.NamespaceConditionType]cond {
	m[t] = c
	return m
}

func estimateOf(t *testing.T, err error) int64 {
	t.Helper()
	var r *remainingError
	if !errors.As(err, &r) {
		t.Fatalf("sync: got %v, want content remaining", err)
	}
	return r.estimate
}

func TestSync(t *testing.T) {
	ctx := context.Background()

	t.Run("E10 pods first: nothing else is touched while pods remain", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, FinalizerName), Config{})
		f.add(podsGVR, "Pod", "held", nil, "example.com/hold")
		f.add(podsGVR, "Pod", "plain", nil)
		f.add(configMapsGVR, "ConfigMap", "cm", nil)
		err := f.c.sync(ctx, testNS)
		if got := estimateOf(t, err); got != finalizerEstimateSeconds {
			t.Errorf("estimate = %d, want %d", got, finalizerEstimateSeconds)
		}
		if diff := cmp.Diff([]string{"delete-collection pods", "list pods"}, f.metaCalls()); diff != "" {
			t.Errorf("metadata calls (-want +got):\n%s", diff)
		}
		// Upstream does not count what remains while pods terminate:
		// the content conditions stay all OK (differential run, v1.37.2).
		want := allOK()
		if diff := cmp.Diff(want, conditions(f.namespace())); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
		if len(f.finalizes) != 0 {
			t.Errorf("finalized while pods remain: %v", f.finalizes)
		}

		// Once the pod is gone, the rest is deleted and the namespace finalized.
		f.remove(podsGVR, "held")
		f.meta.ClearActions()
		if err := f.c.sync(ctx, testNS); err != nil {
			t.Fatalf("second pass: %v", err)
		}
		wantCalls := []string{
			"delete-collection pods", "list pods",
			"delete-collection configmaps", "list configmaps",
			"delete-collection secrets", "list secrets",
			"delete-collection deployments", "list deployments",
		}
		if diff := cmp.Diff(wantCalls, f.metaCalls()); diff != "" {
			t.Errorf("metadata calls (-want +got):\n%s", diff)
		}
		if f.namespace() != nil {
			t.Errorf("E7 the namespace should be gone after /finalize")
		}
	})

	t.Run("E10 step 9 finalize removes kubernetes and keeps the others sorted", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, "z.example.com/last", FinalizerName, "a.example.com/first"), Config{})
		f.add(configMapsGVR, "ConfigMap", "cm", nil)
		f.add(deployGVR, "Deployment", "d", nil)
		if err := f.c.sync(ctx, testNS); err != nil {
			t.Fatal(err)
		}
		want := [][]corev1.FinalizerName{{"a.example.com/first", "z.example.com/last"}}
		if diff := cmp.Diff(want, f.finalizes); diff != "" {
			t.Errorf("finalize calls (-want +got):\n%s", diff)
		}
		ns := f.namespace()
		if ns == nil {
			t.Fatal("the namespace was removed although other spec.finalizers remain")
		}
		if diff := cmp.Diff(allOK(), conditions(ns)); diff != "" {
			t.Errorf("E11 conditions (-want +got):\n%s", diff)
		}
	})

	t.Run("E10 step 7 items with finalizers give a 15 s estimate and no finalize", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, FinalizerName), Config{})
		f.add(configMapsGVR, "ConfigMap", "stuck", nil, "example.com/stuck", "example.com/other")
		f.add(configMapsGVR, "ConfigMap", "stuck2", nil, "example.com/stuck")
		f.add(secretsGVR, "Secret", "s", nil)
		err := f.c.sync(ctx, testNS)
		var r *remainingError
		if !errors.As(err, &r) || r.estimate != 15 || r.RequeueAfter() != 8*time.Second {
			t.Fatalf("sync = %v, want 15 s remaining with a requeue after 8 s", err)
		}
		if len(f.finalizes) != 0 {
			t.Errorf("finalized with content left: %v", f.finalizes)
		}
		want := allOK()
		want[corev1.NamespaceContentRemaining] = cond{corev1.ConditionTrue, "SomeResourcesRemain",
			"Some resources are remaining: configmaps. has 2 resource instances"}
		want[corev1.NamespaceFinalizersRemaining] = cond{corev1.ConditionTrue, "SomeFinalizersRemain",
			"Some content in the namespace has finalizers remaining: example.com/other in 1 resource instances, example.com/stuck in 2 resource instances"}
		if diff := cmp.Diff(want, conditions(f.namespace())); diff != "" {
			t.Errorf("E11 conditions (-want +got):\n%s", diff)
		}
	})

	t.Run("E10 step 7 leftovers without finalizers are an error", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, FinalizerName), Config{})
		f.add(secretsGVR, "Secret", "s1", nil)
		f.add(secretsGVR, "Secret", "s2", nil)
		f.add(configMapsGVR, "ConfigMap", "cm", nil)
		f.stuck[secretsGVR] = true
		err := f.c.sync(ctx, testNS)
		const msg = "unexpected items still remain in namespace: doomed for gvr: /v1, Resource=secrets"
		if err == nil || err.Error() != msg {
			t.Fatalf("sync = %v, want %q", err, msg)
		}
		var r *remainingError
		if errors.As(err, &r) {
			t.Fatalf("an error must not be a requeue with an estimate")
		}
		want := allOK()
		want[corev1.NamespaceDeletionContentFailure] = cond{corev1.ConditionTrue, "ContentDeletionFailed",
			"Failed to delete all resource types, 1 remaining: " + msg}
		want[corev1.NamespaceContentRemaining] = cond{corev1.ConditionTrue, "SomeResourcesRemain",
			"Some resources are remaining: secrets. has 2 resource instances"}
		if diff := cmp.Diff(want, conditions(f.namespace())); diff != "" {
			t.Errorf("E11 conditions (-want +got):\n%s", diff)
		}
		if len(f.finalizes) != 0 {
			t.Errorf("finalized after an error: %v", f.finalizes)
		}
	})

	t.Run("E8 empty spec.finalizers: the pass does nothing", func(t *testing.T) {
		f := newFixture(t, terminating(epoch), Config{})
		f.add(configMapsGVR, "ConfigMap", "cm", nil)
		if err := f.c.sync(ctx, testNS); err != nil {
			t.Fatal(err)
		}
		if calls := f.metaCalls(); len(calls) != 0 || len(f.finalizes) != 0 {
			t.Errorf("calls %v finalizes %v, want none", calls, f.finalizes)
		}
		if ns := f.namespace(); ns == nil || len(ns.Status.Conditions) != 0 {
			t.Errorf("E8 the namespace should stay as it was, got %+v", ns)
		}
	})

	t.Run("E10 step 1 a live namespace is left alone", func(t *testing.T) {
		ns := terminating(epoch, FinalizerName)
		ns.DeletionTimestamp = nil
		ns.Status.Phase = corev1.NamespaceActive
		f := newFixture(t, ns, Config{})
		f.add(configMapsGVR, "ConfigMap", "cm", nil)
		if err := f.c.sync(ctx, testNS); err != nil {
			t.Fatal(err)
		}
		if calls := f.metaCalls(); len(calls) != 0 {
			t.Errorf("calls %v, want none", calls)
		}
		if err := f.c.sync(ctx, "missing"); err != nil {
			t.Errorf("a missing namespace: %v", err)
		}
	})

	t.Run("E10 step 2 the phase is set through status", func(t *testing.T) {
		ns := terminating(epoch, FinalizerName, "example.com/keep")
		ns.Status.Phase = corev1.NamespaceActive
		f := newFixture(t, ns, Config{})
		var phases []corev1.NamespacePhase
		f.client.PrependReactor("update", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "status" {
				phases = append(phases, a.(clienttesting.UpdateAction).GetObject().(*corev1.Namespace).Status.Phase)
			}
			return false, nil, nil
		})
		if err := f.c.sync(ctx, testNS); err != nil {
			t.Fatal(err)
		}
		if len(phases) == 0 || phases[0] != corev1.NamespaceTerminating {
			t.Errorf("status updates with phases %v, want Terminating first", phases)
		}
	})

	t.Run("E10 step 5 without deletecollection items are deleted one by one, ignoring 404 and 405", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, FinalizerName), Config{})
		f.disc.lists = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Namespaced: true, Verbs: metav1.Verbs{"delete", "get", "list"}},
			{Name: "events", Namespaced: true, Verbs: metav1.Verbs{"delete", "get", "list", "deletecollection"}},
			{Name: "bindings", Namespaced: true, Verbs: metav1.Verbs{"create"}},
		}}}
		f.add(configMapsGVR, "ConfigMap", "a", nil)
		f.add(configMapsGVR, "ConfigMap", "b", nil)
		eventsGVR := schema.GroupVersionResource{Version: "v1", Resource: "events"}
		f.add(eventsGVR, "Event", "e", nil)
		f.meta.PrependReactor("delete", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if a.(clienttesting.DeleteAction).GetName() == "a" {
				f.remove(configMapsGVR, "a")
				return true, nil, apierrors.NewMethodNotSupported(configMapsGVR.GroupResource(), "delete")
			}
			return false, nil, nil
		})
		// A collection delete answered 405 falls back to one by one.
		f.meta.PrependReactor("delete-collection", "events", func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewMethodNotSupported(eventsGVR.GroupResource(), "deletecollection")
		})
		if err := f.c.sync(ctx, testNS); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"list configmaps", "delete configmaps", "delete configmaps", "list configmaps",
			"delete-collection events", "list events", "delete events", "list events",
		}
		if diff := cmp.Diff(want, f.metaCalls()); diff != "" {
			t.Errorf("metadata calls (-want +got):\n%s", diff)
		}
		if f.namespace() != nil {
			t.Error("the namespace should be finalized")
		}
	})

	t.Run("E10 step 7 the pod estimate is the largest grace period until it has passed", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, FinalizerName), Config{})
		f.add(podsGVR, "Pod", "slow", ptr.To[int64](30))
		f.add(podsGVR, "Pod", "fast", ptr.To[int64](10))
		// The pods stay while the kubelet stops them.
		f.stuck[podsGVR] = true
		if got := estimateOf(t, f.c.sync(ctx, testNS)); got != 30 {
			t.Errorf("estimate = %d, want 30", got)
		}
		if calls := f.metaCalls(); strings.Contains(strings.Join(calls, ","), "configmaps") {
			t.Errorf("configmaps touched while pods remain: %v", calls)
		}
		// Once 30 s have passed since the namespace was deleted, pods
		// without finalizers that remain are an error.
		f.clock.Step(30 * time.Second)
		err := f.c.sync(ctx, testNS)
		var r *remainingError
		if err == nil || errors.As(err, &r) || !strings.Contains(err.Error(), "for gvr: /v1, Resource=pods") {
			t.Errorf("sync after the grace period = %v, want the leftover error for pods", err)
		}
	})

	t.Run("E11 discovery failures are reported and the rest is deleted", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, FinalizerName), Config{})
		f.disc.err = &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
			{Group: "broken.example.com", Version: "v1"}: fmt.Errorf("the server is unavailable"),
		}}
		f.add(configMapsGVR, "ConfigMap", "cm", nil)
		err := f.c.sync(ctx, testNS)
		if err == nil {
			t.Fatal("want the discovery error")
		}
		want := allOK()
		want[corev1.NamespaceDeletionDiscoveryFailure] = cond{corev1.ConditionTrue, "DiscoveryFailed",
			"Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: broken.example.com/v1: the server is unavailable"}
		if diff := cmp.Diff(want, conditions(f.namespace())); diff != "" {
			t.Errorf("E11 conditions (-want +got):\n%s", diff)
		}
		if _, err := f.meta.Resource(configMapsGVR).Namespace(testNS).Get(ctx, "cm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the configmap should be deleted despite the discovery error, got %v", err)
		}
		if len(f.finalizes) != 0 {
			t.Errorf("finalized after an error: %v", f.finalizes)
		}
	})

	t.Run("E11 group version parsing failures are reported", func(t *testing.T) {
		f := newFixture(t, terminating(epoch, FinalizerName), Config{})
		f.disc.lists = append(f.disc.lists, &metav1.APIResourceList{GroupVersion: "a/b/c", APIResources: []metav1.APIResource{
			{Name: "things", Namespaced: true, Verbs: allVerbs},
		}})
		if err := f.c.sync(ctx, testNS); err == nil {
			t.Fatal("want the parsing error")
		}
		got := conditions(f.namespace())[corev1.NamespaceDeletionGVParsingFailure]
		want := cond{corev1.ConditionTrue, "GroupVersionParsingFailed", "unexpected GroupVersion string: a/b/c"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("condition (-want +got):\n%s", diff)
		}
	})
}
