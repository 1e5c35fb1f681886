package scenario

import (
	"fmt"
	"net/url"
	"slices"
)

// cmsIn is the ConfigMap collection of namespace ns (or one of its objects).
func cmsIn(ns string, rest ...string) string {
	return "/api/v1/namespaces/" + ns + "/configmaps" + joinRest(rest)
}

func joinRest(rest []string) string {
	s := ""
	for _, r := range rest {
		s += "/" + r
	}
	return s
}

// subNamespace creates a namespace named after the scenario's own and
// deletes it when the scenario ends.
func (h *H) subNamespace(suffix string) Obj {
	h.Helper()
	name := h.Sub(suffix)
	o := h.Create("/api/v1/namespaces", Namespace(name))
	h.Cleanup(func() { h.Delete(NSPath(name), nil) })
	return o
}

// finalizersAre is a WaitObj condition: metadata.finalizers equal want.
func finalizersAre(want ...string) func(Obj) error {
	return func(o Obj) error {
		if got := Finalizers(o); !slices.Equal(got, want) {
			return fmt.Errorf("finalizers %q, want %q", got, want)
		}
		return nil
	}
}

// ownersAre is a WaitObj condition: the ownerReferences uids equal want.
func ownersAre(want ...string) func(Obj) error {
	return func(o Obj) error {
		if got := OwnerUIDs(o); !slices.Equal(got, want) {
			return fmt.Errorf("ownerReferences uids %q, want %q", got, want)
		}
		return nil
	}
}

// terminatingWith is a WaitObj condition: deletionTimestamp set and
// metadata.finalizers equal want.
func terminatingWith(h *H, want ...string) func(Obj) error {
	return func(o Obj) error {
		if _, ok := DeletionTime(h, o); !ok {
			return fmt.Errorf("no deletionTimestamp")
		}
		return finalizersAre(want...)(o)
	}
}

// wantInvalidNamespaceEvent checks an OwnerRefInvalidNamespace event
// (spec D12, D13) about dependent, whose reference to owner could not be
// resolved in namespace ns ("" for a cluster-scoped dependent).
func (h *H) wantInvalidNamespaceEvent(ev, dependent, owner Obj, ns string) {
	h.Helper()
	what := "OwnerRefInvalidNamespace event"
	if S(ev, "type") != "Warning" {
		h.Errorf("%s: type %q, want Warning", what, S(ev, "type"))
	}
	msg := fmt.Sprintf("ownerRef [%s/%s, namespace: %s, name: %s, uid: %s] does not exist in namespace %q",
		S(owner, "apiVersion"), S(owner, "kind"), ns, Name(owner), UID(owner), ns)
	if S(ev, "message") != msg {
		h.Errorf("%s: message\n got %q\nwant %q", what, S(ev, "message"), msg)
	}
	h.Equal(what+" source", F(ev, "source"), map[string]any{"component": "garbage-collector-controller"})
	if S(ev, "reportingComponent") != "garbage-collector-controller" {
		h.Errorf("%s: reportingComponent %q, want garbage-collector-controller", what, S(ev, "reportingComponent"))
	}
	involved := map[string]any{"kind": S(dependent, "kind"), "name": Name(dependent), "uid": UID(dependent),
		"apiVersion": S(dependent, "apiVersion")}
	if ns != "" {
		involved["namespace"] = ns
	}
	h.Equal(what+" involvedObject", F(ev, "involvedObject"), involved)
	if n, _ := N(ev, "count"); n != 1 {
		h.Errorf("%s: count %d, want 1", what, n)
	}
}

