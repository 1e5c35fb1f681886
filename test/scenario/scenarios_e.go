package scenario

import (
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// specFinalizers returns spec.finalizers of a Namespace.
func specFinalizers(o Obj) []string {
	l, _ := F(o, "spec", "finalizers").([]any)
	var out []string
	for _, v := range l {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// nsWatch watches Namespaces, keeping only the scenario's own (its
// namespace and the ones named NS-*), so that other scenarios' namespaces
// do not interleave.
func (h *H) nsWatch(rv string) *Watch {
	h.Helper()
	return h.watch("/api/v1/namespaces", rv, func(e Event) bool {
		n := Name(e.Obj)
		return n == h.NS || strings.HasPrefix(n, h.NS+"-") || e.Type != "ADDED" && e.Type != "MODIFIED" && e.Type != "DELETED"
	})
}

// finalizeBody is a Namespace body for PUT /finalize with the given spec.finalizers.
func finalizeBody(ns Obj, fin ...string) Obj {
	c := Obj{}
	for k, v := range ns {
		c[k] = v
	}
	if fin == nil {
		fin = []string{}
	}
	c["spec"] = Obj{"finalizers": fin}
	return c
}

func (h *H) wantNSFinalizers(what string, o Obj, want ...string) {
	h.Helper()
	if got := specFinalizers(o); !slices.Equal(got, want) {
		h.Errorf("%s: spec.finalizers %q, want %q", what, got, want)
	}
}

func scenariosE() []Scenario {
	return []Scenario{
		{"E1 a created Namespace is Active, finalized by kubernetes and labelled with its name", func(h *H) {
			name := h.Sub("e1")
			body := Namespace(name)
			body["status"] = Obj{"phase": "Terminating"}
			body["spec"] = Obj{"finalizers": []string{}}
			body["metadata"].(Obj)["labels"] = Obj{"kubernetes.io/metadata.name": "wrong", "keep": "me"}
			o := h.Create("/api/v1/namespaces", body)
			h.Cleanup(func() { h.Delete(NSPath(name), nil) })
			if S(o, "status", "phase") != "Active" {
				h.Errorf("phase %q, want Active", S(o, "status", "phase"))
			}
			h.wantNSFinalizers("created", o, "kubernetes")
			if l := S(o, "metadata", "labels", "kubernetes.io/metadata.name"); l != name {
				h.Errorf("label kubernetes.io/metadata.name=%q, want %q", l, name)
			}
			if S(o, "metadata", "labels", "keep") != "me" {
				h.Errorf("other labels lost: %s", js(F(o, "metadata", "labels")))
			}
			h.WantGeneration("created Namespace", o, 0)
			name2 := h.Sub("e1b")
			b2 := Namespace(name2)
			b2["spec"] = Obj{"finalizers": []string{"example.com/x"}}
			o2 := h.Create("/api/v1/namespaces", b2)
			h.Cleanup(func() { h.Delete(NSPath(name2), nil) })
			h.wantNSFinalizers("created with another finalizer", o2, "example.com/x", "kubernetes")
		}},

		{"E2 the first DELETE of a Namespace answers 200 with it Terminating, without deletionGracePeriodSeconds", func(h *H) {
			ns := h.Want(h.Get(NSPath(h.NS)), 200)
			w := h.nsWatch(RV(ns))
			now := time.Now()
			d := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			if S(d, "kind") != "Namespace" || UID(d) != UID(ns) {
				h.Fatalf("answer: want the Namespace, got %s", js(d))
			}
			h.WantDeletionNear("answer", d, now)
			h.WantGrace("answer", d, -1)
			h.WantGeneration("answer", d, 0)
			h.WantFinalizers("answer (no policy: background)", d)
			h.wantNSFinalizers("answer", d, "kubernetes")
			if S(d, "status", "phase") != "Terminating" {
				h.Errorf("answer phase %q, want Terminating", S(d, "status", "phase"))
			}
			m := w.Expect("MODIFIED", h.NS)
			h.Equal("MODIFIED vs answer", m, d)
			fg := h.Sub("fg")
			h.Create("/api/v1/namespaces", Namespace(fg))
			d = h.Want(h.Delete(NSPath(fg), DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WantFinalizers("Namespace deleted with Foreground", d, "foregroundDeletion")
			h.WantGrace("Namespace deleted with Foreground", d, -1)
			if S(d, "status", "phase") != "Terminating" {
				h.Errorf("phase %q, want Terminating", S(d, "status", "phase"))
			}
		}},

		{"E3 a later DELETE of a Terminating Namespace answers it unchanged and writes nothing", func(h *H) {
			d1 := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			w := h.nsWatch(RV(d1))
			d2 := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			h.Equal("second DELETE answer", d2, d1)
			d3 := h.Want(h.Delete(NSPath(h.NS), DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.Equal("DELETE with Foreground answer", d3, d1)
			h.Equal("stored Namespace", h.Want(h.Get(NSPath(h.NS)), 200), d1)
			w.Quiet("repeated Namespace DELETEs", Namespace(h.Sub("sentinel")))
			h.Cleanup(func() { h.Delete(NSPath(h.Sub("sentinel")), nil) })
		}},

		{"E4 J5b protected namespaces may not be deleted", func(h *H) {
			for _, n := range []string{"default", "kube-system", "kube-public"} {
				h.WantStatus(h.Delete(NSPath(n), nil), metav1.Status{Status: "Failure", Code: 403, Reason: "Forbidden",
					Message: `namespaces "` + n + `" is forbidden: this namespace may not be deleted`,
					Details: &metav1.StatusDetails{Name: n, Kind: "namespaces"}})
				g := h.Want(h.Get(NSPath(n)), 200)
				if _, ok := DeletionTime(h, g); ok {
					h.Errorf("namespace %s was marked for deletion", n)
				}
			}
		}},

		{"E5 J5 a Terminating namespace rejects creates but allows updates, reads and deletes", func(h *H) {
			h.Create(h.P("configmaps"), CM("existing"))
			h.Want(h.Delete(NSPath(h.NS), nil), 200)
			gen := CM("")
			md := gen["metadata"].(Obj)
			delete(md, "name")
			md["generateName"] = "x-"
			h.WantStatus(h.Post(h.P("configmaps"), gen), metav1.Status{Status: "Failure", Code: 403, Reason: "Forbidden",
				Message: `configmaps "x-" is forbidden: unable to create new content in namespace ` + h.NS + ` because it is being terminated`,
				Details: &metav1.StatusDetails{Name: "x-", Kind: "configmaps", Causes: []metav1.StatusCause{{
					Type: "NamespaceTerminating", Message: "namespace " + h.NS + " is being terminated", Field: "metadata.namespace"}}}})
			h.WantStatus(h.Post(h.P("pods"), Pod("p", "")), metav1.Status{Status: "Failure", Code: 403, Reason: "Forbidden",
				Message: `pods "p" is forbidden: unable to create new content in namespace ` + h.NS + ` because it is being terminated`,
				Details: &metav1.StatusDetails{Name: "p", Kind: "pods", Causes: []metav1.StatusCause{{
					Type: "NamespaceTerminating", Message: "namespace " + h.NS + " is being terminated", Field: "metadata.namespace"}}}})
			u := h.Want(h.Merge(h.P("configmaps", "existing"), `{"metadata":{"labels":{"updated":"yes"}}}`), 200)
			if S(u, "metadata", "labels", "updated") != "yes" {
				h.Errorf("patch in a Terminating namespace: %s", js(u))
			}
			g := h.Want(h.Get(h.P("configmaps", "existing")), 200)
			u2 := h.Want(h.Put(h.P("configmaps", "existing"), setMeta(g, "annotations", Obj{"put": "yes"})), 200)
			if S(u2, "metadata", "annotations", "put") != "yes" {
				h.Errorf("update in a Terminating namespace: %s", js(u2))
			}
			h.WantStatus(h.Delete(h.P("configmaps", "existing"), nil), success("existing", "", "configmaps", UID(g)))
		}},

		{"E6 spec.finalizers change only through PUT /finalize; PATCH /finalize is 405", func(h *H) {
			h.WantStatus(h.Do("PATCH", NSPath(h.NS, "finalize"), mergeType, `{"spec":{"finalizers":[]}}`), metav1.Status{
				Status: "Failure", Code: 405, Reason: "MethodNotAllowed",
				Message: "the server does not allow this method on the requested resource", Details: &metav1.StatusDetails{}})
			ns := h.Want(h.Get(NSPath(h.NS)), 200)
			u := h.Want(h.Put(NSPath(h.NS), finalizeBody(ns)), 200)
			h.wantNSFinalizers("ordinary update with empty spec.finalizers", u, "kubernetes")
			u = h.Want(h.Merge(NSPath(h.NS), `{"spec":{"finalizers":["example.com/x"]}}`), 200)
			h.wantNSFinalizers("ordinary patch of spec.finalizers", u, "kubernetes")
			// PUT /finalize on a live namespace only empties spec.finalizers.
			f := h.Want(h.Put(NSPath(h.NS, "finalize"), finalizeBody(u)), 200)
			h.wantNSFinalizers("after PUT /finalize", f)
			g := h.Want(h.Get(NSPath(h.NS)), 200)
			h.wantNSFinalizers("stored after PUT /finalize", g)
			if S(g, "status", "phase") != "Active" {
				h.Errorf("phase after PUT /finalize on a live namespace: %q", S(g, "status", "phase"))
			}
			if _, ok := DeletionTime(h, g); ok {
				h.Errorf("live namespace marked for deletion by PUT /finalize")
			}
			// And it may add one back.
			f = h.Want(h.Put(NSPath(h.NS, "finalize"), finalizeBody(g, "kubernetes")), 200)
			h.wantNSFinalizers("after PUT /finalize with kubernetes", f, "kubernetes")
		}},

		{"E6 status.phase must be Active without deletionTimestamp and Terminating with it", func(h *H) {
			check := func(ns Obj, phase, msg string) {
				h.Helper()
				bad := Obj{}
				for k, v := range ns {
					bad[k] = v
				}
				bad["status"] = Obj{"phase": phase}
				h.CheckStatus(h.Put(NSPath(h.NS, "status"), bad), invalid("Namespace", h.NS,
					field.Invalid(field.NewPath("status", "Phase"), phase, msg)))
			}
			ns := h.Want(h.Get(NSPath(h.NS)), 200)
			ns = h.Want(h.Put(NSPath(h.NS, "status"), ns), 200) // an agreeing status is accepted
			check(ns, "Terminating", "may only be 'Active' if `deletionTimestamp` is empty")
			d := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			check(d, "Active", "may only be 'Terminating' if `deletionTimestamp` is not empty")
		}},

		{"E7 C5 PUT /finalize that empties spec.finalizers removes a Terminating namespace", func(h *H) {
			d := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			w := h.nsWatch(RV(d))
			r := h.Want(h.Put(NSPath(h.NS, "finalize"), finalizeBody(d)), 200)
			if S(r, "kind") != "Namespace" || Name(r) != h.NS {
				h.Errorf("PUT /finalize answer: want the Namespace, got %s", js(r))
			}
			h.wantNSFinalizers("answer", r)
			if RV(r) != RV(d) {
				h.Errorf("answer resourceVersion %s, want the previous stored %s (C5)", RV(r), RV(d))
			}
			del := w.Expect("DELETED", h.NS)
			h.wantNSFinalizers("DELETED object (last stored state)", del, "kubernetes")
			h.Gone(NSPath(h.NS))
		}},

		{"E8 a namespace finalized before its first DELETE stays Terminating until a second DELETE", func(h *H) {
			ns := h.Want(h.Get(NSPath(h.NS)), 200)
			f := h.Want(h.Put(NSPath(h.NS, "finalize"), finalizeBody(ns)), 200)
			h.wantNSFinalizers("finalized", f)
			d := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			if S(d, "status", "phase") != "Terminating" {
				h.Errorf("first DELETE: phase %q, want Terminating", S(d, "status", "phase"))
			}
			g := h.Terminating(NSPath(h.NS))
			w := h.nsWatch(RV(g))
			d2 := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			del := w.Expect("DELETED", h.NS)
			if S(d2, "kind") != "Namespace" || UID(d2) != UID(ns) || RV(d2) != RV(del) {
				h.Errorf("second DELETE: want the deleted Namespace at the delete revision %s, got %s", RV(del), js(d2))
			}
			h.Gone(NSPath(h.NS))
		}},
	}
}
