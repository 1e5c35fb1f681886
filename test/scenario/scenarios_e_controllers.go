package scenario

import (
	"fmt"
	"time"
)

// list returns the names of the items of a collection.
func (h *H) list(collection string) []string {
	h.Helper()
	l := h.Want(h.Get(collection), 200)
	items, _ := l["items"].([]any)
	var names []string
	for _, it := range items {
		m, _ := it.(map[string]any)
		names = append(names, Name(m))
	}
	return names
}

// wantPhase checks status.phase.
func (h *H) wantPhase(what string, o Obj, phase string) {
	h.Helper()
	if got := S(o, "status", "phase"); got != phase {
		h.Errorf("%s: status.phase %q, want %q", what, got, phase)
	}
}

func scenariosEControllers() []Scenario {
	return []Scenario{
		{"E7 E10 E11 an empty namespace loses its ServiceAccount and root CA ConfigMap and is removed by the controller", func(h *H) {
			// Every namespace gets these from the serviceaccount and root CA
			// publisher controllers.
			h.WaitObj("the default ServiceAccount", h.P("serviceaccounts", "default"), func(Obj) error { return nil })
			h.WaitObj("the kube-root-ca.crt ConfigMap", h.P("configmaps", "kube-root-ca.crt"), func(Obj) error { return nil })
			ns := h.Want(h.Get(NSPath(h.NS)), 200)
			w := h.nsWatch(RV(ns))
			h.Want(h.Delete(NSPath(h.NS), nil), 200)
			deadline := time.Now().Add(ControllerTimeout)
			for {
				e := w.Next()
				if Name(e.Obj) != h.NS {
					continue
				}
				if e.Type == "DELETED" {
					// The last stored state: the controller's /finalize removed
					// it (C5), after writing the five OK conditions.
					h.wantNSFinalizers("DELETED Namespace", e.Obj, "kubernetes")
					h.wantPhase("DELETED Namespace", e.Obj, "Terminating")
					if got, want := NSConditions(e.Obj), nsDeletionConditions(); fmt.Sprint(got) != fmt.Sprint(want) {
						h.Errorf("DELETED Namespace conditions:%s\nwant:%s", condsString(got), condsString(want))
					}
					break
				}
				if e.Type != "MODIFIED" {
					h.Fatalf("namespace watch: want MODIFIED or DELETED, got %s", e)
				}
				if time.Now().After(deadline) {
					h.Fatalf("namespace not removed within %v", ControllerTimeout)
				}
			}
			h.Gone(NSPath(h.NS))
		}},

		{"E9 E10 E11 a namespace with stuck finalizers stays Terminating with the five conditions until the last is removed", func(h *H) {
			h.Create(h.P("configmaps"), CM("c1"))
			h.Create(h.P("configmaps"), CM("c2"))
			h.Create(h.P("secrets"), Secret("s1"))
			h.Create(h.P("pods"), Pod("unscheduled", ""))
			// A bound pod with grace 0 goes at once; with the default 30 s it
			// would wait for a kubelet (E10 scenario below, G12).
			bound := Pod("bound", "node-1")
			bound["spec"].(Obj)["terminationGracePeriodSeconds"] = 0
			h.Create(h.P("pods"), bound)
			h.Create(h.P("configmaps"), CM("stuck", hold))
			h.Create(h.P("secrets"), Secret("stuck", hold, hold2))
			d := h.Want(h.Delete(NSPath(h.NS), nil), 200)
			h.wantPhase("DELETE answer", d, "Terminating")
			ns := h.WaitNSConditions(h.NS, nsDeletionConditions(
				Cond{"NamespaceContentRemaining", "True", "SomeResourcesRemain",
					"Some resources are remaining: configmaps. has 1 resource instances, secrets. has 1 resource instances"},
				Cond{"NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
					"Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances, example.com/hold2 in 1 resource instances"}))
			h.wantPhase("stuck namespace", ns, "Terminating")
			h.wantNSFinalizers("stuck namespace", ns, "kubernetes")
			for _, p := range []string{h.P("configmaps", "c1"), h.P("configmaps", "c2"), h.P("secrets", "s1"),
				h.P("pods", "unscheduled"), h.P("pods", "bound"), h.P("serviceaccounts", "default"), h.P("configmaps", "kube-root-ca.crt")} {
				h.Gone(p)
			}
			h.Still(h.P("configmaps", "stuck"), hold)
			h.Still(h.P("secrets", "stuck"), hold, hold2)
			h.Equal("ConfigMaps left", h.list(h.P("configmaps")), []string{"stuck"})

			h.Unhold(h.P("configmaps", "stuck"))
			h.Gone(h.P("configmaps", "stuck"))
			h.WaitNSConditions(h.NS, nsDeletionConditions(
				Cond{"NamespaceContentRemaining", "True", "SomeResourcesRemain",
					"Some resources are remaining: secrets. has 1 resource instances"},
				Cond{"NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
					"Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances, example.com/hold2 in 1 resource instances"}))
			h.Terminating(NSPath(h.NS))

			h.Unhold(h.P("secrets", "stuck"))
			h.WaitGone(NSPath(h.NS))
		}},

		{"E10 E11 G12 pods go first: while one terminates nothing else is deleted, and the conditions stay OK", func(h *H) {
			// The node exists, so podgc leaves its pods alone (F7); no kubelet
			// serves it, so a graceful delete waits for ever (G12).
			node := h.CreateCluster("/api/v1/nodes", Node(h.Sub("node")))
			h.Create(h.P("pods"), Pod("slow", Name(node)))
			h.Create(h.P("configmaps"), CM("data"))
			h.Create(h.P("secrets"), Secret("data"))
			h.Want(h.Delete(NSPath(h.NS), nil), 200)
			pod := h.WaitTerminating(h.P("pods", "slow"))
			h.WantGrace("pod deleted by the namespace controller", pod, 30)
			// Upstream writes the conditions of a pass that stops at pods
			// without counting what remains: all five OK.
			h.WaitNSConditions(h.NS, nsDeletionConditions())
			h.Live(h.P("configmaps", "data"))
			h.Live(h.P("secrets", "data"))
			h.Live(h.P("serviceaccounts", "default"))
			// Once the pod's grace period has passed since the namespace's
			// deletion, its estimate is 0 and a pod still there is an error
			// (E10 step 7); still nothing else is deleted.
			h.WaitNSConditions(h.NS, nsDeletionConditions(Cond{"NamespaceDeletionContentFailure", "True", "ContentDeletionFailed",
				"Failed to delete all resource types, 1 remaining: unexpected items still remain in namespace: " + h.NS + " for gvr: /v1, Resource=pods"}))
			h.Live(h.P("configmaps", "data"))
			h.Still(h.P("pods", "slow"))
			// What a kubelet would send once the containers stopped (G8).
			h.Want(h.Delete(h.P("pods", "slow"), DeleteOpts("gracePeriodSeconds", 0, "preconditions", Obj{"uid": UID(pod)})), 200)
			h.WaitGone(NSPath(h.NS))
		}},

		{"E8 E10 with the controller running, a namespace finalized before its first DELETE stays Terminating with its content", func(h *H) {
			h.Create(h.P("configmaps"), CM("kept"))
			ns := h.Want(h.Get(NSPath(h.NS)), 200)
			h.Want(h.Put(NSPath(h.NS, "finalize"), finalizeBody(ns)), 200)
			h.Want(h.Delete(NSPath(h.NS), nil), 200)
			// Barrier: a namespace deleted just after it goes away.
			other := h.Sub("normal")
			h.Create("/api/v1/namespaces", Namespace(other))
			h.Want(h.Delete(NSPath(other), nil), 200)
			h.WaitGone(NSPath(other))
			g := h.Terminating(NSPath(h.NS))
			h.wantNSFinalizers("finalized namespace", g)
			h.wantPhase("finalized namespace", g, "Terminating")
			if cs := NSConditions(g); len(cs) != 0 {
				h.Errorf("the controller wrote conditions on a finalized namespace:%s", condsString(cs))
			}
			h.Live(h.P("configmaps", "kept"))
			h.Want(h.Delete(NSPath(h.NS), nil), 200)
			h.Gone(NSPath(h.NS))
		}},
	}
}
