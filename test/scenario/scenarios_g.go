package scenario

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wantImmediatePodDelete deletes pod name with opts and wants G3: MODIFIED
// (grace 0, deletionTimestamp ≈ now), DELETED, and the deleted pod at the
// delete revision as the answer.
func (h *H) wantImmediatePodDelete(what, name string, opts Obj) {
	h.Helper()
	g := h.Want(h.Get(h.P("pods", name)), 200)
	w := h.Watch(h.P("pods"), RV(g))
	now := time.Now()
	d := h.Want(h.Delete(h.P("pods", name), opts), 200)
	m := w.Expect("MODIFIED", name)
	h.WantGrace(what+": MODIFIED", m, 0)
	h.WantDeletionNear(what+": MODIFIED", m, now)
	del := w.Expect("DELETED", name)
	if S(d, "kind") != "Pod" || UID(d) != UID(g) || RV(d) != RV(del) {
		h.Errorf("%s: answer: want the deleted pod at the delete revision %s, got %s", what, RV(del), js(d))
	}
	h.Gone(h.P("pods", name))
}

func scenariosG() []Scenario {
	return []Scenario{
		{"G1 unscheduled and terminal pods are deleted at once whatever grace is asked", func(h *H) {
			h.Create(h.P("pods"), Pod("unscheduled", ""))
			h.wantImmediatePodDelete("unscheduled pod with grace 30", "unscheduled", DeleteOpts("gracePeriodSeconds", 30))

			p := h.Create(h.P("pods"), Pod("done", "node-1"))
			p["status"] = Obj{"phase": "Succeeded"}
			s := h.Want(h.Put(h.P("pods", "done", "status"), p), 200)
			if S(s, "status", "phase") != "Succeeded" {
				h.Fatalf("status update: phase %q", S(s, "status", "phase"))
			}
			h.wantImmediatePodDelete("Succeeded pod", "done", nil)

			p = h.Create(h.P("pods"), Pod("failed", "node-1"))
			p["status"] = Obj{"phase": "Failed"}
			h.Want(h.Put(h.P("pods", "failed", "status"), p), 200)
			h.wantImmediatePodDelete("Failed pod", "failed", DeleteOpts("gracePeriodSeconds", 30))

			zero := Pod("zero", "node-1")
			zero["spec"].(Obj)["terminationGracePeriodSeconds"] = 0
			h.Create(h.P("pods"), zero)
			h.wantImmediatePodDelete("bound pod with terminationGracePeriodSeconds 0", "zero", nil)
		}},

		{"G2 the first graceful DELETE of a bound pod sets now+grace, the grace and generation+1", func(h *H) {
			p := Pod("p", "node-1")
			p["spec"].(Obj)["terminationGracePeriodSeconds"] = 20
			h.Create(h.P("pods"), p)
			now := time.Now()
			d := h.Want(h.Delete(h.P("pods", "p"), nil), 200)
			h.WantDeletionNear("spec grace 20", d, now.Add(20*time.Second))
			h.WantGrace("spec grace 20", d, 20)
			h.WantGeneration("spec grace 20", d, 2)
			h.Equal("stored pod", h.Want(h.Get(h.P("pods", "p")), 200), d)

			h.Create(h.P("pods"), Pod("q", "node-1"))
			now = time.Now()
			d = h.Want(h.Delete(h.P("pods", "q"), DeleteOpts("gracePeriodSeconds", 45)), 200)
			h.WantDeletionNear("requested grace 45", d, now.Add(45*time.Second))
			h.WantGrace("requested grace 45", d, 45)

			// A negative grace counts as 1 (B5, G1).
			h.Create(h.P("pods"), Pod("neg", "node-1"))
			now = time.Now()
			d = h.Want(h.Delete(h.P("pods", "neg"), DeleteOpts("gracePeriodSeconds", -5)), 200)
			h.WantGrace("requested grace -5", d, 1)
			h.WantDeletionNear("requested grace -5", d, now.Add(time.Second))
		}},

		{"G9 force delete (grace 0) removes a bound pod at once", func(h *H) {
			h.Create(h.P("pods"), Pod("p", "node-1"))
			h.wantImmediatePodDelete("force delete of a running bound pod", "p", DeleteOpts("gracePeriodSeconds", 0))
			// The same through the query, as kubectl --force --grace-period=0 sends it.
			h.Create(h.P("pods"), Pod("q", "node-1"))
			g := h.Want(h.Get(h.P("pods", "q")), 200)
			d := h.Want(h.Do("DELETE", h.P("pods", "q")+"?gracePeriodSeconds=0", "", nil), 200)
			if UID(d) != UID(g) {
				h.Errorf("answer: %s", js(d))
			}
			h.Gone(h.P("pods", "q"))
			// A pod in its grace period, force deleted.
			h.Create(h.P("pods"), Pod("r", "node-1"))
			h.Want(h.Delete(h.P("pods", "r"), nil), 200)
			h.wantImmediatePodDelete("force delete during the grace period", "r", DeleteOpts("gracePeriodSeconds", 0))
		}},
	}
}

func scenariosIJ() []Scenario {
	return []Scenario{
		{"I5 a DELETED event carries the last stored state at the delete revision", func(h *H) {
			c := CM("c")
			c["metadata"].(Obj)["labels"] = Obj{"v": "1"}
			o := h.Create(h.P("configmaps"), c)
			w := h.Watch(h.P("configmaps"), RV(o))
			u := h.Want(h.Merge(h.P("configmaps", "c"), `{"metadata":{"labels":{"v":"2"}},"data":{"k":"v2"}}`), 200)
			h.Equal("MODIFIED vs answer", w.Expect("MODIFIED", "c"), u)
			h.WantStatus(h.Delete(h.P("configmaps", "c"), nil), success("c", "", "configmaps", UID(o)))
			del := w.Expect("DELETED", "c")
			if !rvLess(h, RV(u), RV(del)) {
				h.Errorf("DELETED resourceVersion %s, want > the last write %s", RV(del), RV(u))
			}
			want := setMeta(u, "resourceVersion", RV(del))
			h.Equal("DELETED object vs last stored state", del, want)
		}},

		{"J2 J3 create of a taken name and update with a stale resourceVersion", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("x"))
			h.WantStatus(h.Post(h.P("configmaps"), CM("x")), metav1.Status{Status: "Failure", Code: 409, Reason: "AlreadyExists",
				Message: `configmaps "x" already exists`, Details: &metav1.StatusDetails{Name: "x", Kind: "configmaps"}})
			h.Want(h.Merge(h.P("configmaps", "x"), `{"data":{"k":"v2"}}`), 200)
			h.WantStatus(h.Put(h.P("configmaps", "x"), o), conflict("configmaps", "x"))
		}},
	}
}
