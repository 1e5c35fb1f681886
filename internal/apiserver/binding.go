package apiserver

import (
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
)

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// createBinding serves POST pods/{name}/binding and the legacy POST
// bindings (the pod named by the Binding's metadata.name), the way the
// scheduler binds a pod to a node. The rules are the registry's (Bind);
// this reads the request as upstream's create handler does and answers 201
// with a success Status, as upstream's BindingREST does.
func (h *resourceHandler) createBinding(w http.ResponseWriter, r *http.Request) {
	opts, ok := h.createOptions(w, r)
	if !ok {
		return
	}
	obj, err := h.s.decodeBody(r, h.res, corev1.SchemeGroupVersion.WithKind("Binding"), &corev1.Binding{}, opts.FieldValidation)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	b := obj.(*corev1.Binding)
	name := h.info.name
	if h.info.subresource == "" {
		// Legacy bindings: the create handler wipes system fields of a
		// main-resource create (the uid precondition among them), and the
		// pod is the Binding's name.
		b.UID = ""
		name = b.Name
		if name == "" {
			h.s.writeError(w, r, apierrors.NewBadRequest("Name parameter required."))
			return
		}
	}
	if err := matchNamespace(b, h.info.namespace); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	pods, _ := h.s.reg.Store(podsGVR)
	if _, err := pods.Bind(r.Context(), h.info.namespace, name, b, len(opts.DryRun) > 0); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeStatusObject(w, r, http.StatusCreated, successStatus(http.StatusCreated))
}

// createOptions reads and validates the CreateOptions of a subresource
// create; ok=false means the error has been written.
func (h *resourceHandler) createOptions(w http.ResponseWriter, r *http.Request) (metav1.CreateOptions, bool) {
	var opts metav1.CreateOptions
	if err := decodeQuery(r.URL.Query(), &opts); err != nil {
		h.s.writeError(w, r, err)
		return opts, false
	}
	if errs := metav1validation.ValidateCreateOptions(&opts); len(errs) > 0 {
		h.s.writeError(w, r, optionsInvalid("CreateOptions", errs))
		return opts, false
	}
	return opts, true
}

// matchNamespace is the create handler's namespace rule for a subresource
// body (spec J10): empty takes the URL's, another one is 400.
func matchNamespace(obj runtime.Object, ns string) error {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil
	}
	switch m.GetNamespace() {
	case "":
		m.SetNamespace(ns)
	case ns:
	default:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return nil
}

// successStatus is the body upstream's create handler writes when a
// subresource create answers a Status (binding, eviction): the HTTP code
// is copied into it.
func successStatus(code int32) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Code:     code,
	}
}
