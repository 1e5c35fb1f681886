package lifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 11, 23, 0, 24, 35, 0, time.UTC)

func ts(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func configMap(finalizers ...string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "f2", Namespace: "ns", UID: "uid-1", ResourceVersion: "225", Finalizers: finalizers,
	}}
}

func terminatingConfigMap(finalizers ...string) *corev1.ConfigMap {
	c := configMap(finalizers...)
	c.DeletionTimestamp = ts(now.Add(-time.Minute))
	c.DeletionGracePeriodSeconds = ptr.To[int64](0)
	return c
}

func pod(node string, phase corev1.PodPhase, finalizers ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-p", Generation: 1, Finalizers: finalizers},
		Spec:       corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: ptr.To[int64](30)},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func terminatingPod(grace int64, finalizers ...string) *corev1.Pod {
	p := pod("n1", corev1.PodRunning, finalizers...)
	p.Generation = 2
	p.DeletionTimestamp = ts(now.Add(time.Duration(grace) * time.Second))
	p.DeletionGracePeriodSeconds = ptr.To(grace)
	return p
}

func request(obj runtime.Object, opts *metav1.DeleteOptions) DeleteRequest {
	gk := schema.GroupKind{Kind: "ConfigMap"}
	gr := schema.GroupResource{Resource: "configmaps"}
	switch obj.(type) {
	case *corev1.Pod:
		gk, gr = schema.GroupKind{Kind: "Pod"}, schema.GroupResource{Resource: "pods"}
	case *corev1.Namespace:
		gk, gr = schema.GroupKind{Kind: "Namespace"}, schema.GroupResource{Resource: "namespaces"}
	case *batchv1.Job:
		gk, gr = schema.GroupKind{Group: "batch", Kind: "Job"}, schema.GroupResource{Group: "batch", Resource: "jobs"}
	}
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	return DeleteRequest{Stored: obj, Options: opts, Resource: gr, Kind: gk, Policy: Background, Now: now}
}

func policy(p metav1.DeletionPropagation) *metav1.DeleteOptions {
	return &metav1.DeleteOptions{PropagationPolicy: &p}
}

// want describes a decision: outcome, and the resulting metadata.
type want struct {
	outcome    Outcome
	writeFirst bool
	finalizers []string
	// deletionTimestamp nil means absent.
	deletionTimestamp *time.Time
	grace             *int64
	generation        int64
}

func check(t *testing.T, d DeleteDecision, w want) {
	t.Helper()
	if d.Outcome != w.outcome || d.WriteFirst != w.writeFirst {
		t.Fatalf("outcome %s writeFirst %v, want %s %v", d.Outcome, d.WriteFirst, w.outcome, w.writeFirst)
	}
	m := d.Object.(metav1.Object)
	if diff := cmp.Diff(w.finalizers, m.GetFinalizers()); diff != "" {
		t.Errorf("finalizers (-want +got):\n%s", diff)
	}
	got := m.GetDeletionTimestamp()
	switch {
	case w.deletionTimestamp == nil && got != nil:
		t.Errorf("deletionTimestamp %v, want none", got)
	case w.deletionTimestamp != nil && (got == nil || !got.Time.Equal(*w.deletionTimestamp)):
		t.Errorf("deletionTimestamp %v, want %v", got, *w.deletionTimestamp)
	}
	if diff := cmp.Diff(w.grace, m.GetDeletionGracePeriodSeconds()); diff != "" {
		t.Errorf("deletionGracePeriodSeconds (-want +got):\n%s", diff)
	}
	if m.GetGeneration() != w.generation {
		t.Errorf("generation %d, want %d", m.GetGeneration(), w.generation)
	}
}

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

