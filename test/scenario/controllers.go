package scenario

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Helpers for the scenarios that need controllers (WithControllers). A
// controller acts asynchronously, so these scenarios wait on conditions:
// they poll with a deadline and never sleep for a fixed time. A claim
// that something "stays" is checked after a barrier, an observable effect
// of the same controller on a sibling object handled in the same pass or
// queued at the same time.

// ControllerTimeout bounds every wait on a controller. It is long enough
// for upstream's timing on a quiet machine: the namespace controller's 5 s
// delay and its requeue after estimate/2+1 s (up to 16 s), the garbage
// collector's rate limits, podgc's 20 s period.
const ControllerTimeout = 60 * time.Second

// podGCOrphanTimeout bounds the wait for podgc to act on a pod whose node
// does not exist: up to one 20 s period to notice it, a 40 s quarantine,
// then up to another period (spec F7).
const podGCOrphanTimeout = 150 * time.Second

// pollInterval is the pause between two looks at the cluster.
const pollInterval = 100 * time.Millisecond

// Eventually polls cond until it returns nil, and fails the scenario with
// cond's last error if that does not happen within ControllerTimeout.
func (h *H) Eventually(what string, cond func() error) {
	h.Helper()
	h.eventuallyWithin(ControllerTimeout, what, cond)
}

