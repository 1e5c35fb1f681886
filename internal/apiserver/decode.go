package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/terminus-project/terminus/internal/registry"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// readBody reads a request body up to the server's limit (413 beyond it).
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	limit := s.cfg.MaxRequestBodyBytes
	if r.ContentLength > limit {
		return nil, requestEntityTooLarge(limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	if int64(len(body)) > limit {
		return nil, requestEntityTooLarge(limit)
	}
	return body, nil
}

// decodeBody decodes a create or update body into `into`, honouring
// fieldValidation (Strict: 400 on unknown or duplicate fields; Warn, the
// default: 299 warnings; Ignore), as upstream's create and update handlers
// do.
func (s *Server) decodeBody(r *http.Request, res *registry.Resource, gvk schema.GroupVersionKind, into runtime.Object, fieldValidation string) (runtime.Object, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	info, err := s.inputSerializer(r, res)
	if err != nil {
		return nil, err
	}
	obj, err := s.decode(r, body, info, gvk, into, fieldValidation)
	if err != nil {
		return nil, err
	}
	wrap := func(err error) error { return decodeError(gvk, &gvk, err, body) }
	if err := finishCustom(r, res, obj, gvk, fieldValidation, wrap); err != nil {
		return nil, err
	}
	return obj, nil
}

func (s *Server) decode(r *http.Request, body []byte, info runtime.SerializerInfo, gvk schema.GroupVersionKind, into runtime.Object, fieldValidation string) (runtime.Object, error) {
	if len(body) == 0 {
		return nil, apierrors.NewBadRequest("the body of the request was empty")
	}
	decoder := info.Serializer
	if fieldValidation != metav1.FieldValidationIgnore && info.StrictSerializer != nil {
		decoder = info.StrictSerializer
	}
	obj, actual, err := decoder.Decode(body, &gvk, into)
	if err != nil {
		strictErr, isStrict := runtime.AsStrictDecodingError(err)
		switch {
		case isStrict && obj != nil && (fieldValidation == "" || fieldValidation == metav1.FieldValidationWarn):
			for _, e := range strictErr.Errors() {
				registryWarn(r, e.Error())
			}
		case isStrict && obj != nil && fieldValidation == metav1.FieldValidationIgnore:
		default:
			return nil, decodeError(gvk, actual, err, body)
		}
	}
	if actual != nil && actual.GroupVersion() != gvk.GroupVersion() {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), gvk.GroupVersion()))
	}
	if reflect.TypeOf(obj) != reflect.TypeOf(into) {
		kind := ""
		if actual != nil {
			kind = actual.Kind
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: the kind in the data does not match", kind, gvk.Version, gvk.Kind))
	}
	return obj, nil
}

// decodeError is upstream's transformDecodeError: 400 with the kind the
// body claims and the kind expected.
func decodeError(expected schema.GroupVersionKind, actual *schema.GroupVersionKind, err error, body []byte) error {
	if actual != nil && actual.Kind != "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", actual.Kind, actual.Version, expected.Kind, err))
	}
	summary := string(body)
	if len(summary) > 30 {
		summary = summary[:30] + " ..."
	}
	summary = strings.ToValidUTF8(summary, "?")
	return apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v (%s)", expected.Kind, err, summary))
}

func registryWarn(r *http.Request, text string) {
	if w, ok := r.Context().Value(warnerContextKey{}).(*warnings); ok {
		w.AddWarning(text)
	}
}

type warnerContextKey struct{}
