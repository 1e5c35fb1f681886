package scenario

import (
	"fmt"
)

const (
	pvcProtection = "kubernetes.io/pvc-protection"
	pvProtection  = "kubernetes.io/pv-protection"
)

// phaseIs is a WaitObj condition on status.phase.
func phaseIs(phase string) func(Obj) error {
	return func(o Obj) error {
		if got := S(o, "status", "phase"); got != phase {
			return fmt.Errorf("status.phase %q, want %q", got, phase)
		}
		return nil
	}
}

// podCondition returns the pod condition of the given type, or nil.
func podCondition(o Obj, typ string) Obj {
	l, _ := F(o, "status", "conditions").([]any)
	for _, v := range l {
		if m, ok := v.(map[string]any); ok && S(m, "type") == typ {
			return m
		}
	}
	return nil
}

func scenariosF() []Scenario {
	return []Scenario{
		{"F1 F2 a PVC used by a scheduled pod, and the PV bound to it, stay Terminating until released", func(h *H) {
			// The node exists, so podgc leaves the pods alone (F7).
			node := Name(h.CreateCluster("/api/v1/nodes", Node(h.Sub("node"))))
			pvs := ClusterPath("", "v1", "persistentvolumes")
			pvName := h.Sub("pv")
			pvPath := pvs + "/" + pvName
			claim := h.Create(h.P("persistentvolumeclaims"), PVC("claim", pvName))
			h.WantFinalizers("created PVC", claim, pvcProtection)
			pv := h.CreateCluster(pvs, PV(pvName, claim))
			h.WantFinalizers("created PV", pv, pvProtection)
			// Bind them. Upstream's PV controller does it on its own; terminus
			// has none, so the phases are also set by hand (same values).
			h.Want(h.Do("PATCH", pvPath+"/status", mergeType, `{"status":{"phase":"Bound"}}`), 200)
			h.Want(h.Do("PATCH", h.P("persistentvolumeclaims", "claim", "status"), mergeType,
				`{"status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"1Gi"}}}`), 200)
			h.WaitObj("PV Bound", pvPath, phaseIs("Bound"))
			h.WaitObj("PVC Bound", h.P("persistentvolumeclaims", "claim"), phaseIs("Bound"))

			h.Create(h.P("pods"), PodWithClaim("user", node, "claim"))
			// A Succeeded pod still uses its claim until it is deleted.
			h.Create(h.P("persistentvolumeclaims"), PVC("claim-done", ""))
			h.Create(h.P("pods"), PodWithClaim("done", node, "claim-done"))
			h.wantPhase("status update", h.Want(h.Do("PATCH", h.P("pods", "done", "status"), mergeType,
				`{"status":{"phase":"Succeeded"}}`), 200), "Succeeded")
			// An unscheduled pod does not use its claim.
			h.Create(h.P("persistentvolumeclaims"), PVC("claim-unscheduled", ""))
			h.Create(h.P("pods"), PodWithClaim("unscheduled", "", "claim-unscheduled"))
			// A PV that is not Bound (another class, so that upstream's PV
			// controller binds nothing to it).
			free := PV(h.Sub("free"), nil)
			free["spec"].(Obj)["storageClassName"] = h.Sub("none")
			h.CreateCluster(pvs, free)

			for _, c := range []string{"claim", "claim-done", "claim-unscheduled"} {
				d := h.Want(h.Delete(h.P("persistentvolumeclaims", c), nil), 200)
				h.WantFinalizers("DELETE answer for "+c, d, pvcProtection)
			}
			d := h.Want(h.Delete(pvPath, nil), 200)
			h.WantFinalizers("DELETE answer for the bound PV", d, pvProtection)
			h.Want(h.Delete(pvs+"/"+h.Sub("free"), nil), 200)
			// Barriers: the claim of the unscheduled pod and the PV that is
			// not Bound are released by the same controllers.
			h.WaitGone(h.P("persistentvolumeclaims", "claim-unscheduled"))
			h.WaitGone(pvs + "/" + h.Sub("free"))
			h.Still(h.P("persistentvolumeclaims", "claim"), pvcProtection)
			h.Still(h.P("persistentvolumeclaims", "claim-done"), pvcProtection)
			h.Still(pvPath, pvProtection)

			// What a kubelet sends once the pod stopped (G8).
			h.Want(h.Delete(h.P("pods", "user"), DeleteOpts("gracePeriodSeconds", 0)), 200)
			h.WaitGone(h.P("persistentvolumeclaims", "claim"))
			h.Still(h.P("persistentvolumeclaims", "claim-done"), pvcProtection)
			h.Want(h.Delete(h.P("pods", "done"), nil), 200) // terminal: removed at once (G1)
			h.WaitGone(h.P("persistentvolumeclaims", "claim-done"))

			// F2: the PV goes once it is no longer Bound. Upstream's PV
			// controller marks it Released when its claim is gone; terminus
			// has no PV controller, so a PV still Bound is released by hand.
			if r := h.Get(pvPath); r.Code == 200 && S(decode(h, r.Body), "status", "phase") == "Bound" {
				h.Still(pvPath, pvProtection)
				r := h.Do("PATCH", pvPath+"/status", mergeType, `{"status":{"phase":"Released"}}`)
				if r.Code != 200 && r.Code != 404 {
					h.Fatalf("releasing the PV: %s", short(r))
				}
			} else {
				h.Logf("the PV was released by a PV controller: %s", short(r))
			}
			h.WaitGone(pvPath)
		}},

		{"F7 podgc marks a terminating unscheduled pod Failed and deletes it with grace 0", func(h *H) {
			h.Create(h.P("pods"), Pod("stuck", "", hold))
			d := h.Want(h.Delete(h.P("pods", "stuck"), nil), 200)
			h.WantGrace("DELETE answer", d, 0)
			p := h.WaitObj("podgc marking the pod Failed", h.P("pods", "stuck"), phaseIs("Failed"))
			h.WantGrace("pod after podgc", p, 0)
			h.WantFinalizers("pod after podgc", p, hold)
			h.Unhold(h.P("pods", "stuck"))
			h.WaitGone(h.P("pods", "stuck"))
		}},

		{"F7 podgc marks a pod bound to a node that does not exist Failed with DisruptionTarget and deletes it with grace 0", func(h *H) {
			h.Create(h.P("pods"), Pod("orphan", h.Sub("no-such-node"), hold))
			var p Obj
			h.eventuallyWithin(podGCOrphanTimeout, "podgc deleting the pod of a missing node", func() error {
				o := h.Want(h.Get(h.P("pods", "orphan")), 200)
				if _, ok := DeletionTime(h, o); !ok {
					return fmt.Errorf("not deleted yet; phase %q", S(o, "status", "phase"))
				}
				p = o
				return nil
			})
			h.wantPhase("pod deleted by podgc", p, "Failed")
			h.WantGrace("pod deleted by podgc", p, 0)
			c := podCondition(p, "DisruptionTarget")
			if c == nil || S(c, "status") != "True" || S(c, "reason") != "DeletionByPodGC" || S(c, "message") != "PodGC: node no longer exists" {
				h.Errorf("DisruptionTarget condition %s, want status True, reason DeletionByPodGC, message %q; conditions %s",
					js(c), "PodGC: node no longer exists", js(F(p, "status", "conditions")))
			}
			h.Unhold(h.P("pods", "orphan"))
			h.WaitGone(h.P("pods", "orphan"))
		}},
	}
}
