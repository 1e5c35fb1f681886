package lifecycle

import (
	"slices"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CRDCleanupFinalizer holds a CustomResourceDefinition until its custom
// resources are gone (spec F4).
const CRDCleanupFinalizer = apiextensionsv1.CustomResourceCleanupFinalizer

// deleteCRD is the CRD registry's own Delete (spec F4, A9, B4): the first
// DELETE sets deletionTimestamp (no grace seconds, no generation bump),
// adds the cleanup finalizer and the Terminating condition; later ones
// take the generic path, which waits for the finalizers.
func deleteCRD(c *apiextensionsv1.CustomResourceDefinition, req DeleteRequest) (DeleteDecision, error) {
	if err := ownPreconditions(c, req, "precondition failed"); err != nil {
		return DeleteDecision{}, err
	}
	if c.DeletionTimestamp != nil {
		return deleteGeneric(req)
	}
	now := metav1.NewTime(req.Now)
	c.DeletionTimestamp = &now
	if !slices.Contains(c.Finalizers, CRDCleanupFinalizer) {
		c.Finalizers = append(c.Finalizers, CRDCleanupFinalizer)
	}
	SetCRDCondition(c, apiextensionsv1.CustomResourceDefinitionCondition{
		Type:    apiextensionsv1.Terminating,
		Status:  apiextensionsv1.ConditionTrue,
		Reason:  "InstanceDeletionPending",
		Message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
	}, req.Now)
	return DeleteDecision{Outcome: Mark, Object: c}, nil
}

// SetCRDCondition sets or replaces a condition as upstream's
// SetCRDCondition does: the transition time moves only when the status
// changes.
func SetCRDCondition(c *apiextensionsv1.CustomResourceDefinition, cond apiextensionsv1.CustomResourceDefinitionCondition, now time.Time) {
	cond.LastTransitionTime = metav1.NewTime(now)
	if existing := apihelpers.FindCRDCondition(c, cond.Type); existing != nil {
		if existing.Status == cond.Status {
			cond.LastTransitionTime = existing.LastTransitionTime
		}
		*existing = cond
		return
	}
	c.Status.Conditions = append(c.Status.Conditions, cond)
}

// CRDServed reports whether a CRD's custom resources are served: once its
// names are accepted, or once it is established (upstream's CRD handler
// serves on either, so a later names conflict does not withdraw it).
func CRDServed(c *apiextensionsv1.CustomResourceDefinition) bool {
	return apihelpers.IsCRDConditionTrue(c, apiextensionsv1.NamesAccepted) || apihelpers.IsCRDConditionTrue(c, apiextensionsv1.Established)
}
