package lifecycle

import (
	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func crdObject() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com", UID: "crd-uid", ResourceVersion: "40", Generation: 1},
		Status: apiextensionsv1.CustomResourceDefinitionStatus{Conditions: []apiextensionsv1.CustomResourceDefinitionCondition{
			{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))},
		}},
	}
}

var crdGR = apiextensionsv1.Resource("customresourcedefinitions")

// TestDeleteCRD covers the CRD registry's own delete path (spec F4, A7,
// A9, B4).
func TestDeleteCRD(t *testing.T) {
	t.Run("F4 the first DELETE adds the cleanup finalizer and the Terminating condition", func(t *testing.T) {
		d, err := Delete(DeleteRequest{Stored: crdObject(), Resource: crdGR, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != Mark {
			t.Fatalf("outcome %v, want Mark", d.Outcome)
		}
		got := d.Object.(*apiextensionsv1.CustomResourceDefinition)
		if diff := cmp.Diff([]string{CRDCleanupFinalizer}, got.Finalizers); diff != "" {
			t.Errorf("finalizers (-want +got):\n%s", diff)
		}
		// A9: the timestamp only, no grace seconds; A7: no generation bump.
		if !got.DeletionTimestamp.Time.Equal(now) || got.DeletionGracePeriodSeconds != nil || got.Generation != 1 {
			t.Errorf("deletionTimestamp %v, grace %v, generation %d", got.DeletionTimestamp, got.DeletionGracePeriodSeconds, got.Generation)
		}
		cond := apihelpers.FindCRDCondition(got, apiextensionsv1.Terminating)
		want := &apiextensionsv1.CustomResourceDefinitionCondition{
			Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue, LastTransitionTime: metav1.NewTime(now),
			Reason: "InstanceDeletionPending", Message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
		}
		if diff := cmp.Diff(want, cond); diff != "" {
			t.Errorf("Terminating condition (-want +got):\n%s", diff)
		}
		if est := apihelpers.FindCRDCondition(got, apiextensionsv1.Established); est == nil || !est.LastTransitionTime.Time.Equal(now.Add(-time.Hour)) {
			t.Errorf("Established condition changed: %+v", est)
		}
	})
	t.Run("F4 a later DELETE takes the generic path and waits for the finalizer", func(t *testing.T) {
		c := crdObject()
		c.DeletionTimestamp = ts(now.Add(-time.Minute))
		c.Finalizers = []string{CRDCleanupFinalizer}
		// The generic markAsDeleting sets the grace seconds the CRD path
		// left absent (A9), once.
		d, err := Delete(DeleteRequest{Stored: c, Resource: crdGR, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		got := d.Object.(*apiextensionsv1.CustomResourceDefinition)
		if d.Outcome != Mark || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 0 || !got.DeletionTimestamp.Time.Equal(now.Add(-time.Minute)) {
			t.Fatalf("second DELETE: outcome %v, grace %v, timestamp %v", d.Outcome, got.DeletionGracePeriodSeconds, got.DeletionTimestamp)
		}
		d, err = Delete(DeleteRequest{Stored: got, Resource: crdGR, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != Unchanged {
			t.Errorf("third DELETE: outcome %v, want Unchanged", d.Outcome)
		}
	})
	t.Run("B4 preconditions give the CRD registry's lowercase messages", func(t *testing.T) {
		for _, c := range []struct {
			pre  *metav1.Preconditions
			want string
		}{
			{&metav1.Preconditions{UID: ptr.To(types.UID("other"))},
				`Operation cannot be fulfilled on customresourcedefinitions.apiextensions.k8s.io "widgets.example.com": precondition failed: UID in precondition: other, UID in object meta: crd-uid`},
			{&metav1.Preconditions{ResourceVersion: ptr.To("1")},
				`Operation cannot be fulfilled on customresourcedefinitions.apiextensions.k8s.io "widgets.example.com": precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: 40`},
		} {
			_, err := Delete(DeleteRequest{Stored: crdObject(), Options: &metav1.DeleteOptions{Preconditions: c.pre}, Resource: crdGR, Now: now})
			if !apierrors.IsConflict(err) || err.Error() != c.want {
				t.Errorf("got %v, want 409 %q", err, c.want)
			}
		}
	})
}