func TestDelete(t *testing.T) {
	zero := ptr.To[int64](0)
	tests := []struct {
		name string
		req  DeleteRequest
		want want
	}{
		{"B5 no finalizers: removed at once without a write",
			request(configMap(), nil),
			want{outcome: Remove}},
		{"B5 A9 finalizers hold the object: marked with now and grace 0",
			request(configMap("example.com/hold"), nil),
			want{outcome: Mark, finalizers: []string{"example.com/hold"}, deletionTimestamp: at(0), grace: zero}},
		{"A7 generation bumps on the first marking when positive",
			func() DeleteRequest {
				j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Generation: 1, Finalizers: []string{"example.com/x"}}}
				return request(j, nil)
			}(),
			want{outcome: Mark, finalizers: []string{"example.com/x"}, deletionTimestamp: at(0), grace: zero, generation: 2}},
		{"B7 Job default is orphan: finalizer added, generation +1",
			func() DeleteRequest {
				r := request(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Generation: 1}}, nil)
				r.Policy = Orphan
				return r
			}(),
			want{outcome: Mark, finalizers: []string{"orphan"}, deletionTimestamp: at(0), grace: zero, generation: 2}},
		{"B7 Foreground adds foregroundDeletion after other finalizers",
			request(configMap("example.com/a"), policy(metav1.DeletePropagationForeground)),
			want{outcome: Mark, finalizers: []string{"example.com/a", "foregroundDeletion"}, deletionTimestamp: at(0), grace: zero}},
		{"B7 Foreground on an object without finalizers holds it",
			request(configMap(), policy(metav1.DeletePropagationForeground)),
			want{outcome: Mark, finalizers: []string{"foregroundDeletion"}, deletionTimestamp: at(0), grace: zero}},
		{"B7 orphanDependents:false means background, not foreground",
			request(configMap(), &metav1.DeleteOptions{OrphanDependents: ptr.To(false)}),
			want{outcome: Remove}},
		{"B7 orphanDependents:true adds orphan",
			request(configMap(), &metav1.DeleteOptions{OrphanDependents: ptr.To(true)}),
			want{outcome: Mark, finalizers: []string{"orphan"}, deletionTimestamp: at(0), grace: zero}},
		{"B7 without options the object's GC finalizer is kept",
			request(configMap("foregroundDeletion"), nil),
			want{outcome: Mark, finalizers: []string{"foregroundDeletion"}, deletionTimestamp: at(0), grace: zero}},
		{"B7 the two GC finalizers exclude each other",
			request(configMap("orphan", "example.com/a"), policy(metav1.DeletePropagationForeground)),
			want{outcome: Mark, finalizers: []string{"example.com/a", "foregroundDeletion"}, deletionTimestamp: at(0), grace: zero}},
		{"B7 Unsupported (Events) never gets a GC finalizer",
			func() DeleteRequest {
				r := request(configMap(), policy(metav1.DeletePropagationOrphan))
				r.Policy = Unsupported
				return r
			}(),
			want{outcome: Remove}},
		{"B8 repeated DELETE with the same GC finalizers writes nothing",
			request(terminatingConfigMap("example.com/a"), nil),
			want{outcome: Unchanged, finalizers: []string{"example.com/a"}, deletionTimestamp: at(-time.Minute), grace: zero}},
		{"B8 Foreground after Background is written, timestamp kept",
			request(terminatingConfigMap("example.com/a"), policy(metav1.DeletePropagationForeground)),
			want{outcome: Mark, finalizers: []string{"example.com/a", "foregroundDeletion"}, deletionTimestamp: at(-time.Minute), grace: zero}},
		{"B8 Orphan then Background: the last finalizer goes and the object is removed",
			request(terminatingConfigMap("orphan"), policy(metav1.DeletePropagationBackground)),
			want{outcome: Remove, finalizers: []string{}, deletionTimestamp: at(-time.Minute), grace: zero}},
		{"A7 later DELETEs do not bump generation",
			func() DeleteRequest {
				c := terminatingConfigMap("example.com/a")
				c.Generation = 2
				return request(c, nil)
			}(),
			want{outcome: Unchanged, finalizers: []string{"example.com/a"}, deletionTimestamp: at(-time.Minute), grace: zero, generation: 2}},
		{"G1 G2 scheduled pod: now+30, grace 30, generation +1",
			request(pod("n1", corev1.PodRunning), nil),
			want{outcome: Mark, deletionTimestamp: at(30 * time.Second), grace: ptr.To[int64](30), generation: 2}},
		{"G1 the request's grace wins over the spec's",
			request(pod("n1", corev1.PodRunning), &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](5)}),
			want{outcome: Mark, deletionTimestamp: at(5 * time.Second), grace: ptr.To[int64](5), generation: 2}},
		{"G1 C8 unscheduled pod: marked with grace 0 then removed",
			request(pod("", corev1.PodPending), nil),
			want{outcome: Remove, writeFirst: true, deletionTimestamp: at(0), grace: zero, generation: 2}},
		{"G1 terminal pod: grace 0",
			request(pod("n1", corev1.PodSucceeded), nil),
			want{outcome: Remove, writeFirst: true, deletionTimestamp: at(0), grace: zero, generation: 2}},
		{"G1 negative grace becomes 1",
			request(pod("n1", corev1.PodRunning), &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](-5)}),
			want{outcome: Mark, deletionTimestamp: at(time.Second), grace: ptr.To[int64](1), generation: 2}},
		{"G3 C8 grace 0 with finalizers pending: marked only",
			request(pod("n1", corev1.PodRunning, "example.com/f"), &metav1.DeleteOptions{GracePeriodSeconds: zero}),
			want{outcome: Mark, finalizers: []string{"example.com/f"}, deletionTimestamp: at(0), grace: zero, generation: 2}},
		{"G4 B8 equal or longer grace: unchanged",
			request(terminatingPod(30), &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](60)}),
			want{outcome: Unchanged, deletionTimestamp: at(30 * time.Second), grace: ptr.To[int64](30), generation: 2}},
		{"G4 no grace in the request: unchanged, GC options ignored",
			request(terminatingPod(30), policy(metav1.DeletePropagationForeground)),
			want{outcome: Unchanged, deletionTimestamp: at(30 * time.Second), grace: ptr.To[int64](30), generation: 2}},
		{"G4 shorter grace moves the timestamp back by c-g",
			request(terminatingPod(30), &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](10)}),
			want{outcome: Mark, deletionTimestamp: at(10 * time.Second), grace: ptr.To[int64](10), generation: 2}},
		{"G4 a timestamp in the past becomes now and grace 1",
			func() DeleteRequest {
				p := terminatingPod(30)
				p.DeletionTimestamp = ts(now.Add(5 * time.Second)) // 25 s already gone
				return request(p, &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](2)})
			}(),
			want{outcome: Mark, deletionTimestamp: at(0), grace: ptr.To[int64](1), generation: 2}},
		{"G4 -5 means 1: grace 1 and now",
			request(terminatingPod(30), &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](-5)}),
			want{outcome: Mark, deletionTimestamp: at(time.Second), grace: ptr.To[int64](1), generation: 2}},
		{"G4 C8 shortening to 0: marked with grace 0 then removed",
			request(terminatingPod(30), &metav1.DeleteOptions{GracePeriodSeconds: zero}),
			want{outcome: Remove, writeFirst: true, deletionTimestamp: at(0), grace: zero, generation: 2}},
		{"C6 pod at grace 0 with finalizers: a repeated DELETE writes nothing",
			func() DeleteRequest {
				p := terminatingPod(0, "example.com/f")
				p.DeletionTimestamp = ts(now.Add(-time.Second))
				return request(p, nil)
			}(),
			want{outcome: Unchanged, finalizers: []string{"example.com/f"}, deletionTimestamp: at(-time.Second), grace: zero, generation: 2}},
		{"G9 pod already at grace 0 without finalizers is removed without a write",
			func() DeleteRequest {
				p := terminatingPod(0)
				p.DeletionTimestamp = ts(now.Add(-time.Second))
				return request(p, nil)
			}(),
			want{outcome: Remove, deletionTimestamp: at(-time.Second), grace: zero, generation: 2}},
		{"nil options mean grace 0 (Store.Delete)",
			DeleteRequest{Stored: pod("n1", corev1.PodRunning), Kind: schema.GroupKind{Kind: "Pod"}, Now: now},
			want{outcome: Remove, writeFirst: true, deletionTimestamp: at(0), grace: zero, generation: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Delete(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			check(t, d, tt.want)
		})
	}
}

