package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/terminus-project/terminus/internal/registry"
	"github.com/terminus-project/terminus/internal/registry/fieldsel"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metainternalscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	ivalidation "k8s.io/apimachinery/pkg/apis/meta/internalversion/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// serveAPI routes every /api/... and /apis/... request.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 2 && parts[0] == "apis" {
		s.serveAPIGroup(w, r, parts[1])
		return
	}
	info, ok := parseResourcePath(r)
	if !ok {
		s.writeError(w, r, notFoundResource())
		return
	}
	byName, ok := s.routes().resources[info.gv]
	if !ok {
		s.writeError(w, r, notFoundResource())
		return
	}
	if len(info.rest) == 0 {
		s.serveAPIResourceList(w, r, info.gv)
		return
	}
	res, ok := byName[info.resource]
	if !ok {
		s.writeError(w, r, notFoundResource())
		return
	}
	// A namespaced resource's object paths need a namespace; a
	// cluster-scoped resource has none (upstream registers no such route).
	if res.Namespaced && info.namespace == "" && info.name != "" ||
		!res.Namespaced && info.namespace != "" && res.GVR.Resource != "namespaces" {
		s.writeError(w, r, notFoundResource())
		return
	}
	if info.subresource == "" && !slices.Contains(res.Verbs, info.verb) {
		s.writeError(w, r, methodNotAllowed())
		return
	}
	if res.Namespaced && info.namespace == "" && info.verb != "list" && info.verb != "watch" {
		// The all-namespaces path serves only list and watch (J6): no
		// create, and no deletecollection across every namespace.
		s.writeError(w, r, methodNotAllowed())
		return
	}
	if info.subresource != "" {
		sub, ok := res.HasSubresource(subresourceName(info.subresource))
		if !ok {
			s.writeError(w, r, notFoundResource())
			return
		}
		if !slices.Contains(sub.Verbs, info.verb) {
			// Spec J6: e.g. PATCH on a namespace's /finalize.
			s.writeError(w, r, methodNotAllowed())
			return
		}
	}
	store, _ := s.reg.Store(res.GVR)
	h := &resourceHandler{s: s, res: res, store: store, info: info}
	ctx, warnings := withWarnings(r.Context())
	r = r.WithContext(ctx)
	w = &warningWriter{ResponseWriter: w, warnings: warnings}
	if h.serveSpecial(w, r) {
		return
	}
	switch info.verb {
	case "get":
		h.get(w, r)
	case "list":
		h.list(w, r)
	case "watch":
		h.watch(w, r)
	case "create":
		h.create(w, r)
	case "update":
		h.update(w, r)
	case "patch":
		h.patch(w, r)
	case "delete":
		h.delete(w, r)
	case "deletecollection":
		h.deleteCollection(w, r)
	default:
		s.writeError(w, r, methodNotAllowed())
	}
}

// serveSpecial serves the resources and subresources that are not the
// generic verbs over a store: bindings and pods/binding, pods/eviction and
// the node-proxied subresources. It reports whether it handled the request.
func (h *resourceHandler) serveSpecial(w http.ResponseWriter, r *http.Request) bool {
	if h.res.NoStorage {
		// Only the legacy bindings today; its one verb was checked.
		h.createBinding(w, r)
		return true
	}
	switch subresourceName(h.info.subresource) {
	case "binding":
		h.createBinding(w, r)
	case "eviction":
		h.createEviction(w, r)
	case "log":
		h.getLog(w, r)
	case "exec", "attach", "portforward":
		h.connectPod(w, r)
	case "proxy":
		h.proxyNode(w, r, proxySubpath(r, h.info.subresource))
	default:
		return false
	}
	return true
}

// subresourceName is the subresource a path names: its first segment for
// a proxy (nodes/{name}/proxy/{path}), the whole rest otherwise, so that
// e.g. pods/{name}/status/x stays unknown (404).
func subresourceName(sub string) string {
	if name, _, ok := strings.Cut(sub, "/"); ok && name == "proxy" {
		return name
	}
	return sub
}

type resourceHandler struct {
	s     *Server
	res   *registry.Resource
	store *registry.Store
	info  requestInfo
}

func (h *resourceHandler) get(w http.ResponseWriter, r *http.Request) {
	var opts metav1.GetOptions
	if err := decodeQuery(r.URL.Query(), &opts); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	obj, err := h.store.Get(r.Context(), h.info.namespace, h.info.name, opts.ResourceVersion)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if h.info.subresource == "scale" {
		scale, err := h.toScale(obj)
		if err != nil {
			h.s.writeError(w, r, err)
			return
		}
		h.s.writeObject(w, r, h.res, http.StatusOK, scale)
		return
	}
	h.s.writeObject(w, r, h.res, http.StatusOK, obj)
}

