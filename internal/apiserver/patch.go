package apiserver

import (
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/terminus-project/terminus/internal/registry"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxJSONPatchOperations bounds a JSON patch, as upstream does.
const maxJSONPatchOperations = 10000

var supportedPatchTypes = []string{
	string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType),
}

// customPatchTypes are what upstream accepts for custom resources (J9).
var customPatchTypes = []string{
	string(types.JSONPatchType), string(types.MergePatchType), string(types.ApplyYAMLPatchType),
}

func (h *resourceHandler) patch(w http.ResponseWriter, r *http.Request) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	patchType := types.PatchType(ct)
	switch {
	case err != nil:
		patchType = ""
	case patchType == types.JSONPatchType, patchType == types.MergePatchType, patchType == types.StrategicMergePatchType,
		patchType == types.ApplyYAMLPatchType:
	default:
		patchType = ""
	}
	accepted := supportedPatchTypes
	if h.res.Custom != nil {
		// Spec J9: no strategic merge patch for custom resources (the
		// garbage collector falls back to a merge patch on this 415).
		accepted = customPatchTypes
		if patchType == types.StrategicMergePatchType {
			patchType = ""
		}
	}
	if patchType == "" {
		h.s.writeError(w, r, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
			Message: "the body of the request was in an unknown format - accepted media types include: " + strings.Join(accepted, ", "),
		}})
		return
	}
	var opts metav1.PatchOptions
	if err := decodeQuery(r.URL.Query(), &opts); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if errs := metav1validation.ValidatePatchOptions(&opts, patchType); len(errs) > 0 {
		h.s.writeError(w, r, optionsInvalid("PatchOptions", errs))
		return
	}
	patchBytes, err := h.s.readBody(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if patchType == types.ApplyYAMLPatchType {
		h.apply(w, r, patchBytes, opts)
		return
	}
	if h.info.subresource == "scale" {
		h.patchScale(w, r, patchType, patchBytes, opts)
		return
	}
	jsonInfo := h.s.jsonInfo()
	gvk := h.res.GroupVersionKind()
	update := func(existing runtime.Object) (runtime.Object, error) {
		existing.GetObjectKind().SetGroupVersionKind(gvk)
		original, err := json.Marshal(existing)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		patched, err := applyPatch(patchType, original, patchBytes, h.res.New())
		if err != nil {
			return nil, err
		}
		obj, err := h.s.decodePatched(r, h.res, patched, jsonInfo, gvk, h.res.New(), opts.FieldValidation)
		if err != nil {
			return nil, err
		}
		return h.trackWrite(r, existing, obj, opts.FieldManager)
	}
	out, err := h.store.Update(r.Context(), h.info.namespace, h.info.name, update,
		registry.UpdateOptions{DryRun: len(opts.DryRun) > 0, Subresource: h.info.subresource})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeObject(w, r, h.res, http.StatusOK, out)
}

// applyPatch applies one of the three patch types to a JSON document, with
// upstream's error classes: a malformed patch is 400, a JSON patch that
// cannot apply is 422.
func applyPatch(pt types.PatchType, original, patch []byte, schemaObj runtime.Object) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if len(p) > maxJSONPatchOperations {
			return nil, apierrors.NewRequestEntityTooLargeError(
				fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(p)))
		}
		out, err := applyJSONPatch(p, original)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		out, err := strategicpatch.StrategicMergePatch(original, patch, schemaObj)
		if err != nil {
			switch err {
			case mergepatch.ErrBadJSONDoc, mergepatch.ErrBadPatchFormatForPrimitiveList,
				mergepatch.ErrBadPatchFormatForRetainKeys, mergepatch.ErrBadPatchFormatForSetElementOrderList,
				mergepatch.ErrUnsupportedStrategicMergePatchFormat:
				return nil, apierrors.NewBadRequest(err.Error())
			}
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
	return nil, apierrors.NewBadRequest("unsupported patch type")
}

// applyJSONPatch applies p, turning a panic of the patch library (it has
// some on malformed operations, e.g. a "test" without a value) into an
// error: bad input must never be a 500.
func applyJSONPatch(p jsonpatch.Patch, doc []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("invalid JSON patch: %v", v)
		}
	}()
	return p.Apply(doc)
}

// decodePatched decodes the document a patch produced. Unlike a create
// body, a patched document that cannot be decoded, or that has unknown or
// duplicate fields under fieldValidation=Strict, is 422 Invalid on the
// field "patch", as upstream's patch handler answers.
func (s *Server) decodePatched(r *http.Request, res *registry.Resource, patched []byte, info runtime.SerializerInfo, gvk schema.GroupVersionKind, into runtime.Object, fieldValidation string) (runtime.Object, error) {
	decoder := info.Serializer
	if fieldValidation != metav1.FieldValidationIgnore && info.StrictSerializer != nil {
		decoder = info.StrictSerializer
	}
	invalid := func(err error) error {
		return apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{field.Invalid(field.NewPath("patch"), string(patched), err.Error())})
	}
	obj, _, err := decoder.Decode(patched, &gvk, into)
	if err != nil {
		strictErr, isStrict := runtime.AsStrictDecodingError(err)
		switch {
		case isStrict && obj != nil && (fieldValidation == "" || fieldValidation == metav1.FieldValidationWarn):
			for _, e := range strictErr.Errors() {
				registryWarn(r, e.Error())
			}
		case isStrict && obj != nil && fieldValidation == metav1.FieldValidationIgnore:
		default:
			return nil, invalid(err)
		}
	}
	if obj == nil || reflect.TypeOf(obj) != reflect.TypeOf(into) {
		return nil, invalid(fmt.Errorf("the patched object is not a %s", gvk.Kind))
	}
	if err := finishCustom(r, res, obj, gvk, fieldValidation, invalid); err != nil {
		return nil, err
	}
	return obj, nil
}
