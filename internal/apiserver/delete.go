package apiserver

import (
	"net/http"

	"github.com/terminus-project/terminus/internal/registry"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
)

// deleteOptions reads DeleteOptions from the body or, only when the body is
// empty, from the query (spec B1), and validates them (B2).
func (h *resourceHandler) deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	body, err := h.s.readBody(r)
	if err != nil {
		return nil, err
	}
	opts := &metav1.DeleteOptions{}
	if len(body) > 0 {
		// As upstream: DeleteOptions of any group version (clients send
		// their resource's, e.g. controller-runtime for custom
		// resources), decoded by the meta.k8s.io scheme.
		info, err := negotiation.NegotiateInputSerializer(r, false, metainternalscheme.Codecs)
		if err != nil {
			// DELETE bodies often come without a Content-Type.
			info, _ = runtime.SerializerInfoForMediaType(metainternalscheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
		}
		defaultGVK := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
		obj, _, err := metainternalscheme.Codecs.DecoderToVersion(info.Serializer, defaultGVK.GroupVersion()).Decode(body, &defaultGVK, opts)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if obj != runtime.Object(opts) {
			return nil, apierrors.NewBadRequest("decoded object cannot be converted to DeleteOptions")
		}
	} else if err := decodeQuery(r.URL.Query(), opts); err != nil {
		return nil, err
	}
	if errs := metav1validation.ValidateDeleteOptions(opts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "", errs)
	}
	return opts, nil
}

func (h *resourceHandler) delete(w http.ResponseWriter, r *http.Request) {
	opts, err := h.deleteOptions(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.store.Delete(r.Context(), h.info.namespace, h.info.name, opts, len(opts.DryRun) > 0)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	// Spec B6: 200 with the object while pending (202 only for an explicit
	// orphanDependents:false); once gone, the object or a success Status.
	code := http.StatusOK
	if !res.Deleted {
		if opts.OrphanDependents != nil && !*opts.OrphanDependents {
			code = http.StatusAccepted
		}
		h.s.writeObject(w, r, h.res, code, res.Object)
		return
	}
	if h.res.ReturnDeletedObject {
		h.s.writeObject(w, r, h.res, code, res.Object)
		return
	}
	st := &metav1.Status{
		Status: metav1.StatusSuccess,
		Details: &metav1.StatusDetails{
			Name:  h.info.name,
			Group: h.res.GVR.Group,
			Kind:  h.res.GVR.Resource,
			UID:   registry.UIDOf(res.Object),
		},
	}
	st.Kind, st.APIVersion = "Status", "v1"
	h.s.writeStatusObject(w, r, code, st)
}

func (h *resourceHandler) deleteCollection(w http.ResponseWriter, r *http.Request) {
	opts, err := h.deleteOptions(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	lo, err := h.listOptions(r, false)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	// The collection's list options come from the query even when the
	// DeleteOptions come from the body (spec B10).
	list, err := h.store.DeleteCollection(r.Context(), h.info.namespace, opts, len(opts.DryRun) > 0, lo)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeObject(w, r, h.res, http.StatusOK, list)
}