// listOptions parses and validates a LIST or WATCH query (spec I1, I8).
func (h *resourceHandler) listOptions(r *http.Request, watching bool) (registry.ListOptions, error) {
	var lo registry.ListOptions
	if err := decodeQuery(r.URL.Query(), &lo.ListOptions); err != nil {
		return lo, err
	}
	lo.Watch = watching
	var internal internalversion.ListOptions
	if err := internalversion.Convert_v1_ListOptions_To_internalversion_ListOptions(&lo.ListOptions, &internal, nil); err != nil {
		return lo, apierrors.NewBadRequest(err.Error())
	}
	if errs := ivalidation.ValidateListOptions(&internal, true); len(errs) > 0 {
		return lo, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "ListOptions"}, "", errs)
	}
	ls, err := labels.Parse(lo.LabelSelector)
	if err != nil {
		return lo, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	fs, err := fields.ParseSelector(lo.FieldSelector)
	if err != nil {
		return lo, apierrors.NewBadRequest(err.Error())
	}
	if h.info.name != "" {
		// A watch on an object path watches that one object.
		fs = fields.AndSelectors(fs, fields.OneTermEqualSelector("metadata.name", h.info.name))
	}
	// Convert checks each label and applies upstream's renames (pods'
	// spec.host is spec.nodeName).
	if h.res.Custom != nil {
		if err := customFieldSelector(h.res, fs); err != nil {
			return lo, err
		}
	} else if fs, err = fieldsel.Convert(h.res.GroupResource(), fs); err != nil {
		return lo, apierrors.NewBadRequest(err.Error())
	}
	if lo.Continue != "" && lo.ResourceVersion != "" && lo.ResourceVersion != "0" {
		return lo, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	lo.Labels, lo.Fields = ls, fs
	return lo, nil
}

func (h *resourceHandler) list(w http.ResponseWriter, r *http.Request) {
	lo, err := h.listOptions(r, false)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	obj, err := h.store.List(r.Context(), h.info.namespace, lo)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeObject(w, r, h.res, http.StatusOK, obj)
}

func (h *resourceHandler) create(w http.ResponseWriter, r *http.Request) {
	var opts metav1.CreateOptions
	if err := decodeQuery(r.URL.Query(), &opts); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if errs := metav1validation.ValidateCreateOptions(&opts); len(errs) > 0 {
		h.s.writeError(w, r, optionsInvalid("CreateOptions", errs))
		return
	}
	obj, err := h.s.decodeBody(r, h.res, h.res.GroupVersionKind(), h.res.New(), opts.FieldValidation)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if obj, err = h.trackWrite(r, nil, obj, opts.FieldManager); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out, err := h.store.Create(r.Context(), h.info.namespace, obj, registry.CreateOptions{DryRun: len(opts.DryRun) > 0})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeObject(w, r, h.res, http.StatusCreated, out)
}

func (h *resourceHandler) update(w http.ResponseWriter, r *http.Request) {
	var opts metav1.UpdateOptions
	if err := decodeQuery(r.URL.Query(), &opts); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if errs := metav1validation.ValidateUpdateOptions(&opts); len(errs) > 0 {
		h.s.writeError(w, r, optionsInvalid("UpdateOptions", errs))
		return
	}
	if h.info.subresource == "scale" {
		h.updateScale(w, r, opts)
		return
	}
	obj, err := h.s.decodeBody(r, h.res, h.res.GroupVersionKind(), h.res.New(), opts.FieldValidation)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	update := func(existing runtime.Object) (runtime.Object, error) {
		return h.trackWrite(r, existing, obj.DeepCopyObject(), opts.FieldManager)
	}
	out, err := h.store.Update(r.Context(), h.info.namespace, h.info.name, update,
		registry.UpdateOptions{DryRun: len(opts.DryRun) > 0, Subresource: h.info.subresource})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeObject(w, r, h.res, http.StatusOK, out)
}

func optionsInvalid(kind string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
}

// decodeQuery reads query parameters into a meta.k8s.io options struct;
// bad values are 400 BadRequest, as upstream answers.
func decodeQuery(q url.Values, into runtime.Object) error {
	if err := metainternalscheme.ParameterCodec.DecodeParameters(q, metav1.SchemeGroupVersion, into); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

// warnings collects Warning headers for one request (spec J13).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) AddWarning(text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.list {
		if t == text {
			return
		}
	}
	w.list = append(w.list, text)
}

func withWarnings(ctx context.Context) (context.Context, *warnings) {
	ws := &warnings{}
	return context.WithValue(registry.WithWarner(ctx, ws), warnerContextKey{}, ws), ws
}

// warningWriter adds the collected warnings as headers just before the
// status line is written.
type warningWriter struct {
	http.ResponseWriter
	warnings *warnings
	written  bool
}

func (w *warningWriter) WriteHeader(code int) {
	if !w.written {
		w.written = true
		w.warnings.mu.Lock()
		for _, t := range w.warnings.list {
			w.Header().Add("Warning", fmt.Sprintf("299 - %q", t))
		}
		w.warnings.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *warningWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *warningWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *warningWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
