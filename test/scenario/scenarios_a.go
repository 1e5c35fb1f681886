package scenario

import (
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// invalid is the 422 Status upstream builds for a Kind and field errors
// (apierrors.NewInvalid), the reference for exact Invalid bodies.
func invalid(kind, name string, errs ...*field.Error) metav1.Status {
	return apierrors.NewInvalid(schema.GroupKind{Kind: kind}, name, field.ErrorList(errs)).ErrStatus
}

func scenariosA() []Scenario {
	return []Scenario{
		{"A2 J2b a terminating object keeps its name: re-create gives 409 AlreadyExists with the being-deleted prefix", func(h *H) {
			h.Create(h.P("configmaps"), CM("f2", hold))
			h.Want(h.Delete(h.P("configmaps", "f2"), nil), 200)
			h.WantStatus(h.Post(h.P("configmaps"), CM("f2")), metav1.Status{
				Status: "Failure", Code: 409, Reason: "AlreadyExists",
				Message: `object is being deleted: configmaps "f2" already exists`,
				Details: &metav1.StatusDetails{Name: "f2", Kind: "configmaps"},
			})
			// The name is free once the object is physically removed.
			h.Want(h.Merge(h.P("configmaps", "f2"), `{"metadata":{"finalizers":null}}`), 200)
			h.Gone(h.P("configmaps", "f2"))
			h.Create(h.P("configmaps"), CM("f2"))
			// A pod in its grace period holds its name too.
			h.Create(h.P("pods"), Pod("p", "node-1"))
			h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			h.WantStatus(h.Post(h.P("pods"), Pod("p", "node-1")), metav1.Status{
				Status: "Failure", Code: 409, Reason: "AlreadyExists",
				Message: `object is being deleted: pods "p" already exists`,
				Details: &metav1.StatusDetails{Name: "p", Kind: "pods"},
			})
		}},

		{"A4 create wipes uid, creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds; update keeps the uid", func(h *H) {
			const sentUID = "00000000-0000-0000-0000-000000000001"
			body := CM("a4")
			md := body["metadata"].(Obj)
			md["uid"] = sentUID
			md["creationTimestamp"] = "2001-01-01T00:00:00Z"
			md["deletionTimestamp"] = "2001-01-01T00:00:00Z"
			md["deletionGracePeriodSeconds"] = 7
			before := time.Now()
			o := h.Create(h.P("configmaps"), body)
			if uid := UID(o); uid == "" || uid == sentUID {
				h.Errorf("uid %q: want a fresh server-generated uid", uid)
			}
			if _, ok := DeletionTime(h, o); ok {
				h.Errorf("created object has a deletionTimestamp: %s", js(o["metadata"]))
			}
			h.WantGrace("created object", o, -1)
			ct, err := time.Parse(time.RFC3339, S(o, "metadata", "creationTimestamp"))
			if err != nil || ct.Before(before.Add(-slack)) {
				h.Errorf("creationTimestamp %q: want ≈ now (%v)", S(o, "metadata", "creationTimestamp"), err)
			}
			// Stored state agrees with the answer.
			g := h.Want(h.Get(h.P("configmaps", "a4")), 200)
			if _, ok := DeletionTime(h, g); ok || UID(g) != UID(o) {
				h.Errorf("stored object: %s", js(g["metadata"]))
			}
			// Update with no uid keeps the stored one.
			u := h.Want(h.Put(h.P("configmaps", "a4"), CM("a4")), 200)
			if UID(u) != UID(o) {
				h.Errorf("update without uid: uid %q, want %q", UID(u), UID(o))
			}
			// Update with another uid is rejected.
			other := CM("a4")
			other["metadata"].(Obj)["uid"] = sentUID
			h.WantStatus(h.Put(h.P("configmaps", "a4"), other), invalid("ConfigMap", "a4",
				field.Invalid(field.NewPath("metadata", "uid"), types.UID(sentUID), "field is immutable")))
		}},

		{"A7 the first deletion bumps generation once for a Job and a Pod, never for a ConfigMap", func(h *H) {
			jobs := h.GP("batch", "v1", "jobs")
			j := h.Create(jobs, Job("j"))
			h.WantGeneration("created Job", j, 1)
			d := h.Want(h.Delete(jobs+"/j", nil), 200)
			h.WantGeneration("Job after the first DELETE", d, 2)
			d = h.Want(h.Delete(jobs+"/j", DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WantGeneration("Job after a second DELETE that changes its GC finalizer", d, 2)
			d = h.Want(h.Delete(jobs+"/j", nil), 200)
			h.WantGeneration("Job after a third DELETE", d, 2)

			p := h.Create(h.P("pods"), Pod("p", "node-1"))
			h.WantGeneration("created Pod", p, 1)
			d = h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			h.WantGeneration("Pod after the first DELETE", d, 2)
			d = h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("gracePeriodSeconds", 10)), 200)
			h.WantGeneration("Pod after shortening its grace", d, 2)
			d = h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			h.WantGeneration("Pod after a repeated DELETE", d, 2)

			c := h.Create(h.P("configmaps"), CM("c", hold))
			h.WantGeneration("created ConfigMap", c, 0)
			d = h.Want(h.Delete(h.P("configmaps", "c"), nil), 200)
			h.WantGeneration("ConfigMap after DELETE", d, 0)
		}},

		{"A9 deletionGracePeriodSeconds is 0 for a ConfigMap, the grace for a pod and absent for a Namespace", func(h *H) {
			h.Create(h.P("configmaps"), CM("c", hold))
			d := h.Want(h.Delete(h.P("configmaps", "c"), nil), 200)
			h.WantGrace("ConfigMap marked for deletion", d, 0)

			pod := Pod("p", "node-1")
			pod["spec"].(Obj)["terminationGracePeriodSeconds"] = 45
			h.Create(h.P("pods"), pod)
			now := time.Now()
			d = h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			h.WantGrace("Pod in its grace period", d, 45)
			h.WantDeletionNear("Pod in its grace period", d, now.Add(45*time.Second))

			d = h.Want(h.Delete(NSPath(h.NS), nil), 200)
			h.WantGrace("Namespace marked for deletion", d, -1)
			if _, ok := DeletionTime(h, d); !ok {
				h.Errorf("Namespace after DELETE has no deletionTimestamp")
			}
		}},

		{"A10 duplicate ownerReferences are deduped with a 299 warning", func(h *H) {
			const uid = "11111111-1111-1111-1111-111111111111"
			ref := Obj{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}
			body := CM("dup")
			body["metadata"].(Obj)["ownerReferences"] = []Obj{ref, ref}
			r := h.Post(h.P("configmaps"), body)
			o := h.Want(r, 201)
			h.Equal("ownerReferences after create", F(o, "metadata", "ownerReferences"), []any{map[string]any(ref)})
			want := fmt.Sprintf(".metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: %v", uid)
			if ws := r.Warnings(); !slices.Contains(ws, want) {
				h.Errorf("Warning headers %q (raw %q), want one with text %q", ws, r.Header.Values("Warning"), want)
			}
			g := h.Want(h.Get(h.P("configmaps", "dup")), 200)
			if refs, _ := F(g, "metadata", "ownerReferences").([]any); len(refs) != 1 {
				h.Errorf("stored ownerReferences: %s", js(refs))
			}
		}},

		{"A10 two controller ownerReferences are rejected", func(h *H) {
			t := true
			refs := []metav1.OwnerReference{
				{APIVersion: "v1", Kind: "ConfigMap", Name: "a", UID: "11111111-1111-1111-1111-111111111111", Controller: &t},
				{APIVersion: "v1", Kind: "ConfigMap", Name: "b", UID: "22222222-2222-2222-2222-222222222222", Controller: &t},
			}
			body := CM("two")
			body["metadata"].(Obj)["ownerReferences"] = refs
			want := invalid("ConfigMap", "two", field.Invalid(field.NewPath("metadata", "ownerReferences"), refs,
				`Only one reference can have Controller set to true. Found "true" in references for ConfigMap/a and ConfigMap/b`))
			h.WantStatus(h.Post(h.P("configmaps"), body), want)
			h.Gone(h.P("configmaps", "two"))
		}},

		{"A11 a finalizer name that is neither standard nor qualified is rejected on a built-in type", func(h *H) {
			want := invalid("ConfigMap", "badfin", field.Invalid(field.NewPath("metadata", "finalizers").Index(0), "foo",
				"name is neither a standard finalizer name nor is it fully qualified"))
			if m := `ConfigMap "badfin" is invalid: metadata.finalizers[0]: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified`; want.Message != m {
				h.Fatalf("reference message %q differs from the spec's %q", want.Message, m)
			}
			h.WantStatus(h.Post(h.P("configmaps"), CM("badfin", "foo")), want)
			// The standard names are accepted.
			o := h.Create(h.P("configmaps"), CM("goodfin", "kubernetes", "orphan", hold))
			h.WantFinalizers("created", o, "kubernetes", "orphan", hold)
		}},

		{"A11 orphan and foregroundDeletion together are rejected", func(h *H) {
			fin := []string{"orphan", "foregroundDeletion"}
			h.WantStatus(h.Post(h.P("configmaps"), CM("both", fin...)), invalid("ConfigMap", "both",
				field.Invalid(field.NewPath("metadata", "finalizers"), fin, "finalizer orphan and foregroundDeletion cannot be both set")))
			// The same on update.
			h.Create(h.P("configmaps"), CM("later", "orphan"))
			h.WantStatus(h.Merge(h.P("configmaps", "later"), `{"metadata":{"finalizers":["orphan","foregroundDeletion"]}}`),
				invalid("ConfigMap", "later", field.Invalid(field.NewPath("metadata", "finalizers"), fin,
					"finalizer orphan and foregroundDeletion cannot be both set")))
		}},

		{"A12 Table output shows Terminating for a deleting pod and Job and the phase for a Namespace", func(h *H) {
			status := func(path string) string {
				h.Helper()
				tb := h.Want(h.DoAccept("GET", path, "", tableType, nil), 200)
				if S(tb, "kind") != "Table" {
					h.Fatalf("GET %s as Table: kind %q", path, S(tb, "kind"))
				}
				cols, _ := tb["columnDefinitions"].([]any)
				rows, _ := tb["rows"].([]any)
				if len(rows) != 1 {
					h.Fatalf("GET %s as Table: %d rows", path, len(rows))
				}
				cells, _ := rows[0].(map[string]any)["cells"].([]any)
				for i, c := range cols {
					if S(c.(map[string]any), "name") == "Status" && i < len(cells) {
						s, _ := cells[i].(string)
						return s
					}
				}
				h.Fatalf("GET %s as Table: no Status column: %s", path, js(cols))
				return ""
			}
			h.Create(h.P("pods"), Pod("p", "node-1"))
			h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			if s := status(h.P("pods", "p")); s != "Terminating" {
				h.Errorf("pod Status column %q, want Terminating", s)
			}
			jobs := h.GP("batch", "v1", "jobs")
			h.Create(jobs, Job("j", hold))
			if s := status(jobs + "/j"); s != "Running" {
				h.Errorf("live Job Status column %q, want Running", s)
			}
			h.Want(h.Delete(jobs+"/j", DeleteOpts("propagationPolicy", "Background")), 200)
			if s := status(jobs + "/j"); s != "Terminating" {
				h.Errorf("deleting Job Status column %q, want Terminating", s)
			}
			if s := status(NSPath(h.NS)); s != "Active" {
				h.Errorf("Namespace Status column %q, want Active", s)
			}
			h.Want(h.Delete(NSPath(h.NS), nil), 200)
			if s := status(NSPath(h.NS)); s != "Terminating" {
				h.Errorf("deleting Namespace Status column %q, want Terminating", s)
			}
		}},
	}
}
