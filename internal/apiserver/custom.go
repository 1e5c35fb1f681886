package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"

	"github.com/terminus-project/terminus/internal/crd"
	"github.com/terminus-project/terminus/internal/registry"
)

// Custom resources are served as JSON and YAML only, as upstream's CRD
// handler serves them; their metadata (PartialObjectMetadata, which the
// garbage collector's informers ask for) is available as protobuf too.

const protobufSubtype = "vnd.kubernetes.protobuf"

// customRestrictions are resourceRestrictions without protobuf for the
// objects themselves.
type customRestrictions struct{ resourceRestrictions }

func (c customRestrictions) AllowsMediaTypeTransform(mimeType, mimeSubType string, gvk *schema.GroupVersionKind) bool {
	if gvk == nil {
		return mimeSubType != protobufSubtype
	}
	return c.resourceRestrictions.AllowsMediaTypeTransform(mimeType, mimeSubType, gvk)
}

// restrictionsFor returns the output restrictions of a resource endpoint.
func restrictionsFor(res *registry.Resource) negotiation.EndpointRestrictions {
	if res != nil && res.Custom != nil {
		return customRestrictions{}
	}
	return resourceRestrictions{}
}

// inputSerializer negotiates a request body's format; a custom resource
// sent as protobuf is 415, as upstream answers.
func (s *Server) inputSerializer(r *http.Request, res *registry.Resource) (runtime.SerializerInfo, error) {
	info, err := negotiation.NegotiateInputSerializer(r, false, s.codecs)
	if err != nil {
		return info, err
	}
	if res != nil && res.Custom != nil && info.MediaType == runtime.ContentTypeProtobuf {
		return info, negotiation.NewUnsupportedMediaTypeError([]string{runtime.ContentTypeJSON, runtime.ContentTypeYAML})
	}
	return info, nil
}

// checkCustomKind checks a decoded custom resource's kind: the unstructured
// decoder takes any kind.
func checkCustomKind(obj runtime.Object, gvk schema.GroupVersionKind) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	if k := u.GetKind(); k != gvk.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: the kind in the data does not match", k, gvk.Version, gvk.Kind))
	}
	return nil
}

// finishCustom checks a decoded custom resource's kind and prunes it (a
// no-op for other objects); wrap turns a pruning error, a decoding error in
// upstream's terms, into the caller's Status.
func finishCustom(r *http.Request, res *registry.Resource, obj runtime.Object, gvk schema.GroupVersionKind, fieldValidation string, wrap func(error) error) error {
	if res == nil || res.Custom == nil || gvk != res.GroupVersionKind() {
		return nil
	}
	if err := checkCustomKind(obj, gvk); err != nil {
		return err
	}
	if err := pruneCustom(r, res, obj, fieldValidation); err != nil {
		return wrap(err)
	}
	return nil
}

// pruneCustom drops the fields a custom resource's schema does not know
// and applies its defaults, as upstream's decoder does; the dropped fields
// are what fieldValidation judges: Strict refuses them (a decode error,
// reported by the caller as upstream's create or patch handler reports it),
// Warn (the default) warns, Ignore says nothing.
func pruneCustom(r *http.Request, res *registry.Resource, obj runtime.Object, fieldValidation string) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || res.Custom == nil {
		return nil
	}
	unknown, err := res.Custom.PruneAndDefaultRequest(u.Object, fieldValidation != metav1.FieldValidationIgnore)
	if err != nil {
		return err
	}
	if len(unknown) == 0 {
		return nil
	}
	messages := crd.UnknownFieldMessages(unknown)
	if fieldValidation == metav1.FieldValidationStrict {
		errs := make([]error, 0, len(messages))
		for _, m := range messages {
			errs = append(errs, errors.New(m))
		}
		return runtime.NewStrictDecodingError(errs)
	}
	for _, m := range messages {
		registryWarn(r, m)
	}
	return nil
}

// customFieldSelector checks a field selector against what the custom
// resource's version can select: metadata.name, metadata.namespace and
// its selectableFields.
func customFieldSelector(res *registry.Resource, fs fields.Selector) error {
	if fs == nil || fs.Empty() {
		return nil
	}
	for _, req := range fs.Requirements() {
		if _, _, err := res.Custom.ConvertFieldLabel(req.Field, req.Value); err != nil {
			return apierrors.NewBadRequest(err.Error())
		}
	}
	return nil
}

// customTable renders a custom resource or list with its CRD version's
// printer columns; the rows' objects follow includeObject as for built-in
// resources.
func (s *Server) customTable(r *http.Request, res *registry.Resource, obj runtime.Object, gv schema.GroupVersion, include metav1.IncludeObjectPolicy, noHeaders bool) (runtime.Object, error) {
	table, err := res.Custom.ConvertToTable(r.Context(), obj, nil)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, err
		}
		if lm, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = lm.GetResourceVersion()
			table.Continue = lm.GetContinue()
			table.RemainingItemCount = lm.GetRemainingItemCount()
		}
	} else if m, err := meta.Accessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	if noHeaders {
		table.ColumnDefinitions = nil
	}
	for i := range table.Rows {
		if i >= len(items) {
			break
		}
		table.Rows[i].Object = rowObject(s, items[i], gv, include)
	}
	table.SetGroupVersionKind(gv.WithKind("Table"))
	return table, nil
}