func scenariosD() []Scenario {
	return []Scenario{
		{"A11 C5 a ConfigMap with the finalizer kubernetes stays Terminating with the controllers running until a patch removes it, then is gone", func(h *H) {
			h.Create(h.P("configmaps"), CM("fin", "kubernetes"))
			h.Create(h.P("configmaps"), CM("barrier", "kubernetes"))
			d := h.Want(h.Delete(h.P("configmaps", "fin"), nil), 200)
			h.WantFinalizers("DELETE answer", d, "kubernetes")
			b := h.Want(h.Delete(h.P("configmaps", "barrier"), DeleteOpts("propagationPolicy", "Orphan")), 200)
			h.WantFinalizers("DELETE answer with Orphan", b, "kubernetes", "orphan")
			// Barrier: the garbage collector handles the orphan finalizer of
			// the twin (D10) and must leave kubernetes alone there too.
			h.WaitObj("the GC removing orphan from the twin", h.P("configmaps", "barrier"), terminatingWith(h, "kubernetes"))
			g := h.Still(h.P("configmaps", "fin"), "kubernetes")
			w := h.Watch(h.P("configmaps")+"?fieldSelector="+url.QueryEscape("metadata.name=fin"), RV(g))
			r := h.Want(h.Do("PATCH", h.P("configmaps", "fin"), "application/json-patch+json",
				`[{"op":"remove","path":"/metadata/finalizers"}]`), 200)
			h.WantFinalizers("JSON patch answer", r)
			del := w.Expect("DELETED", "fin")
			h.WantFinalizers("DELETED object (last stored state)", del, "kubernetes")
			h.Gone(h.P("configmaps", "fin"))
			h.Unhold(h.P("configmaps", "barrier"))
			h.Gone(h.P("configmaps", "barrier"))
		}},

		{"D3 D5 a dependent whose owner never existed or has another uid is collected; one with its real owner stays", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("owner"))
			h.Create(h.P("configmaps"), Owned(CM("wrong-uid"), RefTo("v1", "ConfigMap", "owner", newUID())))
			h.Create(h.P("configmaps"), Owned(CM("never"), RefTo("v1", "ConfigMap", "ghost", newUID())))
			h.Create(h.P("secrets"), Owned(Secret("never-rs"), RefTo("apps/v1", "ReplicaSet", "ghost", newUID())))
			h.Create(h.P("configmaps"), Owned(CM("solid"), Ref(o)))
			h.WaitGone(h.P("configmaps", "wrong-uid"))
			h.WaitGone(h.P("configmaps", "never"))
			h.WaitGone(h.P("secrets", "never-rs"))
			h.WantOwners("dependent of an existing owner", h.Live(h.P("configmaps", "solid")), UID(o))
			h.Live(h.P("configmaps", "owner"))
		}},

		{"D4 D6 D9 a dependent with another solid owner only loses its reference to a deleted, waiting or dangling owner", func(h *H) {
			a := h.Create(h.P("configmaps"), CM("a"))
			b := h.Create(h.P("configmaps"), CM("b"))
			c := h.Create(h.P("configmaps"), CM("c"))
			h.Create(h.P("configmaps"), Owned(CM("x"), Ref(a), Ref(b)))
			h.Create(h.P("configmaps"), Owned(CM("y"), Blocking(Ref(c)), Ref(b)))
			h.Create(h.P("configmaps"), Owned(CM("z"), Ref(b), RefTo("v1", "ConfigMap", "ghost", newUID())))
			// A dangling reference next to a solid one is pruned.
			h.WaitObj("the dangling reference pruned from z", h.P("configmaps", "z"), ownersAre(UID(b)))
			// Background: the reference to the deleted owner is pruned.
			h.WantStatus(h.Delete(h.P("configmaps", "a"), DeleteOpts("propagationPolicy", "Background")),
				success("a", "", "configmaps", UID(a)))
			h.WaitObj("the reference to a pruned from x", h.P("configmaps", "x"), ownersAre(UID(b)))
			// Foreground: the reference to the waiting owner is pruned, and
			// the owner, no longer blocked, goes.
			d := h.Want(h.Delete(h.P("configmaps", "c"), DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WantFinalizers("DELETE answer with Foreground", d, "foregroundDeletion")
			h.WaitObj("the reference to c pruned from y", h.P("configmaps", "y"), ownersAre(UID(b)))
			h.WaitGone(h.P("configmaps", "c"))
			for _, n := range []string{"x", "y", "z"} {
				h.Live(h.P("configmaps", n))
			}
			// Once the last owner goes, they all go.
			h.WantStatus(h.Delete(h.P("configmaps", "b"), nil), success("b", "", "configmaps", UID(b)))
			for _, n := range []string{"x", "y", "z"} {
				h.WaitGone(h.P("configmaps", n))
			}
		}},

		{"D7 D4 a background delete removes the owner at once, then the GC deletes each dependent with Background", func(h *H) {
			rs := h.Create(h.GP("apps", "v1", "replicasets"), ReplicaSet("owner"))
			ref := Ref(rs)
			h.Create(h.P("configmaps"), Owned(CM("dep-cm"), ref))
			h.Create(h.P("secrets"), Owned(Secret("dep-secret"), Blocking(ref)))
			h.Create(h.P("pods"), Owned(Pod("dep-pod", ""), ref))
			h.Create(h.P("configmaps"), Owned(CM("dep-held", hold), Blocking(ref)))
			h.WantStatus(h.Delete(h.GP("apps", "v1", "replicasets", "owner"), DeleteOpts("propagationPolicy", "Background")),
				success("owner", "apps", "replicasets", UID(rs)))
			h.Gone(h.GP("apps", "v1", "replicasets", "owner"))
			h.WaitGone(h.P("configmaps", "dep-cm"))
			h.WaitGone(h.P("secrets", "dep-secret"))
			h.WaitGone(h.P("pods", "dep-pod"))
			// The GC deleted it with an explicit Background policy: no GC
			// finalizer was added, and its reference is left as it was.
			held := h.WaitTerminating(h.P("configmaps", "dep-held"))
			h.WantFinalizers("dependent held by its own finalizer", held, hold)
			h.WantGrace("dependent held by its own finalizer", held, 0)
			h.WantOwners("dependent held by its own finalizer", held, UID(rs))
			h.Unhold(h.P("configmaps", "dep-held"))
			h.Gone(h.P("configmaps", "dep-held"))
		}},

		{"D8 D9 a foreground owner keeps foregroundDeletion until its blocking dependents are physically gone; other dependents are deleted but not waited for", func(h *H) {
			rs := h.Create(h.GP("apps", "v1", "replicasets"), ReplicaSet("owner"))
			ref := Ref(rs)
			rsPath := h.GP("apps", "v1", "replicasets", "owner")
			h.Create(h.P("configmaps"), Owned(CM("plain"), Blocking(ref)))
			h.Create(h.P("pods"), Owned(Pod("pod", ""), Blocking(ref)))
			h.Create(h.P("configmaps"), Owned(CM("blocker", hold), Blocking(ref)))
			h.Create(h.P("configmaps"), Owned(CM("loose", hold), ref))
			h.GCSynced("configmaps", "pods")
			d := h.Want(h.Delete(rsPath, DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WantFinalizers("DELETE answer with Foreground", d, "foregroundDeletion")
			if _, ok := DeletionTime(h, d); !ok {
				h.Errorf("DELETE answer: no deletionTimestamp: %s", js(d["metadata"]))
			}
			h.WaitGone(h.P("configmaps", "plain"))
			h.WaitGone(h.P("pods", "pod"))
			h.WaitObj("the GC deleting the blocking dependent", h.P("configmaps", "blocker"), terminatingWith(h, hold))
			h.WaitObj("the GC deleting the non-blocking dependent", h.P("configmaps", "loose"), terminatingWith(h, hold))
			// The blocking dependent still exists, held by its finalizer.
			h.Still(rsPath, "foregroundDeletion")
			h.Unhold(h.P("configmaps", "blocker"))
			h.Gone(h.P("configmaps", "blocker"))
			h.WaitGone(rsPath)
			// The non-blocking one was not waited for.
			h.Still(h.P("configmaps", "loose"), hold)
			h.Unhold(h.P("configmaps", "loose"))
			h.Gone(h.P("configmaps", "loose"))
		}},

		{"D4 D9 a waiting owner's dependent that has dependents of its own is deleted in the foreground", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("owner"))
			c := h.Create(h.P("configmaps"), Owned(CM("child"), Blocking(Ref(o))))
			h.Create(h.P("configmaps"), Owned(CM("grandchild", hold), Blocking(Ref(c))))
			h.GCSynced("configmaps")
			h.Want(h.Delete(h.P("configmaps", "owner"), DeleteOpts("propagationPolicy", "Foreground")), 200)
			h.WaitObj("the GC deleting the child with Foreground", h.P("configmaps", "child"), terminatingWith(h, "foregroundDeletion"))
			h.WaitObj("the GC deleting the grandchild", h.P("configmaps", "grandchild"), terminatingWith(h, hold))
			h.Still(h.P("configmaps", "owner"), "foregroundDeletion")
			h.Still(h.P("configmaps", "child"), "foregroundDeletion")
			h.Unhold(h.P("configmaps", "grandchild"))
			h.Gone(h.P("configmaps", "grandchild"))
			h.WaitGone(h.P("configmaps", "child"))
			h.WaitGone(h.P("configmaps", "owner"))
		}},

		{"D10 an orphan delete strips the owner's reference from every dependent, then removes orphan and the owner", func(h *H) {
			rs := h.Create(h.GP("apps", "v1", "replicasets"), ReplicaSet("owner"))
			other := h.Create(h.P("configmaps"), CM("other"))
			ref := Ref(rs)
			blocking := CM("dep-blocking")
			blocking["metadata"].(Obj)["labels"] = Obj{"keep": "me"}
			h.Create(h.P("configmaps"), Owned(blocking, Blocking(ref)))
			h.Create(h.P("secrets"), Owned(Secret("dep-loose"), ref))
			h.Create(h.P("configmaps"), Owned(CM("dep-two"), ref, Ref(other)))
			h.Create(h.P("configmaps"), Owned(CM("dep-held", hold), Blocking(ref)))
			h.GCSynced("configmaps", "secrets")
			rsPath := h.GP("apps", "v1", "replicasets", "owner")
			d := h.Want(h.Delete(rsPath, DeleteOpts("propagationPolicy", "Orphan")), 200)
			h.WantFinalizers("DELETE answer with Orphan", d, "orphan")
			h.WaitGone(rsPath)
			// The references go before the finalizer does: none is left now.
			g := h.Live(h.P("configmaps", "dep-blocking"))
			h.WantOwners("orphaned blocking dependent", g)
			if S(g, "metadata", "labels", "keep") != "me" || S(g, "data", "k") != "v" {
				h.Errorf("orphaned dependent changed beyond its ownerReferences: %s", js(g))
			}
			h.WantOwners("orphaned non-blocking dependent", h.Live(h.P("secrets", "dep-loose")))
			h.WantOwners("orphaned dependent with a second owner", h.Live(h.P("configmaps", "dep-two")), UID(other))
			held := h.Live(h.P("configmaps", "dep-held"))
			h.WantOwners("orphaned dependent with its own finalizer", held)
			h.WantFinalizers("orphaned dependent with its own finalizer", held, hold)
		}},

		{"D12 a dependent whose owner lives in another namespace is collected, with an OwnerRefInvalidNamespace event", func(h *H) {
			other := Name(h.subNamespace("owner"))
			owner := h.Create(cmsIn(other), CM("xowner"))
			dep := h.Create(h.P("configmaps"), Owned(CM("dep"), Ref(owner)))
			h.WaitGone(h.P("configmaps", "dep"))
			ev := h.WaitEvent(h.NS, UID(dep), "OwnerRefInvalidNamespace")
			h.wantInvalidNamespaceEvent(ev, dep, owner, h.NS)
			h.Live(cmsIn(other, "xowner"))
		}},

		{"D13 a cluster-scoped dependent of a namespaced owner is never collected; the event says namespace \"\"", func(h *H) {
			owner := h.Create(h.P("configmaps"), CM("xowner"))
			// Barrier: the D12 event about a probe proves the GC has observed
			// the owner, the condition for the D13 event.
			probeNS := Name(h.subNamespace("probe"))
			probe := h.Create(cmsIn(probeNS), Owned(CM("probe"), Ref(owner)))
			h.WaitEvent(probeNS, UID(probe), "OwnerRefInvalidNamespace")
			scs := ClusterPath("storage.k8s.io", "v1", "storageclasses")
			dep := h.CreateCluster(scs, Owned(StorageClass(h.Sub("dep")), Ref(owner)))
			ev := h.WaitEvent("default", UID(dep), "OwnerRefInvalidNamespace")
			h.wantInvalidNamespaceEvent(ev, dep, owner, "")
			// Barrier for "never": cluster-scoped dependents of an absent
			// cluster-scoped owner are collected meanwhile.
			dangling := h.CreateCluster(scs, Owned(StorageClass(h.Sub("dangling")), RefTo("v1", "Namespace", h.Sub("ghost"), newUID())))
			h.WaitGone(scs + "/" + Name(dangling))
			h.WaitGone(cmsIn(probeNS, "probe"))
			h.WantOwners("cluster-scoped dependent of a namespaced owner", h.Live(scs+"/"+Name(dep)), UID(owner))
		}},

		{"D14 E12 namespaced and cluster-scoped dependents of a Namespace are collected once it is gone", func(h *H) {
			ownerNS := h.subNamespace("owner")
			self := h.Want(h.Get(NSPath(h.NS)), 200)
			scs := ClusterPath("storage.k8s.io", "v1", "storageclasses")
			h.Create(h.P("configmaps"), Owned(CM("dep"), Ref(ownerNS)))
			sc := h.CreateCluster(scs, Owned(StorageClass(h.Sub("dep")), Ref(ownerNS)))
			keep := h.CreateCluster(scs, StorageClass(h.Sub("keep")))
			h.Create(h.P("configmaps"), Owned(CM("solid"), Ref(self)))
			h.Create(h.P("configmaps"), Owned(CM("dangling"), RefTo("v1", "Namespace", h.Sub("ghost"), newUID())))
			h.WaitGone(h.P("configmaps", "dangling"))
			h.Want(h.Delete(NSPath(Name(ownerNS)), nil), 200)
			h.WaitGone(NSPath(Name(ownerNS)))
			h.WaitGone(h.P("configmaps", "dep"))
			h.WaitGone(scs + "/" + Name(sc))
			h.Live(scs + "/" + Name(keep))
			h.Live(h.P("configmaps", "solid"))
		}},

		{"D15 a reference with an observed owner's uid but other coordinates is verified at its own and collected", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("owner"))
			h.Create(h.P("configmaps"), Owned(CM("good"), Ref(o)))
			h.Create(h.P("configmaps"), Owned(CM("wrong-name"), RefTo("v1", "ConfigMap", "not-owner", UID(o))))
			h.Create(h.P("configmaps"), Owned(CM("wrong-kind"), RefTo("v1", "Secret", "owner", UID(o))))
			h.WaitGone(h.P("configmaps", "wrong-name"))
			h.WaitGone(h.P("configmaps", "wrong-kind"))
			h.WantOwners("dependent with the right coordinates", h.Live(h.P("configmaps", "good")), UID(o))
			h.Live(h.P("configmaps", "owner"))
		}},

		{"D16 a dependent whose owner's kind is unknown is never collected", func(h *H) {
			unknown := h.Create(h.P("configmaps"), Owned(CM("unknown"), RefTo("example.com/v1", "Widget", "w", newUID())))
			// Barrier: a dangling dependent created after it is collected.
			h.Create(h.P("configmaps"), Owned(CM("dangling"), RefTo("v1", "ConfigMap", "ghost", newUID())))
			h.WaitGone(h.P("configmaps", "dangling"))
			h.WantOwners("dependent of an unknown kind", h.Live(h.P("configmaps", "unknown")), OwnerUIDs(unknown)...)
		}},

		{"D18 the GC deletes ReplicationController and Job dependents with an explicit Background policy, not their orphan default", func(h *H) {
			o := h.Create(h.P("configmaps"), CM("owner"))
			h.Create(h.P("replicationcontrollers"), Owned(RC("rc", hold), Ref(o)))
			job := Job("job", hold)
			job["spec"].(Obj)["suspend"] = true // no pods, whoever runs a job controller
			h.Create(h.GP("batch", "v1", "jobs"), Owned(job, Ref(o)))
			h.WantStatus(h.Delete(h.P("configmaps", "owner"), nil), success("owner", "", "configmaps", UID(o)))
			h.WaitObj("the GC deleting the ReplicationController", h.P("replicationcontrollers", "rc"), terminatingWith(h, hold))
			h.WaitObj("the GC deleting the Job", h.GP("batch", "v1", "jobs", "job"), terminatingWith(h, hold))
			h.Unhold(h.P("replicationcontrollers", "rc"))
			h.Unhold(h.GP("batch", "v1", "jobs", "job"))
			h.Gone(h.P("replicationcontrollers", "rc"))
			h.Gone(h.GP("batch", "v1", "jobs", "job"))
		}},
	}
}
