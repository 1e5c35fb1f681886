package crd

import (
	"fmt"
	"reflect"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/transport"
)

// AcceptNames decides which of crd's requested names it may use, as
// upstream's naming controller does, and the resulting NamesAccepted and
// Established conditions.
//
// others are the other CRDs known to the caller (any group; crd itself may
// be among them and is then ignored in favour of crd). As upstream, a name is
// taken when any CRD of the same group — crd included, through its current
// status.acceptedNames — has accepted it as plural, singular or short name
// (resources) or as kind or listKind (kinds), unless crd had already
// accepted that very name.
//
// The returned Established condition folds upstream's two controllers into
// one decision: the naming controller keeps the old condition, or says
// NotAccepted while names are not accepted; once names are accepted for a
// CRD that is not established yet, the establishing controller sets it True
// with reason InitialNamesAccepted (or False/InvalidCABundle when the
// conversion webhook's caBundle is invalid). The intermediate
// False/"Installing" state upstream writes between the two is skipped,
// because terminus serves a CRD's endpoints as soon as it is established.
// Conditions carry no lastTransitionTime; apihelpers.SetCRDCondition sets it
// when the caller applies them.
func AcceptNames(crd *apiextensionsv1.CustomResourceDefinition, others []*apiextensionsv1.CustomResourceDefinition) (accepted apiextensionsv1.CustomResourceDefinitionNames, namesAccepted apiextensionsv1.CustomResourceDefinitionCondition, established apiextensionsv1.CustomResourceDefinitionCondition) {
	resources, kinds := usedNames(crd, others)

	namesAccepted = apiextensionsv1.CustomResourceDefinitionCondition{
		Type:   apiextensionsv1.NamesAccepted,
		Status: apiextensionsv1.ConditionUnknown,
	}
	conflict := func(reason string, err error) {
		namesAccepted.Status = apiextensionsv1.ConditionFalse
		namesAccepted.Reason = reason
		namesAccepted.Message = err.Error()
	}

	requested := crd.Spec.Names
	current := crd.Status.AcceptedNames
	accepted = *current.DeepCopy()

	// Each name is checked even after a conflict so the status holds the
	// best match possible; the last conflict wins the condition, as upstream.
	if err := freshOrOwn(requested.Plural, current.Plural, resources); err != nil {
		conflict("PluralConflict", err)
	} else {
		accepted.Plural = requested.Plural
	}
	if err := freshOrOwn(requested.Singular, current.Singular, resources); err != nil {
		conflict("SingularConflict", err)
	} else {
		accepted.Singular = requested.Singular
	}
	if !reflect.DeepEqual(requested.ShortNames, current.ShortNames) {
		var errs []error
		own := sets.New(current.ShortNames...)
		for _, s := range requested.ShortNames {
			if own.Has(s) {
				continue
			}
			if err := freshOrOwn(s, "", resources); err != nil {
				errs = append(errs, err)
			}
		}
		if err := utilerrors.NewAggregate(errs); err != nil {
			conflict("ShortNamesConflict", err)
		} else {
			accepted.ShortNames = requested.ShortNames
		}
	}
	if err := freshOrOwn(requested.Kind, current.Kind, kinds); err != nil {
		conflict("KindConflict", err)
	} else {
		accepted.Kind = requested.Kind
	}
	if err := freshOrOwn(requested.ListKind, current.ListKind, kinds); err != nil {
		conflict("ListKindConflict", err)
	} else {
		accepted.ListKind = requested.ListKind
	}
	accepted.Categories = requested.Categories

	if namesAccepted.Status == apiextensionsv1.ConditionUnknown {
		namesAccepted.Status = apiextensionsv1.ConditionTrue
		namesAccepted.Reason = "NoConflicts"
		namesAccepted.Message = "no conflicts found"
	}

	established = apiextensionsv1.CustomResourceDefinitionCondition{
		Type:    apiextensionsv1.Established,
		Status:  apiextensionsv1.ConditionFalse,
		Reason:  "NotAccepted",
		Message: "not all names are accepted",
	}
	if old := apihelpers.FindCRDCondition(crd, apiextensionsv1.Established); old != nil {
		established = *old.DeepCopy()
	}
	if established.Status != apiextensionsv1.ConditionTrue && namesAccepted.Status == apiextensionsv1.ConditionTrue {
		established = establishedCondition(crd)
	}
	return accepted, namesAccepted, established
}

// establishedCondition is the upstream establishing controller's decision
// for a CRD whose names have been accepted.
func establishedCondition(crd *apiextensionsv1.CustomResourceDefinition) apiextensionsv1.CustomResourceDefinitionCondition {
	if c := crd.Spec.Conversion; c != nil && c.Webhook != nil && c.Webhook.ClientConfig != nil &&
		!validCABundle(c.Webhook.ClientConfig.CABundle) {
		return apiextensionsv1.CustomResourceDefinitionCondition{
			Type:    apiextensionsv1.Established,
			Status:  apiextensionsv1.ConditionFalse,
			Reason:  "InvalidCABundle",
			Message: "The conversion webhook CABundle is invalid",
		}
	}
	return apiextensionsv1.CustomResourceDefinitionCondition{
		Type:    apiextensionsv1.Established,
		Status:  apiextensionsv1.ConditionTrue,
		Reason:  "InitialNamesAccepted",
		Message: "the initial names have been accepted",
	}
}

// usedNames collects the accepted resource and kind names of every CRD in
// crd's group, crd's own accepted names included, as the naming
// controller's lister-based scan does.
func usedNames(crd *apiextensionsv1.CustomResourceDefinition, others []*apiextensionsv1.CustomResourceDefinition) (resources, kinds sets.Set[string]) {
	resources, kinds = sets.New[string](), sets.New[string]()
	add := func(c *apiextensionsv1.CustomResourceDefinition) {
		n := c.Status.AcceptedNames
		resources.Insert(n.Plural, n.Singular)
		resources.Insert(n.ShortNames...)
		kinds.Insert(n.Kind, n.ListKind)
	}
	add(crd)
	for _, o := range others {
		if o == nil || o.Spec.Group != crd.Spec.Group || o.Name == crd.Name {
			continue
		}
		add(o)
	}
	return resources, kinds
}

func freshOrOwn(requested, accepted string, used sets.Set[string]) error {
	if requested == accepted || !used.Has(requested) {
		return nil
	}
	return fmt.Errorf("%q is already in use", requested)
}

// validCABundle is the check of apiserver's webhook.ValidateCABundle, which
// the establishing controller uses, without importing that package's
// egress-selector dependencies.
func validCABundle(caBundle []byte) bool {
	_, err := transport.TLSConfigFor(&transport.Config{TLS: transport.TLSConfig{CAData: caBundle}})
	return err == nil
}
