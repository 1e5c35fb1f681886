package scenario

import (
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// success is the Status a physically deleted non-object resource answers
// with (B6, J12): no code, details name/group/kind(plural)/uid.
func success(name, group, plural, uid string) metav1.Status {
	return metav1.Status{Status: "Success", Details: &metav1.StatusDetails{
		Name: name, Group: group, Kind: plural, UID: typesUID(uid)}}
}

func deleteOptionsInvalid(errs ...*field.Error) metav1.Status {
	return apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "DeleteOptions"}, "", field.ErrorList(errs)).ErrStatus
}

func scenariosB() []Scenario {
	return []Scenario{
		{"B1 DeleteOptions come from the body when there is one, else from the query", func(h *H) {
			for _, n := range []string{"body", "meta", "query"} {
				h.Create(h.P("configmaps"), CM(n, hold))
			}
			d := h.Want(h.Do("DELETE", h.P("configmaps", "body")+"?propagationPolicy=Orphan", "", DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WantFinalizers("body Foreground, query Orphan", d, hold, "foregroundDeletion")
			d = h.Want(h.Delete(h.P("configmaps", "meta"), Obj{"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Orphan"}), 200)
			h.WantFinalizers("meta.k8s.io/v1 body with Orphan", d, hold, "orphan")
			d = h.Want(h.Delete(h.P("configmaps", "query")+"?propagationPolicy=Orphan", nil), 200)
			h.WantFinalizers("query Orphan, no body", d, hold, "orphan")
			h.Create(h.P("configmaps"), CM("bad"))
			r := h.Delete(h.P("configmaps", "bad"), "{")
			if b := h.Want(r, 400); S(b, "reason") != "BadRequest" || S(b, "kind") != "Status" {
				h.Errorf("undecodable body: want a BadRequest Status, got %s", r)
			}
			h.Want(h.Get(h.P("configmaps", "bad")), 200)
		}},

		{"B2 J4c invalid DeleteOptions give 422 with DeleteOptions details", func(h *H) {
			h.Create(h.P("configmaps"), CM("x"))
			orphan, bogus := metav1.DeletePropagationOrphan, metav1.DeletionPropagation("Bogus")
			cases := []struct {
				opts Obj
				want metav1.Status
				msg  string
			}{
				{DeleteOpts("orphanDependents", true, "propagationPolicy", "Orphan"),
					deleteOptionsInvalid(field.Invalid(field.NewPath("propagationPolicy"), &orphan, "orphanDependents and deletionPropagation cannot be both set")),
					`DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set`},
				{DeleteOpts("propagationPolicy", "Bogus"),
					deleteOptionsInvalid(field.NotSupported(field.NewPath("propagationPolicy"), &bogus, []string{"Foreground", "Background", "Orphan", "nil"})),
					`DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Bogus": supported values: "Foreground", "Background", "Orphan", "nil"`},
				{DeleteOpts("dryRun", []string{"Some"}),
					deleteOptionsInvalid(field.NotSupported(field.NewPath("dryRun"), []string{"Some"}, []string{"All"})),
					`DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Some"]: supported values: "All"`},
			}
			for _, c := range cases {
				if c.want.Message != c.msg {
					h.Fatalf("reference message %q differs from the spec's %q", c.want.Message, c.msg)
				}
				h.WantStatus(h.Delete(h.P("configmaps", "x"), c.opts), c.want)
			}
			// The same through query parameters.
			h.WantStatus(h.Delete(h.P("configmaps", "x")+"?propagationPolicy=Bogus", nil), cases[1].want)
			h.Want(h.Get(h.P("configmaps", "x")), 200)
		}},

		{"B3 J1 deleting a missing object gives 404 with name, group and plural kind", func(h *H) {
			h.WantStatus(h.Delete(h.P("configmaps", "nope"), nil), metav1.Status{
				Status: "Failure", Code: 404, Reason: "NotFound", Message: `configmaps "nope" not found`,
				Details: &metav1.StatusDetails{Name: "nope", Kind: "configmaps"}})
			h.WantStatus(h.Delete(h.GP("batch", "v1", "jobs", "nope"), nil), metav1.Status{
				Status: "Failure", Code: 404, Reason: "NotFound", Message: `jobs.batch "nope" not found`,
				Details: &metav1.StatusDetails{Name: "nope", Group: "batch", Kind: "jobs"}})
		}},

		{"B4 J3b precondition mismatches give 409 Conflict naming the Kind", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("f2"))
			const wrongUID = "00000000-0000-0000-0000-000000000009"
			h.WantStatus(h.Delete(h.P("configmaps", "f2"), DeleteOpts("preconditions", Obj{"uid": wrongUID})),
				apierrors.NewConflict(schema.GroupResource{Resource: "ConfigMap"}, "f2", fmt.Errorf(
					"the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", wrongUID, UID(o))).ErrStatus)
			h.WantStatus(h.Delete(h.P("configmaps", "f2"), DeleteOpts("preconditions", Obj{"resourceVersion": "1"})),
				apierrors.NewConflict(schema.GroupResource{Resource: "ConfigMap"}, "f2", fmt.Errorf(
					"the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (%s). The object might have been modified", RV(o))).ErrStatus)
			j := h.Create(h.GP("batch", "v1", "jobs"), Job("j"))
			h.WantStatus(h.Delete(h.GP("batch", "v1", "jobs", "j"), DeleteOpts("preconditions", Obj{"uid": wrongUID})),
				apierrors.NewConflict(schema.GroupResource{Group: "batch", Resource: "Job"}, "j", fmt.Errorf(
					"the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", wrongUID, UID(j))).ErrStatus)
			// Nothing was changed; matching preconditions delete.
			g := h.Want(h.Get(h.P("configmaps", "f2")), 200)
			if RV(g) != RV(o) {
				h.Errorf("resourceVersion after rejected deletes: %s, want %s", RV(g), RV(o))
			}
			h.WantStatus(h.Delete(h.P("configmaps", "f2"), DeleteOpts("preconditions", Obj{"uid": UID(o), "resourceVersion": RV(o)})),
				success("f2", "", "configmaps", UID(o)))
			h.Gone(h.P("configmaps", "f2"))
		}},

		{"B4 Namespaces run their own precondition check", func(h *H) {
			ns := h.Want(h.Get(NSPath(h.NS)), 200)
			const wrongUID = "00000000-0000-0000-0000-000000000009"
			h.WantStatus(h.Delete(NSPath(h.NS), DeleteOpts("preconditions", Obj{"uid": wrongUID})),
				apierrors.NewConflict(schema.GroupResource{Resource: "namespaces"}, h.NS, fmt.Errorf(
					"Precondition failed: UID in precondition: %v, UID in object meta: %v", wrongUID, UID(ns))).ErrStatus)
			h.WantStatus(h.Delete(NSPath(h.NS), DeleteOpts("preconditions", Obj{"resourceVersion": "1"})),
				apierrors.NewConflict(schema.GroupResource{Resource: "namespaces"}, h.NS, fmt.Errorf(
					"Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", "1", RV(ns))).ErrStatus)
			h.Equal("Namespace after rejected deletes", h.Want(h.Get(NSPath(h.NS)), 200), ns)
			d := h.Want(h.Delete(NSPath(h.NS), DeleteOpts("preconditions", Obj{"uid": UID(ns), "resourceVersion": RV(ns)})), 200)
			if S(d, "status", "phase") != "Terminating" {
				h.Errorf("DELETE with matching preconditions: %s", js(d))
			}
		}},

		{"B6 pending delete returns 200 with the object", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("f", hold))
			now := time.Now()
			d := h.Want(h.Delete(h.P("configmaps", "f"), nil), 200)
			if S(d, "kind") != "ConfigMap" || UID(d) != UID(o) {
				h.Fatalf("pending delete answer: want the ConfigMap, got %s", js(d))
			}
			h.WantDeletionNear("answer", d, now)
			h.WantFinalizers("answer", d, hold)
			g := h.Terminating(h.P("configmaps", "f"))
			h.Equal("answer vs stored object", d, g)
			if !rvLess(h, RV(o), RV(d)) {
				h.Errorf("resourceVersion %s after marking, want > %s", RV(d), RV(o))
			}
		}},

		{"B6 a pending delete that explicitly sets orphanDependents false returns 202", func(h *H) {
			h.Create(h.P("configmaps"), CM("f", hold))
			d := h.Want(h.Delete(h.P("configmaps", "f"), DeleteOpts("orphanDependents", false)), 202)
			if S(d, "kind") != "ConfigMap" {
				h.Fatalf("202 answer: want the ConfigMap, got %s", js(d))
			}
			h.WantFinalizers("orphanDependents false", d, hold)
			h.Terminating(h.P("configmaps", "f"))
			// orphanDependents true is an ordinary 200.
			h.Create(h.P("configmaps"), CM("t", hold))
			d = h.Want(h.Delete(h.P("configmaps", "t"), DeleteOpts("orphanDependents", true)), 200)
			h.WantFinalizers("orphanDependents true", d, hold, "orphan")
			// Any pending deletion counts: a pod entering its grace period and a Namespace.
			h.Create(h.P("pods"), Pod("p", "node-1"))
			d = h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("orphanDependents", false)), 202)
			h.WantGrace("pod deleted with orphanDependents false", d, 30)
			ns := h.Sub("od")
			h.Create("/api/v1/namespaces", Namespace(ns))
			d = h.Want(h.Delete(NSPath(ns), DeleteOpts("orphanDependents", false)), 202)
			if S(d, "kind") != "Namespace" || S(d, "status", "phase") != "Terminating" {
				h.Errorf("Namespace deleted with orphanDependents false: %s", js(d))
			}
			// An immediate delete with orphanDependents false is a 200 Status.
			o := h.Create(h.P("configmaps"), CM("now"))
			h.WantStatus(h.Delete(h.P("configmaps", "now"), DeleteOpts("orphanDependents", false)), success("now", "", "configmaps", UID(o)))
		}},

		{"B6 J12 an immediate delete of a non-object resource returns a success Status without code", func(h *H) {
			c := h.Create(h.P("configmaps"), CM("c"))
			h.WantStatus(h.Delete(h.P("configmaps", "c"), nil), success("c", "", "configmaps", UID(c)))
			h.Gone(h.P("configmaps", "c"))
			s := h.Create(h.P("secrets"), Obj{"apiVersion": "v1", "kind": "Secret", "metadata": Obj{"name": "s"}})
			h.WantStatus(h.Delete(h.P("secrets", "s"), nil), success("s", "", "secrets", UID(s)))
			deps := h.GP("apps", "v1", "deployments")
			d := h.Create(deps, Deployment("d"))
			h.WantStatus(h.Delete(deps+"/d", nil), success("d", "apps", "deployments", UID(d)))
			jobs := h.GP("batch", "v1", "jobs")
			j := h.Create(jobs, Job("j"))
			h.WantStatus(h.Delete(jobs+"/j", DeleteOpts("propagationPolicy", "Background")), success("j", "batch", "jobs", UID(j)))
			h.Gone(jobs + "/j")
		}},

		{"B6 G3 an immediate delete of a pod, service or serviceaccount returns the deleted object", func(h *H) {
			for _, c := range []struct {
				resource, kind string
				body           Obj
			}{
				{"pods", "Pod", Pod("p", "")},
				{"services", "Service", Service("s")},
				{"serviceaccounts", "ServiceAccount", Obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": Obj{"name": "sa"}}},
			} {
				o := h.Create(h.P(c.resource), c.body)
				w := h.Watch(h.P(c.resource), RV(o))
				d := h.Want(h.Delete(h.P(c.resource, Name(o)), nil), 200)
				if S(d, "kind") != c.kind || UID(d) != UID(o) {
					h.Errorf("%s delete answer: want the deleted %s, got %s", c.resource, c.kind, js(d))
					continue
				}
				if c.resource == "pods" {
					w.Expect("MODIFIED", "p")
				}
				del := w.Expect("DELETED", Name(o))
				if RV(d) != RV(del) {
					h.Errorf("%s delete answer resourceVersion %s, want the delete revision %s", c.resource, RV(d), RV(del))
				}
				h.Gone(h.P(c.resource, Name(o)))
			}
		}},

		{"B7 a Job deleted without options gets the orphan finalizer and generation +1", func(h *H) {
			jobs := h.GP("batch", "v1", "jobs")
			j := h.Create(jobs, Job("j"))
			h.WantFinalizers("created Job", j)
			w := h.Watch(jobs, RV(j))
			d := h.Want(h.Delete(jobs+"/j", nil), 200)
			h.WantFinalizers("Job deleted without options", d, "orphan")
			h.WantGeneration("Job deleted without options", d, 2)
			m := w.Expect("MODIFIED", "j")
			h.WantFinalizers("MODIFIED event", m, "orphan")
			h.WantGrace("MODIFIED event", m, 0)
		}},

		{"B7 a ReplicationController deleted without options gets the orphan finalizer", func(h *H) {
			rc := h.Create(h.P("replicationcontrollers"), RC("rc"))
			h.WantGeneration("created RC", rc, 1)
			d := h.Want(h.Delete(h.P("replicationcontrollers", "rc"), nil), 200)
			h.WantFinalizers("RC deleted without options", d, "orphan")
			h.WantGeneration("RC deleted without options", d, 2)
		}},

		{"B7 the request's policy picks the GC finalizer, appended after the object's own", func(h *H) {
			for _, c := range []struct {
				name string
				opts Obj
				want []string
			}{
				{"fg", DeleteOpts("propagationPolicy", "Foreground"), []string{hold, "foregroundDeletion"}},
				{"orphan", DeleteOpts("propagationPolicy", "Orphan"), []string{hold, "orphan"}},
				{"bg", DeleteOpts("propagationPolicy", "Background"), []string{hold}},
				{"od-true", DeleteOpts("orphanDependents", true), []string{hold, "orphan"}},
				{"od-false", DeleteOpts("orphanDependents", false), []string{hold}},
				{"none", nil, []string{hold}},
			} {
				h.Create(h.P("configmaps"), CM(c.name, hold))
				r := h.Delete(h.P("configmaps", c.name), c.opts)
				if r.Code != 200 && r.Code != 202 {
					h.Errorf("%s: %s", c.name, r)
					continue
				}
				h.WantFinalizers(c.name, decode(h, r.Body), c.want...)
			}
			// Apps workloads default to background; a Job with an explicit policy follows it.
			deps := h.GP("apps", "v1", "deployments")
			h.Create(deps, Deployment("d", hold))
			h.WantFinalizers("Deployment deleted without options", h.Want(h.Delete(deps+"/d", nil), 200), hold)
			jobs := h.GP("batch", "v1", "jobs")
			h.Create(jobs, Job("j", hold))
			h.WantFinalizers("Job deleted with Foreground", h.Want(h.Delete(jobs+"/j", DeleteOpts("propagationPolicy", "Foreground")), 200), hold, "foregroundDeletion")
			// With no options an object keeps the GC finalizer it carries, in its order.
			h.Create(h.P("configmaps"), CM("keep", "foregroundDeletion", hold))
			h.WantFinalizers("no options on an object carrying foregroundDeletion",
				h.Want(h.Delete(h.P("configmaps", "keep"), nil), 200), "foregroundDeletion", hold)
		}},

		{"B7 Events never get a GC finalizer", func(h *H) {
			h.Create(h.P("events"), EventObj("e", h.NS, hold))
			d := h.Want(h.Delete(h.P("events", "e"), DeleteOpts("propagationPolicy", "Orphan")), 200)
			h.WantFinalizers("Event deleted with Orphan", d, hold)
			d2 := h.Want(h.Delete(h.P("events", "e"), DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WantFinalizers("Event deleted with Foreground", d2, hold)
			if RV(d2) != RV(d) {
				h.Errorf("second DELETE of the Event wrote (resourceVersion %s → %s)", RV(d), RV(d2))
			}
			e2 := h.Create(h.P("events"), EventObj("e2", h.NS))
			h.WantStatus(h.Delete(h.P("events", "e2"), DeleteOpts("orphanDependents", true)), success("e2", "", "events", UID(e2)))
		}},

		{"B8 a repeated DELETE with the same policy writes nothing and sends no event", func(h *H) {
			h.Create(h.P("configmaps"), CM("f", hold))
			d1 := h.Want(h.Delete(h.P("configmaps", "f"), nil), 200)
			w := h.Watch(h.P("configmaps"), RV(d1))
			d2 := h.Want(h.Delete(h.P("configmaps", "f"), DeleteOpts("propagationPolicy", "Background")), 200)
			h.Equal("answer to the repeated DELETE", d2, d1)
			w.Quiet("repeated DELETE", CM(h.Gen("sentinel")))
		}},

		{"B8 C7 a DELETE that changes the GC finalizer is one MODIFIED; deletionTimestamp never moves", func(h *H) {
			h.Create(h.P("configmaps"), CM("f", hold))
			d1 := h.Want(h.Delete(h.P("configmaps", "f"), nil), 200)
			w := h.Watch(h.P("configmaps"), RV(d1))
			d2 := h.Want(h.Delete(h.P("configmaps", "f"), DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WantFinalizers("after Foreground", d2, hold, "foregroundDeletion")
			m := w.Expect("MODIFIED", "f")
			h.Equal("MODIFIED object vs answer", m, d2)
			d3 := h.Want(h.Delete(h.P("configmaps", "f"), DeleteOpts("propagationPolicy", "Orphan")), 200)
			h.WantFinalizers("after Orphan", d3, hold, "orphan")
			w.Expect("MODIFIED", "f")
			for _, d := range []Obj{d2, d3} {
				if S(d, "metadata", "deletionTimestamp") != S(d1, "metadata", "deletionTimestamp") {
					h.Errorf("deletionTimestamp moved: %s → %s", S(d1, "metadata", "deletionTimestamp"), S(d, "metadata", "deletionTimestamp"))
				}
			}
			w.Quiet("after the two changes", CM(h.Gen("sentinel")))
		}},

		{"B8 Background on an object held only by orphan removes it at once", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("f"))
			d := h.Want(h.Delete(h.P("configmaps", "f"), DeleteOpts("propagationPolicy", "Orphan")), 200)
			h.WantFinalizers("after Orphan", d, "orphan")
			w := h.Watch(h.P("configmaps"), RV(d))
			h.WantStatus(h.Delete(h.P("configmaps", "f"), DeleteOpts("propagationPolicy", "Background")), success("f", "", "configmaps", UID(o)))
			del := w.Expect("DELETED", "f")
			h.WantFinalizers("DELETED event object", del, "orphan")
			h.Gone(h.P("configmaps", "f"))
		}},

		{"B8 a pod in its grace period ignores GC options on a repeated DELETE", func(h *H) {
			h.Create(h.P("pods"), Pod("p", "node-1"))
			d1 := h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			w := h.Watch(h.P("pods"), RV(d1))
			d2 := h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.Equal("answer to the repeated DELETE", d2, d1)
			w.Quiet("repeated DELETE of a graceful pod", Pod(h.Gen("sentinel"), "node-1"))
		}},

		{"B9 dryRun=All on an immediate delete answers as it would and changes nothing", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("c"))
			w := h.Watch(h.P("configmaps"), RV(o))
			h.WantStatus(h.Delete(h.P("configmaps", "c")+"?dryRun=All", nil), success("c", "", "configmaps", UID(o)))
			h.WantStatus(h.Delete(h.P("configmaps", "c"), DeleteOpts("dryRun", []string{"All"})), success("c", "", "configmaps", UID(o)))
			g := h.Want(h.Get(h.P("configmaps", "c")), 200)
			h.Equal("stored object after dry runs", g, o)
			p := h.Create(h.P("pods"), Pod("p", ""))
			d := h.Want(h.Delete(h.P("pods", "p")+"?dryRun=All", nil), 200)
			if S(d, "kind") != "Pod" || UID(d) != UID(p) {
				h.Errorf("dry-run delete of an unscheduled pod: want the Pod, got %s", js(d))
			}
			h.Want(h.Get(h.P("pods", "p")), 200)
			w.Quiet("dry-run deletes", CM(h.Gen("sentinel")))
		}},

		{"B9 dryRun=All on a pending delete answers with the object as it would be marked and changes nothing", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("f", hold))
			w := h.Watch(h.P("configmaps"), RV(o))
			now := time.Now()
			d := h.Want(h.Delete(h.P("configmaps", "f"), DeleteOpts("dryRun", []string{"All"}, "propagationPolicy", "Foreground")), 200)
			h.WantDeletionNear("dry-run answer", d, now)
			h.WantGrace("dry-run answer", d, 0)
			h.WantFinalizers("dry-run answer", d, hold, "foregroundDeletion")
			g := h.Want(h.Get(h.P("configmaps", "f")), 200)
			h.Equal("stored object after the dry run", g, o)
			// A bound pod: the answer shows the grace period it would get.
			p := h.Create(h.P("pods"), Pod("p", "node-1"))
			now = time.Now()
			d = h.Want(h.Delete(h.P("pods", "p")+"?dryRun=All", nil), 200)
			h.WantDeletionNear("dry-run pod answer", d, now.Add(30*time.Second))
			h.WantGrace("dry-run pod answer", d, 30)
			h.Equal("stored pod after the dry run", h.Want(h.Get(h.P("pods", "p")), 200), p)
			// And on an object already terminating: nothing changes either.
			d1 := h.Want(h.Delete(h.P("configmaps", "f"), nil), 200)
			w.Expect("MODIFIED", "f")
			h.Want(h.Delete(h.P("configmaps", "f")+"?dryRun=All&propagationPolicy=Orphan", nil), 200)
			h.Equal("stored object after a dry run on a terminating object", h.Want(h.Get(h.P("configmaps", "f")), 200), d1)
			w.Quiet("dry-run deletes", CM(h.Gen("sentinel")))
		}},

		{"B10 deletecollection answers the list as listed and deletes each item by B5", func(h *H) {
			var created []Obj
			for _, c := range []Obj{CM("a"), CM("b", hold), CM("c")} {
				c["metadata"].(Obj)["labels"] = Obj{"set": "x"}
				created = append(created, h.Create(h.P("configmaps"), c))
			}
			h.Create(h.P("configmaps"), CM("other"))
			r := h.Want(h.Delete(h.P("configmaps")+"?labelSelector=set%3Dx", nil), 200)
			if S(r, "kind") != "ConfigMapList" {
				h.Fatalf("deletecollection answer: want a ConfigMapList, got %s", js(r))
			}
			items, _ := r["items"].([]any)
			if len(items) != len(created) {
				h.Fatalf("deletecollection answer has %d items, want %d: %s", len(items), len(created), js(r))
			}
			for i, it := range items {
				o := it.(map[string]any)
				if Name(o) != Name(created[i]) || RV(o) != RV(created[i]) {
					h.Errorf("item %d: %s@%s, want %s@%s (pre-deletion state)", i, Name(o), RV(o), Name(created[i]), RV(created[i]))
				}
				if _, ok := DeletionTime(h, o); ok {
					h.Errorf("item %s in the answer has a deletionTimestamp; want the state as listed", Name(o))
				}
			}
			if lrv := S(r, "metadata", "resourceVersion"); lrv == "" || rvLess(h, lrv, RV(created[2])) {
				h.Errorf("list resourceVersion %q, want ≥ every item's", lrv)
			}
			h.Gone(h.P("configmaps", "a"))
			h.Gone(h.P("configmaps", "c"))
			h.WantFinalizers("held item", h.Terminating(h.P("configmaps", "b")), hold)
			h.Want(h.Get(h.P("configmaps", "other")), 200)
		}},

		{"B10 deletecollection applies grace periods and finalizers per item", func(h *H) {
			for _, p := range []Obj{Pod("bound", "node-1"), Pod("unscheduled", ""), Pod("held", "", hold)} {
				p["metadata"].(Obj)["labels"] = Obj{"set": "x"}
				h.Create(h.P("pods"), p)
			}
			now := time.Now()
			r := h.Want(h.Delete(h.P("pods")+"?labelSelector=set%3Dx", nil), 200)
			if items, _ := r["items"].([]any); S(r, "kind") != "PodList" || len(items) != 3 {
				h.Fatalf("answer: want a PodList of 3, got %s", js(r))
			}
			b := h.Terminating(h.P("pods", "bound"))
			h.WantGrace("bound pod", b, 30)
			h.WantDeletionNear("bound pod", b, now.Add(30*time.Second))
			h.Gone(h.P("pods", "unscheduled"))
			held := h.Terminating(h.P("pods", "held"))
			h.WantGrace("held unscheduled pod", held, 0)
		}},

		{"B10 J6 a resource without deletecollection answers 405", func(h *H) {
			h.WantStatus(h.Delete("/api/v1/namespaces?labelSelector=kubernetes.io%2Fmetadata.name%3D"+h.NS, nil), metav1.Status{
				Status: "Failure", Code: 405, Reason: "MethodNotAllowed",
				Message: "the server does not allow this method on the requested resource", Details: &metav1.StatusDetails{}})
			g := h.Want(h.Get(NSPath(h.NS)), 200)
			if _, ok := DeletionTime(h, g); ok {
				h.Errorf("namespace marked for deletion by a rejected deletecollection")
			}
		}},

		{"B10 deletecollection with limit processes only one page", func(h *H) {
			for _, n := range []string{"a", "b", "c"} {
				c := CM(n)
				c["metadata"].(Obj)["labels"] = Obj{"set": "x"}
				h.Create(h.P("configmaps"), c)
			}
			r := h.Want(h.Delete(h.P("configmaps")+"?labelSelector=set%3Dx&limit=2", nil), 200)
			items, _ := r["items"].([]any)
			if len(items) != 2 || Name(items[0].(map[string]any)) != "a" || Name(items[1].(map[string]any)) != "b" {
				h.Errorf("answer items: want a and b, got %s", js(items))
			}
			if S(r, "metadata", "continue") == "" {
				h.Errorf("answer to a limited deletecollection has no continue token: %s", js(r["metadata"]))
			}
			h.Gone(h.P("configmaps", "a"))
			h.Gone(h.P("configmaps", "b"))
			h.Want(h.Get(h.P("configmaps", "c")), 200)
		}},
	}
}