func (h *H) eventuallyWithin(timeout time.Duration, what string, cond func() error) {
	h.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// WaitGone waits until GET path answers 404.
func (h *H) WaitGone(path string) {
	h.Helper()
	h.Eventually("waiting for "+path+" to be removed", func() error {
		r := h.Get(path)
		if r.Code == 404 {
			return nil
		}
		return fmt.Errorf("still there: %s", short(r))
	})
}

// WaitObj polls GET path until ok accepts the object, and returns it.
// ok returns nil when the object is as wanted, else why not.
func (h *H) WaitObj(what, path string, ok func(Obj) error) Obj {
	h.Helper()
	var got Obj
	h.Eventually(what, func() error {
		r := h.Get(path)
		if r.Code != 200 {
			return fmt.Errorf("GET %s: %s", path, short(r))
		}
		o := decode(h, r.Body)
		if err := ok(o); err != nil {
			return fmt.Errorf("%v; last seen %s", err, js(o["metadata"]))
		}
		got = o
		return nil
	})
	return got
}

// WaitTerminating waits until the object at path has a deletionTimestamp,
// and returns it.
func (h *H) WaitTerminating(path string) Obj {
	h.Helper()
	return h.WaitObj("waiting for "+path+" to be marked for deletion", path, func(o Obj) error {
		if _, ok := DeletionTime(h, o); !ok {
			return fmt.Errorf("no deletionTimestamp")
		}
		return nil
	})
}

// Live GETs path and wants the object present without a deletionTimestamp.
func (h *H) Live(path string) Obj {
	h.Helper()
	r := h.Get(path)
	if r.Code != 200 {
		h.Errorf("GET %s: want the object still there, got %s", path, short(r))
		return nil
	}
	o := decode(h, r.Body)
	if _, ok := DeletionTime(h, o); ok {
		h.Errorf("GET %s: want it untouched, but it is being deleted: %s", path, js(o["metadata"]))
	}
	return o
}

// Still GETs path and wants the object present, terminating, with exactly
// the given finalizers.
func (h *H) Still(path string, finalizers ...string) Obj {
	h.Helper()
	r := h.Get(path)
	if r.Code != 200 {
		h.Errorf("GET %s: want it still there (Terminating), got %s", path, short(r))
		return nil
	}
	o := decode(h, r.Body)
	if _, ok := DeletionTime(h, o); !ok {
		h.Errorf("GET %s: want a deletionTimestamp, got none: %s", path, js(o["metadata"]))
	}
	h.WantFinalizers("GET "+path, o, finalizers...)
	return o
}

// Unhold removes every finalizer of the object at path with a JSON merge
// patch and wants 200.
func (h *H) Unhold(path string) Obj {
	h.Helper()
	return h.Want(h.Merge(path, `{"metadata":{"finalizers":null}}`), 200)
}

// short is a one-line rendering of an answer, without its headers.
func short(r Resp) string {
	b := string(r.Body)
	if len(b) > 400 {
		b = b[:400] + "…"
	}
	return fmt.Sprintf("HTTP %d %s", r.Code, strings.TrimSpace(b))
}

// --- owner references ---

// Ref is an ownerReference naming o (apiVersion, kind, name and uid as the
// server answered them), without controller or blockOwnerDeletion.
func Ref(o Obj) Obj {
	return Obj{"apiVersion": S(o, "apiVersion"), "kind": S(o, "kind"), "name": Name(o), "uid": UID(o)}
}

// Blocking is r with blockOwnerDeletion: true.
func Blocking(r Obj) Obj {
	c := Obj{}
	for k, v := range r {
		c[k] = v
	}
	c["blockOwnerDeletion"] = true
	return c
}

// RefTo is an ownerReference built from its parts.
func RefTo(apiVersion, kind, name, uid string) Obj {
	return Obj{"apiVersion": apiVersion, "kind": kind, "name": name, "uid": uid}
}

// Owned sets metadata.ownerReferences of body (in place) and returns it.
func Owned(body Obj, refs ...Obj) Obj {
	body["metadata"].(Obj)["ownerReferences"] = refs
	return body
}

// OwnerUIDs returns the uids of metadata.ownerReferences, in order.
func OwnerUIDs(o Obj) []string {
	l, _ := F(o, "metadata", "ownerReferences").([]any)
	var out []string
	for _, v := range l {
		m, _ := v.(map[string]any)
		s, _ := m["uid"].(string)
		out = append(out, s)
	}
	return out
}

// WantOwners checks the uids of metadata.ownerReferences exactly (none:
// the field absent or empty).
func (h *H) WantOwners(what string, o Obj, uids ...string) {
	h.Helper()
	if got := OwnerUIDs(o); !slices.Equal(got, uids) {
		h.Errorf("%s: ownerReferences uids %q, want %q (ownerReferences %s)", what, got, uids, js(F(o, "metadata", "ownerReferences")))
	}
}

// newUID is a fresh random (version 4) uid that no object has. Every
// dangling reference gets its own: the garbage collector's graph is keyed
// by uid, so two scenarios sharing one would disturb each other (D2, D15).
func newUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// GCSynced waits until the garbage collector has observed every object
// created so far in the scenario's namespace in the given collections
// ("configmaps", "secrets", "pods"). Like upstream's, it acts only on the
// dependents in its graph (D2): an orphan or foreground delete of an owner
// whose dependent it has not observed yet leaves that dependent out, and
// it is later collected as dangling instead (D10 would then delete it).
// The barrier is a sentinel created in each collection with a dangling
// reference: informers deliver one collection's events in order, so once
// the sentinel is collected the objects created before it are in the graph.
func (h *H) GCSynced(collections ...string) {
	h.Helper()
	for _, c := range collections {
		name := h.Gen("gc-sentinel")
		var body Obj
		switch c {
		case "configmaps":
			body = CM(name)
		case "secrets":
			body = Secret(name)
		case "pods":
			body = Pod(name, "")
		default:
			h.Fatalf("GCSynced: no sentinel for %q", c)
		}
		h.Create(h.P(c), Owned(body, RefTo("v1", "ConfigMap", "gc-sentinel-owner", newUID())))
		h.WaitGone(h.P(c, name))
	}
}

// --- more object bodies ---

// Secret is an Opaque Secret body.
func Secret(name string, finalizers ...string) Obj {
	return Obj{"apiVersion": "v1", "kind": "Secret", "metadata": metaFor(name, finalizers), "type": "Opaque",
		"stringData": Obj{"k": "v"}}
}

// ReplicaSet is an apps/v1 ReplicaSet body with 0 replicas, so that no
// replicaset controller (upstream's) creates pods for it.
func ReplicaSet(name string, finalizers ...string) Obj {
	labels := Obj{"app": name}
	t := podTemplate(labels)
	t["spec"].(Obj)["restartPolicy"] = "Always"
	return Obj{"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metaFor(name, finalizers),
		"spec": Obj{"replicas": 0, "selector": Obj{"matchLabels": labels}, "template": t}}
}

// StorageClass is a storage.k8s.io/v1 StorageClass body: a cluster-scoped
// object nothing else acts on.
func StorageClass(name string) Obj {
	return Obj{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": metaFor(name, nil),
		"provisioner": "example.com/none"}
}

// Node is a v1 Node body (no kubelet will ever report for it).
func Node(name string) Obj {
	return Obj{"apiVersion": "v1", "kind": "Node", "metadata": metaFor(name, nil)}
}

// PV is a static, hostPath PersistentVolume body with reclaim policy
// Retain and no storage class; claim, when not nil, pre-binds it.
func PV(name string, claim Obj) Obj {
	spec := Obj{
		"capacity":                      Obj{"storage": "1Gi"},
		"accessModes":                   []string{"ReadWriteOnce"},
		"persistentVolumeReclaimPolicy": "Retain",
		"storageClassName":              "",
		"hostPath":                      Obj{"path": "/tmp/" + name},
	}
	if claim != nil {
		spec["claimRef"] = Obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
			"namespace": S(claim, "metadata", "namespace"), "name": Name(claim), "uid": UID(claim)}
	}
	return Obj{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": metaFor(name, nil), "spec": spec}
}

// PVC is a PersistentVolumeClaim body with no storage class, naming volume
// ("" for none).
func PVC(name, volume string) Obj {
	spec := Obj{
		"accessModes":      []string{"ReadWriteOnce"},
		"resources":        Obj{"requests": Obj{"storage": "1Gi"}},
		"storageClassName": "",
	}
	if volume != "" {
		spec["volumeName"] = volume
	}
	return Obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metaFor(name, nil), "spec": spec}
}

