package scenario

import (
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// withFinalizers returns a copy of o (one level deep in metadata) with the
// given finalizers (none: the field removed).
func withFinalizers(o Obj, fin ...string) Obj {
	c := Obj{}
	for k, v := range o {
		c[k] = v
	}
	md := Obj{}
	for k, v := range o["metadata"].(map[string]any) {
		md[k] = v
	}
	delete(md, "finalizers")
	if len(fin) > 0 {
		md["finalizers"] = fin
	}
	c["metadata"] = md
	return c
}

func setMeta(o Obj, key string, v any) Obj {
	c := withFinalizers(o, Finalizers(o)...)
	c["metadata"].(Obj)[key] = v
	return c
}

func conflict(resource, name string) metav1.Status {
	return apierrors.NewConflict(schema.GroupResource{Resource: resource}, name,
		fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again")).ErrStatus
}

func scenariosC() []Scenario {
	return []Scenario{
		{"C1 labels, data and finalizer order may change on a terminating object", func(h *H) {
			h.Create(h.P("configmaps"), CM("f", hold, hold2))
			d := h.Want(h.Delete(h.P("configmaps", "f"), nil), 200)
			u := setMeta(d, "labels", Obj{"changed": "yes"})
			u["data"] = Obj{"k": "v2"}
			u = withFinalizers(u, hold2, hold)
			r := h.Want(h.Put(h.P("configmaps", "f"), u), 200)
			if S(r, "metadata", "labels", "changed") != "yes" || S(r, "data", "k") != "v2" {
				h.Errorf("update of a terminating object: %s", js(r))
			}
			h.WantFinalizers("reordered", r, hold2, hold)
			r = h.Want(h.Merge(h.P("configmaps", "f"), `{"metadata":{"annotations":{"a":"b"}}}`), 200)
			if S(r, "metadata", "annotations", "a") != "b" {
				h.Errorf("patch of a terminating object: %s", js(r))
			}
			if S(r, "metadata", "deletionTimestamp") != S(d, "metadata", "deletionTimestamp") {
				h.Errorf("deletionTimestamp changed by updates: %s → %s", S(d, "metadata", "deletionTimestamp"), S(r, "metadata", "deletionTimestamp"))
			}
		}},

		{"C2 J4 no new finalizers may be added to a terminating object", func(h *H) {
			h.Create(h.P("configmaps"), CM("fin", hold, hold2))
			d := h.Want(h.Delete(h.P("configmaps", "fin"), nil), 200)
			msg := func(f string) string {
				return fmt.Sprintf(`Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{%q}`, f)
			}
			want := func(f string) metav1.Status {
				return metav1.Status{Status: "Failure", Code: 422, Reason: "Invalid",
					Message: `ConfigMap "fin" is invalid: metadata.finalizers: ` + msg(f),
					Details: &metav1.StatusDetails{Name: "fin", Kind: "ConfigMap", Causes: []metav1.StatusCause{{
						Type: "FieldValueForbidden", Message: msg(f), Field: "metadata.finalizers"}}}}
			}
			h.WantStatus(h.Put(h.P("configmaps", "fin"), withFinalizers(d, hold, hold2, "example.com/c")), want("example.com/c"))
			h.WantStatus(h.Merge(h.P("configmaps", "fin"), `{"metadata":{"finalizers":["example.com/c","example.com/hold","example.com/hold2"]}}`), want("example.com/c"))
			// Removing one is fine; adding it back counts as new.
			r := h.Want(h.Merge(h.P("configmaps", "fin"), `{"metadata":{"finalizers":["example.com/hold2"]}}`), 200)
			h.WantFinalizers("after removing one", r, hold2)
			h.WantStatus(h.Merge(h.P("configmaps", "fin"), `{"metadata":{"finalizers":["example.com/hold2","example.com/hold"]}}`), want(hold))
		}},

		{"C3 an update cannot change deletionTimestamp: ignored when set, 422 on a live object", func(h *H) {
			h.Create(h.P("configmaps"), CM("f", hold))
			d := h.Want(h.Delete(h.P("configmaps", "f"), nil), 200)
			ts := S(d, "metadata", "deletionTimestamp")
			r := h.Want(h.Put(h.P("configmaps", "f"), setMeta(d, "deletionTimestamp", "2001-01-01T00:00:00Z")), 200)
			if got := S(r, "metadata", "deletionTimestamp"); got != ts {
				h.Errorf("PUT with another deletionTimestamp: answer has %q, want the stored %q", got, ts)
			}
			r = h.Want(h.Merge(h.P("configmaps", "f"), `{"metadata":{"deletionTimestamp":null}}`), 200)
			if got := S(r, "metadata", "deletionTimestamp"); got != ts {
				h.Errorf("PATCH deletionTimestamp null: answer has %q, want the stored %q", got, ts)
			}
			if got := S(h.Terminating(h.P("configmaps", "f")), "metadata", "deletionTimestamp"); got != ts {
				h.Errorf("stored deletionTimestamp %q, want %q", got, ts)
			}

			live := h.Create(h.P("configmaps"), CM("live"))
			at := metav1.NewTime(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
			h.WantStatus(h.Put(h.P("configmaps", "live"), setMeta(live, "deletionTimestamp", "2001-01-01T00:00:00Z")),
				invalid("ConfigMap", "live", field.Invalid(field.NewPath("metadata", "deletionTimestamp"), &at, "field is immutable")))
			g := h.Want(h.Get(h.P("configmaps", "live")), 200)
			if _, ok := DeletionTime(h, g); ok {
				h.Errorf("live object gained a deletionTimestamp: %s", js(g["metadata"]))
			}
		}},

		{"C4 J4b deletionGracePeriodSeconds is kept when omitted and immutable otherwise", func(h *H) {
			h.Create(h.P("configmaps"), CM("fin", hold))
			d := h.Want(h.Delete(h.P("configmaps", "fin"), nil), 200)
			five := int64(5)
			want := invalid("ConfigMap", "fin", field.Invalid(field.NewPath("metadata", "deletionGracePeriodSeconds"), &five, "field is immutable"))
			if m := `ConfigMap "fin" is invalid: metadata.deletionGracePeriodSeconds: Invalid value: 5: field is immutable`; want.Message != m {
				h.Fatalf("reference message %q differs from the spec's %q", want.Message, m)
			}
			h.WantStatus(h.Put(h.P("configmaps", "fin"), setMeta(d, "deletionGracePeriodSeconds", 5)), want)
			u := withFinalizers(d, hold)
			delete(u["metadata"].(Obj), "deletionGracePeriodSeconds")
			u["data"] = Obj{"k": "v2"}
			r := h.Want(h.Put(h.P("configmaps", "fin"), u), 200)
			h.WantGrace("update without the field", r, 0)
			r = h.Want(h.Merge(h.P("configmaps", "fin"), `{"metadata":{"deletionGracePeriodSeconds":null}}`), 200)
			h.WantGrace("patch with null", r, 0)
		}},

		{"C5 removing the last finalizer deletes in the same request: 200, then one DELETED with the old finalizers", func(h *H) {
			h.Create(h.P("configmaps"), CM("fin", hold))
			d := h.Want(h.Delete(h.P("configmaps", "fin"), nil), 200)
			w := h.Watch(h.P("configmaps"), RV(d))
			r := h.Want(h.Put(h.P("configmaps", "fin"), withFinalizers(d)), 200)
			h.WantFinalizers("answer", r)
			if RV(r) != RV(d) {
				h.Errorf("answer resourceVersion %s, want the previous stored value %s", RV(r), RV(d))
			}
			if S(r, "metadata", "deletionTimestamp") != S(d, "metadata", "deletionTimestamp") {
				h.Errorf("answer deletionTimestamp %q, want %q", S(r, "metadata", "deletionTimestamp"), S(d, "metadata", "deletionTimestamp"))
			}
			h.Gone(h.P("configmaps", "fin"))
			del := w.Expect("DELETED", "fin")
			h.WantFinalizers("DELETED event object", del, hold)
			if !rvLess(h, RV(d), RV(del)) {
				h.Errorf("DELETED resourceVersion %s, want a new one > %s", RV(del), RV(d))
			}
			w.Quiet("after the DELETED", CM(h.Gen("sentinel")))

			// The same through a merge patch, on an unscheduled pod held by a finalizer (C8: grace 0, MODIFIED only).
			p := h.Create(h.P("pods"), Pod("p", "", hold))
			pw := h.Watch(h.P("pods"), RV(p))
			pd := h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			h.WantGrace("pending pod", pd, 0)
			pw.Expect("MODIFIED", "p")
			pr := h.Want(h.Merge(h.P("pods", "p"), `{"metadata":{"finalizers":null}}`), 200)
			if RV(pr) != RV(pd) {
				h.Errorf("pod answer resourceVersion %s, want %s", RV(pr), RV(pd))
			}
			h.WantFinalizers("DELETED pod", pw.Expect("DELETED", "p"), hold)
			h.Gone(h.P("pods", "p"))
		}},

		{"C6 emptying the finalizers of a pod in its grace period is an ordinary update", func(h *H) {
			h.Create(h.P("pods"), Pod("p", "node-1", hold))
			d := h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("gracePeriodSeconds", 30)), 200)
			h.WantGrace("graceful pod", d, 30)
			w := h.Watch(h.P("pods"), RV(d))
			r := h.Want(h.Merge(h.P("pods", "p"), `{"metadata":{"finalizers":null}}`), 200)
			h.WantFinalizers("answer", r)
			m := w.Expect("MODIFIED", "p")
			h.WantFinalizers("MODIFIED event", m)
			if RV(m) != RV(r) || !rvLess(h, RV(d), RV(r)) {
				h.Errorf("update resourceVersions: answer %s, event %s, before %s", RV(r), RV(m), RV(d))
			}
			g := h.Terminating(h.P("pods", "p"))
			h.WantGrace("stored pod", g, 30)
			w.Quiet("after the update", Pod(h.Gen("sentinel"), "node-1"))
		}},

		{"C7 I5 event sequence of a finalizer-held deletion", func(h *H) {
			list := h.Want(h.Get(h.P("configmaps")), 200)
			w := h.Watch(h.P("configmaps"), S(list, "metadata", "resourceVersion"))
			o := h.Create(h.P("configmaps"), CM("f", hold, hold2))
			var rvs []string
			rvs = append(rvs, RV(w.Expect("ADDED", "f")))
			now := time.Now()
			h.Want(h.Delete(h.P("configmaps", "f"), nil), 200)
			m := w.Expect("MODIFIED", "f")
			h.WantDeletionNear("first MODIFIED", m, now)
			h.WantGrace("first MODIFIED", m, 0)
			h.WantFinalizers("first MODIFIED", m, hold, hold2)
			rvs = append(rvs, RV(m))
			h.Want(h.Delete(h.P("configmaps", "f"), nil), 200) // changes nothing: no event
			h.Want(h.Delete(h.P("configmaps", "f"), DeleteOpts("propagationPolicy", "Foreground")), 200)
			m = w.Expect("MODIFIED", "f")
			h.WantFinalizers("MODIFIED after Foreground", m, hold, hold2, "foregroundDeletion")
			rvs = append(rvs, RV(m))
			h.Want(h.Merge(h.P("configmaps", "f"), `{"metadata":{"finalizers":["example.com/hold2","foregroundDeletion"]}}`), 200)
			m = w.Expect("MODIFIED", "f")
			h.WantFinalizers("MODIFIED after removing one", m, hold2, "foregroundDeletion")
			rvs = append(rvs, RV(m))
			last := h.Want(h.Merge(h.P("configmaps", "f"), `{"metadata":{"finalizers":[]}}`), 200)
			h.WantFinalizers("answer to the last removal", last)
			del := w.Expect("DELETED", "f")
			h.WantFinalizers("DELETED object (last stored state)", del, hold2, "foregroundDeletion")
			if UID(del) != UID(o) {
				h.Errorf("DELETED uid %s, want %s", UID(del), UID(o))
			}
			rvs = append(rvs, RV(del))
			for i := 1; i < len(rvs); i++ {
				if !rvLess(h, rvs[i-1], rvs[i]) {
					h.Errorf("event resourceVersions not increasing: %v", rvs)
				}
			}
			w.Quiet("after DELETED", CM(h.Gen("sentinel")))
		}},

		{"C8 G1 G3 an unscheduled pod is deleted at once: MODIFIED with grace 0, then DELETED", func(h *H) {
			p := h.Create(h.P("pods"), Pod("p", ""))
			h.WantGeneration("created pod", p, 1)
			w := h.Watch(h.P("pods"), RV(p))
			now := time.Now()
			d := h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			m := w.Expect("MODIFIED", "p")
			h.WantDeletionNear("MODIFIED", m, now)
			h.WantGrace("MODIFIED", m, 0)
			h.WantGeneration("MODIFIED", m, 2)
			del := w.Expect("DELETED", "p")
			if S(d, "kind") != "Pod" || RV(d) != RV(del) {
				h.Errorf("answer: want the deleted pod at the delete revision %s, got %s", RV(del), js(d))
			}
			if !rvLess(h, RV(m), RV(del)) {
				h.Errorf("DELETED resourceVersion %s not after MODIFIED %s", RV(del), RV(m))
			}
			h.WantGrace("answer", d, 0)
			h.Gone(h.P("pods", "p"))
		}},

		{"C8 G2 G4 a scheduled pod: now+30, shortening moves the timestamp back, longer changes nothing, 0 deletes", func(h *H) {
			p := h.Create(h.P("pods"), Pod("p", "node-1"))
			w := h.Watch(h.P("pods"), RV(p))
			now := time.Now()
			d := h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			m := w.Expect("MODIFIED", "p")
			h.Equal("answer vs MODIFIED", d, m)
			ts30 := h.WantDeletionNear("grace 30", m, now.Add(30*time.Second))
			h.WantGrace("grace 30", m, 30)
			h.WantGeneration("grace 30", m, 2)

			d = h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("gracePeriodSeconds", 10)), 200)
			m = w.Expect("MODIFIED", "p")
			h.Equal("answer vs MODIFIED", d, m)
			h.WantGrace("shortened to 10", m, 10)
			h.WantGeneration("shortened to 10", m, 2)
			if ts, _ := DeletionTime(h, m); !ts.Equal(ts30.Add(-20 * time.Second)) {
				h.Errorf("shortened to 10: deletionTimestamp %s, want exactly %s (moved back 20 s)", ts.Format(time.RFC3339), ts30.Add(-20*time.Second).Format(time.RFC3339))
			}

			same := h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("gracePeriodSeconds", 60)), 200)
			h.Equal("answer to a longer grace", same, m)
			w.Quiet("DELETE with a longer grace", Pod(h.Gen("sentinel"), "node-1"))

			now = time.Now()
			h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("gracePeriodSeconds", -5)), 200)
			m = w.Expect("MODIFIED", "p")
			h.WantGrace("negative grace", m, 1)
			h.WantDeletionNear("negative grace", m, now)

			d = h.Want(h.Delete(h.P("pods", "p"), DeleteOpts("gracePeriodSeconds", 0)), 200)
			m = w.Expect("MODIFIED", "p")
			h.WantGrace("grace 0", m, 0)
			del := w.Expect("DELETED", "p")
			if S(d, "kind") != "Pod" || RV(d) != RV(del) {
				h.Errorf("grace-0 answer: want the deleted pod at revision %s, got %s", RV(del), js(d))
			}
			h.Gone(h.P("pods", "p"))
		}},

		{"C9 two finalizer removers with the same resourceVersion: one wins, the other gets 409 or 404", func(h *H) {
			// Concurrent removal of the only finalizer.
			h.Create(h.P("configmaps"), CM("race", hold))
			d := h.Want(h.Delete(h.P("configmaps", "race"), nil), 200)
			var wg sync.WaitGroup
			codes := make([]int, 2)
			bodies := make([]string, 2)
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := h.Put(h.P("configmaps", "race"), withFinalizers(d))
					codes[i], bodies[i] = r.Code, string(r.Body)
				}()
			}
			wg.Wait()
			ok, lost := 0, 0
			for _, c := range codes {
				switch c {
				case 200:
					ok++
				case 404, 409:
					lost++
				}
			}
			if ok != 1 || lost != 1 {
				h.Errorf("concurrent removers: codes %v, want one 200 and one 404/409; bodies %q", codes, bodies)
			}
			h.Gone(h.P("configmaps", "race"))
			// Sequentially: the loser gets 404 once the object is gone…
			h.WantStatus(h.Put(h.P("configmaps", "race"), withFinalizers(d)), metav1.Status{
				Status: "Failure", Code: 404, Reason: "NotFound", Message: `configmaps "race" not found`,
				Details: &metav1.StatusDetails{Name: "race", Kind: "configmaps"}})
			// …and 409 when it still exists but changed.
			h.Create(h.P("configmaps"), CM("two", hold, hold2))
			d = h.Want(h.Delete(h.P("configmaps", "two"), nil), 200)
			h.Want(h.Put(h.P("configmaps", "two"), withFinalizers(d, hold2)), 200)
			h.WantStatus(h.Put(h.P("configmaps", "two"), withFinalizers(d, hold)), conflict("configmaps", "two"))
			// The loser retries on the fresh object and wins.
			g := h.Want(h.Get(h.P("configmaps", "two")), 200)
			h.Want(h.Put(h.P("configmaps", "two"), withFinalizers(g)), 200)
			h.Gone(h.P("configmaps", "two"))
		}},
	}
}
