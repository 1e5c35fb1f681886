package apiserver

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"

	"github.com/terminus-project/terminus/internal/registry"
	"github.com/terminus-project/terminus/internal/registry/printers"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1beta1 "k8s.io/apimachinery/pkg/apis/meta/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
)

// resourceRestrictions allow the meta.k8s.io transformations on resource
// endpoints: Table only as JSON or YAML (it has no protobuf form),
// PartialObjectMetadata(List) in every format.
type resourceRestrictions struct{}

func (resourceRestrictions) AllowsMediaTypeTransform(mimeType, mimeSubType string, gvk *schema.GroupVersionKind) bool {
	if gvk == nil {
		return true
	}
	if gvk.GroupVersion() != metav1.SchemeGroupVersion && gvk.GroupVersion() != metav1beta1.SchemeGroupVersion {
		return false
	}
	switch gvk.Kind {
	case "Table":
		return mimeType == "application" && (mimeSubType == "json" || mimeSubType == "yaml")
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		return true
	}
	return false
}
func (resourceRestrictions) AllowsServerVersion(string) bool  { return false }
func (resourceRestrictions) AllowsStreamSchema(s string) bool { return s == "watch" }

// output is a negotiated response format.
type output struct {
	info    runtime.SerializerInfo
	convert *schema.GroupVersionKind
	pretty  bool
}

func (s *Server) negotiate(r *http.Request, restrictions negotiation.EndpointRestrictions) (output, error) {
	opts, info, err := negotiation.NegotiateOutputMediaType(r, s.codecs, restrictions)
	if err != nil {
		return output{}, err
	}
	return output{info: info, convert: opts.Convert, pretty: opts.Pretty}, nil
}

// encode writes obj in the negotiated format, with apiVersion and kind set
// from the scheme (no conversion: terminus serves one version).
func (s *Server) encode(out output, obj runtime.Object, buf *bytes.Buffer) error {
	ser := out.info.Serializer
	if out.pretty && out.info.PrettySerializer != nil {
		ser = out.info.PrettySerializer
	}
	gv := obj.GetObjectKind().GroupVersionKind().GroupVersion()
	return s.codecs.WithoutConversion().EncoderForVersion(ser, gv).Encode(obj, buf)
}

