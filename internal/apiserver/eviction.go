package apiserver

import (
	"net/http"

	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
)

var (
	evictionV1      = policyv1.SchemeGroupVersion.WithKind("Eviction")
	evictionV1beta1 = policyv1beta1.SchemeGroupVersion.WithKind("Eviction")
)

// createEviction serves POST pods/{name}/eviction (kubectl drain, the
// node agent's evictions): the registry's Evict deletes the pod with the
// Eviction's DeleteOptions, and the answer is 201 with a success Status,
// as upstream's EvictionREST answers. A policy/v1beta1 Eviction is
// accepted too, as upstream accepts both versions.
func (h *resourceHandler) createEviction(w http.ResponseWriter, r *http.Request) {
	opts, ok := h.createOptions(w, r)
	if !ok {
		return
	}
	body, err := h.s.readBody(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	info, err := negotiation.NegotiateInputSerializer(r, false, h.s.codecs)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	// A throwaway lenient decode finds the version the body claims; the
	// real decode below applies fieldValidation in that version.
	var ev *policyv1.Eviction
	if _, actual, _ := info.Serializer.Decode(body, &evictionV1, nil); actual != nil && actual.GroupVersion() == evictionV1beta1.GroupVersion() {
		obj, err := h.s.decode(r, body, info, evictionV1beta1, &policyv1beta1.Eviction{}, opts.FieldValidation)
		if err != nil {
			h.s.writeError(w, r, err)
			return
		}
		old := obj.(*policyv1beta1.Eviction)
		ev = &policyv1.Eviction{ObjectMeta: old.ObjectMeta, DeleteOptions: old.DeleteOptions}
	} else {
		obj, err := h.s.decode(r, body, info, evictionV1, &policyv1.Eviction{}, opts.FieldValidation)
		if err != nil {
			h.s.writeError(w, r, err)
			return
		}
		ev = obj.(*policyv1.Eviction)
	}
	if err := matchNamespace(ev, h.info.namespace); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if err := h.store.Evict(r.Context(), h.info.namespace, h.info.name, ev, opts.DryRun); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeStatusObject(w, r, http.StatusCreated, successStatus(http.StatusCreated))
}