// PodWithClaim is Pod with a volume for the PVC claim.
func PodWithClaim(name, node, claim string, finalizers ...string) Obj {
	p := Pod(name, node, finalizers...)
	spec := p["spec"].(Obj)
	spec["volumes"] = []Obj{{"name": "data", "persistentVolumeClaim": Obj{"claimName": claim}}}
	spec["containers"] = []Obj{{"name": "c", "image": "busybox", "volumeMounts": []Obj{{"name": "data", "mountPath": "/data"}}}}
	return p
}

// ClusterPath is the path of a cluster-scoped object of a core or group
// resource ("" group means core).
func ClusterPath(group, version, resource string, rest ...string) string {
	prefix := "/apis/" + group + "/" + version
	if group == "" {
		prefix = "/api/" + version
	}
	return strings.Join(append([]string{prefix, resource}, rest...), "/")
}

// CreateCluster creates a cluster-scoped object and deletes it (best
// effort, finalizers removed first) when the scenario ends.
func (h *H) CreateCluster(collection string, body Obj) Obj {
	h.Helper()
	o := h.Create(collection, body)
	path := collection + "/" + Name(o)
	h.Cleanup(func() {
		if r := h.Get(path); r.Code == 200 && UID(decode(h, r.Body)) == UID(o) {
			h.Merge(path, `{"metadata":{"finalizers":null}}`)
			h.Delete(path, DeleteOpts("gracePeriodSeconds", 0))
		}
	})
	return o
}

// --- events ---

// Events lists the core v1 Events of namespace ns about the object with
// the given uid.
func (h *H) Events(ns, involvedUID string) []Obj {
	h.Helper()
	r := h.Get("/api/v1/namespaces/" + ns + "/events?fieldSelector=" + url.QueryEscape("involvedObject.uid="+involvedUID))
	l := h.Want(r, 200)
	items, _ := l["items"].([]any)
	var out []Obj
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && S(m, "involvedObject", "uid") == involvedUID {
			out = append(out, m)
		}
	}
	return out
}

// WaitEvent waits for an Event with the given reason about the object with
// the given uid in namespace ns, and returns it.
func (h *H) WaitEvent(ns, involvedUID, reason string) Obj {
	h.Helper()
	var ev Obj
	h.Eventually(fmt.Sprintf("waiting for a %s event in %q about uid %s", reason, ns, involvedUID), func() error {
		evs := h.Events(ns, involvedUID)
		for _, e := range evs {
			if S(e, "reason") == reason {
				ev = e
				return nil
			}
		}
		return fmt.Errorf("events so far: %s", js(evs))
	})
	return ev
}

// --- namespace conditions ---

// Cond is one namespace condition without its lastTransitionTime.
type Cond struct{ Type, Status, Reason, Message string }

func (c Cond) String() string {
	return fmt.Sprintf("%s=%s %s: %q", c.Type, c.Status, c.Reason, c.Message)
}

// NSConditions returns status.conditions of a Namespace, in order.
func NSConditions(o Obj) []Cond {
	l, _ := F(o, "status", "conditions").([]any)
	var out []Cond
	for _, v := range l {
		m, _ := v.(map[string]any)
		out = append(out, Cond{S(m, "type"), S(m, "status"), S(m, "reason"), S(m, "message")})
	}
	return out
}

// nsDeletionConditions are the five conditions of spec E11 in the order
// upstream first writes them, each in its OK form unless overridden by a
// failing one of the same type.
func nsDeletionConditions(failing ...Cond) []Cond {
	out := []Cond{
		{"NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"},
		{"NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions", "All legacy kube types successfully parsed"},
		{"NamespaceDeletionContentFailure", "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
		{"NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed"},
		{"NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"},
	}
	for _, f := range failing {
		for i := range out {
			if out[i].Type == f.Type {
				out[i] = f
			}
		}
	}
	return out
}

func condsString(cs []Cond) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("\n\t" + c.String())
	}
	return b.String()
}

// WaitNSConditions waits until the Namespace name shows exactly the
// conditions want, in order, and returns it.
func (h *H) WaitNSConditions(name string, want []Cond) Obj {
	h.Helper()
	return h.WaitObj("waiting for the conditions of namespace "+name, NSPath(name), func(o Obj) error {
		if got := NSConditions(o); !slices.Equal(got, want) {
			return fmt.Errorf("conditions:%s\nwant:%s", condsString(got), condsString(want))
		}
		return nil
	})
}