func TestDeletePreconditions(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
		opts *metav1.DeleteOptions
		want string
	}{
		{"B4 uid mismatch names the Kind", configMap(), &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("other"))}},
			`Operation cannot be fulfilled on ConfigMap "f2": the UID in the precondition (other) does not match the UID in record (uid-1). The object might have been deleted and then recreated`},
		{"B4 resourceVersion mismatch", configMap(), &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: ptr.To("1")}},
			`Operation cannot be fulfilled on ConfigMap "f2": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (225). The object might have been modified`},
		{"B4 namespaces run their own check", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n", UID: "u"}},
			&metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("x"))}},
			`Operation cannot be fulfilled on namespaces "n": Precondition failed: UID in precondition: x, UID in object meta: u`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Delete(request(tt.obj, tt.opts))
			if !apierrors.IsConflict(err) || err.Error() != tt.want {
				t.Fatalf("got %v, want 409 %q", err, tt.want)
			}
		})
	}
	t.Run("B4 matching preconditions pass", func(t *testing.T) {
		d, err := Delete(request(configMap(), &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("uid-1")), ResourceVersion: ptr.To("225")}}))
		if err != nil || d.Outcome != Remove {
			t.Fatalf("got %v %v", d.Outcome, err)
		}
	})
}

func TestDeleteNamespace(t *testing.T) {
	live := func() *corev1.Namespace {
		return &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: "t2", UID: "u", ResourceVersion: "7"},
			Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}
	}
	t.Run("E2 first DELETE marks Terminating without a grace period", func(t *testing.T) {
		d, err := Delete(request(live(), nil))
		if err != nil {
			t.Fatal(err)
		}
		check(t, d, want{outcome: Mark, deletionTimestamp: at(0)})
		if ns := d.Object.(*corev1.Namespace); ns.Status.Phase != corev1.NamespaceTerminating {
			t.Fatalf("phase %s", ns.Status.Phase)
		}
	})
	t.Run("E2 a policy sets the GC finalizer; no policy is background", func(t *testing.T) {
		d, _ := Delete(request(live(), policy(metav1.DeletePropagationForeground)))
		check(t, d, want{outcome: Mark, finalizers: []string{"foregroundDeletion"}, deletionTimestamp: at(0)})
		d, _ = Delete(request(live(), &metav1.DeleteOptions{OrphanDependents: ptr.To(true)}))
		check(t, d, want{outcome: Mark, finalizers: []string{"orphan"}, deletionTimestamp: at(0)})
	})
	t.Run("E3 later DELETEs wait for spec.finalizers", func(t *testing.T) {
		ns := live()
		ns.DeletionTimestamp = ts(now.Add(-time.Minute))
		d, _ := Delete(request(ns, nil))
		check(t, d, want{outcome: Unchanged, deletionTimestamp: at(-time.Minute)})
	})
	t.Run("E3 E8 with spec.finalizers empty the generic path removes it", func(t *testing.T) {
		ns := live()
		ns.DeletionTimestamp = ts(now.Add(-time.Minute))
		ns.Spec.Finalizers = nil
		d, _ := Delete(request(ns, nil))
		check(t, d, want{outcome: Remove, deletionTimestamp: at(-time.Minute)})
	})
	t.Run("E4 protected namespaces", func(t *testing.T) {
		for _, name := range []string{"default", "kube-system", "kube-public"} {
			err := CheckNamespaceDeletable(name)
			want := `namespaces "` + name + `" is forbidden: this namespace may not be deleted`
			if !apierrors.IsForbidden(err) || err.Error() != want {
				t.Fatalf("%s: got %v", name, err)
			}
		}
		if err := CheckNamespaceDeletable("kube-node-lease"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestShouldDeleteDuringUpdate(t *testing.T) {
	tests := []struct {
		name            string
		updated, stored runtime.Object
		want            bool
	}{
		{"C5 last finalizer removed from a terminating object", configMap(), terminatingConfigMap("a"), true},
		{"C5 finalizers remain", configMap("b"), terminatingConfigMap("a", "b"), false},
		{"C5 not terminating", configMap(), configMap("a"), false},
		{"C6 pod in its grace period stays", pod("n1", corev1.PodRunning), terminatingPod(30, "a"), false},
		{"C5 pod at grace 0 goes", pod("n1", corev1.PodRunning), terminatingPod(0, "a"), true},
		{"E7 namespace needs empty spec.finalizers too",
			&corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: ts(now)}}, false},
		{"E7 namespace with both lists empty goes",
			&corev1.Namespace{}, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: ts(now)}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShouldDeleteDuringUpdate(tt.updated, tt.stored); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrepareUpdate(t *testing.T) {
	t.Run("C3 a set deletionTimestamp cannot be changed or removed", func(t *testing.T) {
		stored := terminatingConfigMap("a")
		updated := configMap("a")
		updated.DeletionTimestamp = ts(now.Add(time.Hour))
		PrepareUpdate(updated, stored)
		if !updated.DeletionTimestamp.Equal(stored.DeletionTimestamp) {
			t.Fatalf("deletionTimestamp %v", updated.DeletionTimestamp)
		}
	})
	t.Run("C3 a timestamp sent for a live object is left for validation to reject", func(t *testing.T) {
		updated := configMap()
		updated.DeletionTimestamp = ts(now)
		PrepareUpdate(updated, configMap())
		if updated.DeletionTimestamp == nil {
			t.Fatal("timestamp dropped silently")
		}
	})
	t.Run("C4 an omitted grace keeps the stored one", func(t *testing.T) {
		updated := configMap("a")
		PrepareUpdate(updated, terminatingConfigMap("a"))
		if updated.DeletionGracePeriodSeconds == nil || *updated.DeletionGracePeriodSeconds != 0 {
			t.Fatalf("grace %v", updated.DeletionGracePeriodSeconds)
		}
	})
}