// writeObject negotiates, transforms (Table, PartialObjectMetadata) and
// writes a resource response.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, res *registry.Resource, code int, obj runtime.Object) {
	out, err := s.negotiate(r, restrictionsFor(res))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	result, err := s.transform(r, res, out.convert, obj, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, out, code, result)
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, out output, code int, obj runtime.Object) {
	setKind(s, obj)
	var buf bytes.Buffer
	if err := s.encode(out, obj, &buf); err != nil {
		s.writeError(w, r, internalError(fmt.Errorf("encoding response: %w", err)))
		return
	}
	w.Header().Set("Content-Type", out.info.MediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// writeStatusObject writes a Status (or other meta object) in any format
// the client accepts, falling back to JSON.
func (s *Server) writeStatusObject(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	out, err := s.negotiate(r, negotiation.DefaultEndpointRestrictions)
	if err != nil || out.convert != nil {
		out = output{info: s.jsonInfo()}
	}
	s.write(w, r, out, code, obj)
}

func (s *Server) jsonInfo() runtime.SerializerInfo {
	info, _ := runtime.SerializerInfoForMediaType(s.codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	return info
}

// setKind fills in apiVersion and kind of typed objects whose TypeMeta is
// empty, so encoders pick the right group version.
func setKind(s *Server, obj runtime.Object) {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return
	}
	gvks, _, err := s.cfg.Scheme.ObjectKinds(obj)
	if err == nil && len(gvks) > 0 {
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
}

// transform applies an `as=` conversion. noHeaders drops the column
// definitions, as upstream does after a watch's first Table.
func (s *Server) transform(r *http.Request, res *registry.Resource, target *schema.GroupVersionKind, obj runtime.Object, noHeaders bool) (runtime.Object, error) {
	if target == nil {
		return obj, nil
	}
	switch target.Kind {
	case "Table":
		return s.asTable(r, res, obj, target.GroupVersion(), noHeaders)
	case "PartialObjectMetadata":
		if meta.IsListType(obj) {
			return nil, negotiation.NewNotAcceptableError([]string{fmt.Sprintf("you requested PartialObjectMetadata, but the requested object is a list (%T)", obj)})
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		p := meta.AsPartialObjectMetadata(m)
		p.SetGroupVersionKind(target.GroupVersion().WithKind("PartialObjectMetadata"))
		return p, nil
	case "PartialObjectMetadataList":
		if !meta.IsListType(obj) {
			return nil, negotiation.NewNotAcceptableError([]string{fmt.Sprintf("you requested PartialObjectMetadataList, but the requested object is not a list (%T)", obj)})
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, err
		}
		list := &metav1.PartialObjectMetadataList{Items: make([]metav1.PartialObjectMetadata, 0, len(items))}
		for _, it := range items {
			m, err := meta.Accessor(it)
			if err != nil {
				return nil, err
			}
			p := meta.AsPartialObjectMetadata(m)
			p.SetGroupVersionKind(target.GroupVersion().WithKind("PartialObjectMetadata"))
			list.Items = append(list.Items, *p)
		}
		if lm, err := meta.ListAccessor(obj); err == nil {
			list.ResourceVersion = lm.GetResourceVersion()
			list.Continue = lm.GetContinue()
			list.RemainingItemCount = lm.GetRemainingItemCount()
		}
		list.SetGroupVersionKind(target.GroupVersion().WithKind("PartialObjectMetadataList"))
		return list, nil
	}
	return nil, negotiation.NewNotAcceptableError([]string{target.String()})
}

// asTable renders server-side Table rows with upstream's columns (spec A12).
func (s *Server) asTable(r *http.Request, res *registry.Resource, obj runtime.Object, gv schema.GroupVersion, noHeaders bool) (runtime.Object, error) {
	include := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject"))
	switch include {
	case "", metav1.IncludeMetadata, metav1.IncludeNone, metav1.IncludeObject:
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unrecognized includeObject value: %q", include))
	}
	_, isScale := obj.(*autoscalingv1.Scale)
	if res.Custom != nil && !isScale {
		return s.customTable(r, res, obj, gv, include, noHeaders)
	}
	gr := res.GroupResource()
	if isScale {
		gr = printers.ScaleResource
	}
	p, ok := printers.For(gr)
	if !ok {
		p = printers.Default()
	}
	table := &metav1.Table{}
	if !noHeaders {
		table.ColumnDefinitions = p.Columns
	}
	var items []runtime.Object
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, err
		}
		if lm, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = lm.GetResourceVersion()
			table.Continue = lm.GetContinue()
			table.RemainingItemCount = lm.GetRemainingItemCount()
		}
	} else {
		items = []runtime.Object{obj}
		if m, err := meta.Accessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	now := s.clock.Now()
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, it := range items {
		cells, err := p.Cells(it, now)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: rowObject(s, it, gv, include)})
	}
	table.SetGroupVersionKind(gv.WithKind("Table"))
	return table, nil
}

// rowObject is a Table row's object for includeObject: the metadata by
// default, the object, or nothing; the initial-events-end bookmark always
// carries its metadata (spec I8).
func rowObject(s *Server, it runtime.Object, gv schema.GroupVersion, include metav1.IncludeObjectPolicy) runtime.RawExtension {
	m, err := meta.Accessor(it)
	if err != nil {
		return runtime.RawExtension{}
	}
	_, initialEnd := m.GetAnnotations()[metav1.InitialEventsAnnotationKey]
	switch {
	case include == metav1.IncludeObject && !initialEnd:
		return runtime.RawExtension{Object: shallowWithKind(s, it)}
	case include == metav1.IncludeNone && !initialEnd:
		return runtime.RawExtension{}
	}
	pm := meta.AsPartialObjectMetadata(m)
	pm.SetGroupVersionKind(gv.WithKind("PartialObjectMetadata"))
	return runtime.RawExtension{Object: pm}
}

// shallowWithKind returns a shallow copy of obj with apiVersion and kind
// set. Watch events share one object among all watchers, and encoders
// write TypeMeta while they encode, so each encoding works on its own
// top-level copy (nested data stays shared and is only read).
func shallowWithKind(s *Server, obj runtime.Object) runtime.Object {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		setKind(s, obj)
		return obj
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	out := cp.Interface().(runtime.Object)
	setKind(s, out)
	return out
}
