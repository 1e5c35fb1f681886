package lifecycle

import (
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	if p := req.Options.Preconditions; p != nil {
		if p.UID != nil && *p.UID != c.UID {
			return DeleteDecision{}, apierrors.NewConflict(req.Resource, c.Name,
				fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, c.UID))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != c.ResourceVersion {
			return DeleteDecision{}, apierrors.NewConflict(req.Resource, c.Name,
				fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, c.ResourceVersion))
		}
	}
	if c.DeletionTimestamp != nil {
		return deleteGeneric(req)
	}
	now := metav1.NewTime(req.Now)
	c.DeletionTimestamp = &now
	if !hasFinalizer(c.Finalizers, CRDCleanupFinalizer) {
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
	if existing := FindCRDCondition(c, cond.Type); existing != nil {
		if existing.Status == cond.Status {
			cond.LastTransitionTime = existing.LastTransitionTime
		}
		*existing = cond
		return
	}
	c.Status.Conditions = append(c.Status.Conditions, cond)
}

func hasFinalizer(list []string, f string) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}

// FindCRDCondition returns the condition of type t, or nil.
func FindCRDCondition(c *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) *apiextensionsv1.CustomResourceDefinitionCondition {
	for i := range c.Status.Conditions {
		if c.Status.Conditions[i].Type == t {
			return &c.Status.Conditions[i]
		}
	}
	return nil
}
