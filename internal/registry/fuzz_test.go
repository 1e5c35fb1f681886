package registry

import (
	"context"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// FuzzDeletionSequences drives one object through a random sequence of
// DELETEs (random propagation, orphanDependents, grace, dry-run) and
// updates (finalizers added, removed, reordered; labels; no-ops), and
// checks the invariants of spec A5, A9, C2–C5 and B5 after every step:
//   - an object that still carries finalizers is never removed;
//   - deletionTimestamp never changes once set (a pod's only moves earlier,
//     G4);
//   - resourceVersion strictly increases with every write, and a step
//     that changes nothing writes nothing.
func FuzzDeletionSequences(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{10, 0, 20, 1, 30, 2})
	f.Add([]byte{3, 3, 3, 9, 9, 9, 12, 12})
	_, cms := newTestRegistry(f, 1024, 1024)
	pods, _ := cms.reg.Store(corev1.SchemeGroupVersion.WithResource("pods"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		ctx := context.Background()
		usePod := len(ops) > 0 && ops[0]%4 == 0
		store := cms
		var obj runtime.Object = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fz", Finalizers: []string{"example.com/a"}}}
		if usePod {
			store = pods
			obj = &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "fz", Finalizers: []string{"example.com/a"}},
				Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "x"}}},
			}
		}
		created, err := store.Create(ctx, "default", obj, CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer forceRemove(store)
		last := created.(metav1.Object)
		lastRV := mustRV(t, last.GetResourceVersion())
		var deletionTS *metav1.Time
		for i, op := range ops {
			submitted, err := step(ctx, store, op)
			if err != nil {
				if apierrors.IsInvalid(err) || apierrors.IsConflict(err) {
					continue // rejected steps (C2, C4) are checked below too
				}
				t.Fatalf("step %d (op %d): %v", i, op, err)
			}
			got, err := store.Get(ctx, "default", "fz", "")
			if apierrors.IsNotFound(err) {
				// Removed: by an update whose result has no finalizers
				// (C5), or by a DELETE when only GC finalizers, which the
				// request's policy may drop, were left (B5, B8).
				for _, f := range last.GetFinalizers() {
					if submitted != nil && len(submitted.GetFinalizers()) == 0 {
						break
					}
					if f != metav1.FinalizerOrphanDependents && f != metav1.FinalizerDeleteDependents {
						t.Fatalf("step %d (op %d): removed while holding finalizer %q", i, op, f)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			after := got.(metav1.Object)
			rv := mustRV(t, after.GetResourceVersion())
			switch {
			case rv < lastRV:
				t.Fatalf("step %d (op %d): resourceVersion went back %d -> %d", i, op, lastRV, rv)
			case rv == lastRV && !sameStored(t, store, last, after):
				t.Fatalf("step %d (op %d): object changed without a new resourceVersion", i, op)
			case rv > lastRV && sameStored(t, store, last, after):
				t.Fatalf("step %d (op %d): a no-op was written (A5)", i, op)
			}
			// Once set, deletionTimestamp never changes; a pod's may only
			// move earlier, when its grace period is shortened (G4).
			if cur := after.GetDeletionTimestamp(); deletionTS != nil {
				if cur == nil || cur.After(deletionTS.Time) || (!usePod && !cur.Equal(deletionTS)) {
					t.Fatalf("step %d (op %d): deletionTimestamp moved %v -> %v", i, op, deletionTS, cur)
				}
			}
			deletionTS = after.GetDeletionTimestamp()
			last, lastRV = after, rv
		}
	})
}

// step applies one operation. For an update it returns the object it
// submitted; for a DELETE nil.
func step(ctx context.Context, s *Store, op byte) (metav1.Object, error) {
	switch op % 8 {
	case 0, 1, 2:
		opts := &metav1.DeleteOptions{}
		switch (op / 8) % 5 {
		case 1:
			opts.PropagationPolicy = ptr.To(metav1.DeletePropagationForeground)
		case 2:
			opts.PropagationPolicy = ptr.To(metav1.DeletePropagationOrphan)
		case 3:
			opts.PropagationPolicy = ptr.To(metav1.DeletePropagationBackground)
		case 4:
			opts.OrphanDependents = ptr.To(op%16 < 8)
		}
		if op/40%2 == 1 {
			opts.GracePeriodSeconds = ptr.To(int64(op/80) * 7)
		}
		_, err := s.Delete(ctx, "default", "fz", opts, op%8 == 2)
		return nil, err
	}
	var submitted metav1.Object
	_, err := s.Update(ctx, "default", "fz", func(existing runtime.Object) (runtime.Object, error) {
		m := existing.(metav1.Object)
		fs := m.GetFinalizers()
		switch op % 8 {
		case 3: // remove the first finalizer
			if len(fs) > 0 {
				m.SetFinalizers(fs[1:])
			}
		case 4: // remove all
			m.SetFinalizers(nil)
		case 5: // reorder
			if len(fs) > 1 {
				m.SetFinalizers(append(fs[1:], fs[0]))
			}
		case 6: // add one (422 once terminating, C2)
			m.SetFinalizers(append(fs, "example.com/n"+strconv.Itoa(int(op/8))))
		case 7: // label or no-op
			if op/8%2 == 0 {
				m.SetLabels(map[string]string{"l": strconv.Itoa(int(op))})
			}
		}
		submitted = m
		return existing, nil
	}, UpdateOptions{})
	return submitted, err
}

// sameStored reports whether before and after encode identically (the
// no-op rule of A5 compares stored bytes).
func sameStored(t *testing.T, s *Store, before, after metav1.Object) bool {
	t.Helper()
	b, err := s.encode(before.(runtime.Object))
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.encode(after.(runtime.Object))
	if err != nil {
		t.Fatal(err)
	}
	return string(a) == string(b)
}

// forceRemove clears the fuzzed object so the next input starts fresh.
func forceRemove(s *Store) {
	ctx := context.Background()
	_, _ = s.Update(ctx, "default", "fz", func(existing runtime.Object) (runtime.Object, error) {
		existing.(metav1.Object).SetFinalizers(nil)
		return existing, nil
	}, UpdateOptions{})
	_, _ = s.Delete(ctx, "default", "fz", &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, false)
	_, _ = s.Delete(ctx, "default", "fz", &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, false)
}
