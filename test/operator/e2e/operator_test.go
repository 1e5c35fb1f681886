package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	examplev1 "github.com/terminus-project/terminus/test/operator/api/v1"
	"github.com/terminus-project/terminus/test/operator/controller"
)

const reconcileWait = 30 * time.Second

func newWidget(ns, name string, size int, data map[string]string) *examplev1.Widget {
	return &examplev1.Widget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       examplev1.WidgetSpec{Size: size, Data: data},
	}
}

// waitReconciled waits until the widget's ConfigMap holds data and is
// controlled by the widget, and the widget has the finalizer and a status
// for its current generation. It returns the widget and the ConfigMap.
func waitReconciled(t *testing.T, e *env, name string, data map[string]string) (*examplev1.Widget, *corev1.ConfigMap) {
	t.Helper()
	ctx := t.Context()
	w := &examplev1.Widget{}
	cm := &corev1.ConfigMap{}
	eventually(t, reconcileWait, func() error {
		if err := e.c.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: name}, w); err != nil {
			return err
		}
		if err := e.c.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: controller.ConfigMapName(name)}, cm); err != nil {
			return err
		}
		if !maps.Equal(cm.Data, data) {
			return fmt.Errorf("ConfigMap data %v, want %v", cm.Data, data)
		}
		if !controllerutil.ContainsFinalizer(w, controller.Finalizer) {
			return fmt.Errorf("widget finalizers %v lack %s", w.Finalizers, controller.Finalizer)
		}
		want := examplev1.WidgetStatus{Ready: true, ConfigMap: controller.ConfigMapName(name), ObservedGeneration: w.Generation}
		if w.Status != want {
			return fmt.Errorf("widget status %+v, want %+v (generation %d)", w.Status, want, w.Generation)
		}
		return nil
	})
	refs := cm.OwnerReferences
	if len(refs) != 1 {
		t.Fatalf("ConfigMap ownerReferences = %+v, want one", refs)
	}
	r := refs[0]
	if r.APIVersion != "example.com/v1" || r.Kind != "Widget" || r.Name != name || r.UID != w.UID ||
		r.Controller == nil || !*r.Controller || r.BlockOwnerDeletion == nil || !*r.BlockOwnerDeletion {
		t.Fatalf("ConfigMap ownerReference = %+v, want example.com/v1 Widget %s uid %s controller+blockOwnerDeletion", r, name, w.UID)
	}
	return w, cm
}

// updateWidget gets the widget, applies mutate and updates it, retrying on
// conflicts (the operator writes the same object).
func updateWidget(t *testing.T, e *env, name string, mutate func(*examplev1.Widget)) *examplev1.Widget {
	t.Helper()
	w := &examplev1.Widget{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, w); err != nil {
			return err
		}
		mutate(w)
		return e.c.Update(t.Context(), w)
	})
	if err != nil {
		t.Fatalf("updating widget %s: %v", name, err)
	}
	return w
}

func findManagedFields(entries []metav1.ManagedFieldsEntry, manager string, op metav1.ManagedFieldsOperationType, subresource string) *metav1.ManagedFieldsEntry {
	for i := range entries {
		m := &entries[i]
		if m.Manager == manager && m.Operation == op && m.Subresource == subresource {
			return m
		}
	}
	return nil
}

func fieldsOf(m *metav1.ManagedFieldsEntry) string {
	if m == nil || m.FieldsV1 == nil {
		return ""
	}
	return string(m.FieldsV1.Raw)
}

func TestCRD(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	base := "/apis/example.com/v1/namespaces/" + e.ns + "/widgets"

	t.Run("NamesAccepted", func(t *testing.T) {
		got, err := e.ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.example.com", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.AcceptedNames.Kind != "Widget" || got.Status.AcceptedNames.Plural != "widgets" {
			t.Errorf("acceptedNames = %+v", got.Status.AcceptedNames)
		}
	})

	t.Run("SchemaValidation", func(t *testing.T) {
		for _, body := range []string{
			`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"bad-size"},"spec":{"size":"big"}}`,
			`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"neg-size"},"spec":{"size":-1}}`,
			`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"bad-data"},"spec":{"data":{"k":1}}}`,
		} {
			code, resp := rawRequest(t, e.cfg, "POST", base, "application/json", []byte(body))
			if code != 422 {
				t.Errorf("POST %s %s: got %d %s, want 422 Invalid", base, body, code, resp)
				continue
			}
			var st metav1.Status
			if err := json.Unmarshal(resp, &st); err != nil || st.Reason != metav1.StatusReasonInvalid {
				t.Errorf("POST %s %s: body %s, want a Status with reason Invalid", base, body, resp)
			}
		}
	})

	t.Run("StatusSubresource", func(t *testing.T) {
		// With the status subresource, status in a create or a main-resource
		// update is ignored.
		w := newWidget(e.ns, "status-sub", 1, nil)
		w.Status = examplev1.WidgetStatus{Ready: true, ConfigMap: "x"}
		if err := e.c.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
		if w.Status != (examplev1.WidgetStatus{}) {
			t.Errorf("status after create = %+v, want empty (status is reset on create)", w.Status)
		}
		w.Status.Ready = true
		w.Spec.Size = 2
		if err := e.c.Update(ctx, w); err != nil {
			t.Fatal(err)
		}
		if w.Status.Ready || w.Spec.Size != 2 || w.Generation != 2 {
			t.Errorf("after main update: status %+v size %d generation %d, want empty status, size 2, generation 2", w.Status, w.Spec.Size, w.Generation)
		}
		w.Status.Ready = true
		w.Spec.Size = 3
		if err := e.c.Status().Update(ctx, w); err != nil {
			t.Fatal(err)
		}
		if !w.Status.Ready || w.Spec.Size != 2 || w.Generation != 2 {
			t.Errorf("after status update: status %+v size %d generation %d, want ready, size 2, generation 2", w.Status, w.Spec.Size, w.Generation)
		}
	})

	t.Run("PrinterColumns", func(t *testing.T) {
		code, resp := rawRequest(t, e.cfg, "GET", base, "application/json;as=Table;v=v1;g=meta.k8s.io", nil)
		if code != 200 {
			t.Fatalf("GET %s as Table: %d %s", base, code, resp)
		}
		var table metav1.Table
		if err := json.Unmarshal(resp, &table); err != nil {
			t.Fatalf("decoding Table: %v\n%s", err, resp)
		}
		var names []string
		for _, c := range table.ColumnDefinitions {
			names = append(names, c.Name)
		}
		if want := []string{"Name", "Size", "Ready", "ConfigMap", "Age"}; !slices.Equal(names, want) {
			t.Errorf("columns = %v, want %v", names, want)
		}
		if len(table.Rows) != 1 || len(table.Rows[0].Cells) != 5 {
			t.Fatalf("rows = %+v, want one row of 5 cells", table.Rows)
		}
		cells := table.Rows[0].Cells
		if cells[0] != "status-sub" || cells[1] != float64(2) || cells[2] != true {
			t.Errorf("row cells = %v, want [status-sub 2 true ...]", cells)
		}
	})

	t.Run("DeleteOptionsBody", func(t *testing.T) {
		// Like kube-apiserver, a DELETE body's DeleteOptions may carry any
		// group version: controller-runtime's typed client sends the
		// resource's own (example.com/v1), client-go's dynamic client
		// meta.k8s.io/v1, older clients v1 or none.
		for i, tm := range []string{
			`"kind":"DeleteOptions","apiVersion":"example.com/v1",`,
			`"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1",`,
			`"kind":"DeleteOptions","apiVersion":"v1",`,
			``,
		} {
			name := fmt.Sprintf("del-opts-%d", i)
			if err := e.c.Create(ctx, newWidget(e.ns, name, 1, nil)); err != nil {
				t.Fatal(err)
			}
			body := `{` + tm + `"propagationPolicy":"Background"}`
			code, resp := rawRequest(t, e.cfg, "DELETE", base+"/"+name, "application/json", []byte(body))
			if code != 200 {
				t.Errorf("DELETE %s/%s with body %s: %d %s, want 200", base, name, body, code, resp)
			}
		}
	})
}

func TestReconcile(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	startManager(t, e, "solo", controller.Options{})

	data := map[string]string{"color": "blue", "shape": "round"}
	if err := e.c.Create(ctx, newWidget(e.ns, "alpha", 3, data)); err != nil {
		t.Fatal(err)
	}
	w, cm := waitReconciled(t, e, "alpha", data)
	if w.Generation != 1 || w.Status.ObservedGeneration != 1 {
		t.Errorf("generation %d observedGeneration %d, want 1 and 1 (finalizer and status writes do not bump a CR's generation)",
			w.Generation, w.Status.ObservedGeneration)
	}

	// The ConfigMap is server-side applied by the controller.
	if m := findManagedFields(cm.ManagedFields, controller.FieldManager, metav1.ManagedFieldsOperationApply, ""); m == nil {
		t.Errorf("ConfigMap managedFields %+v: no entry for manager %q operation Apply", cm.ManagedFields, controller.FieldManager)
	} else {
		for _, f := range []string{`"f:data"`, `"f:color"`, `"f:ownerReferences"`} {
			if !strings.Contains(fieldsOf(m), f) {
				t.Errorf("ConfigMap Apply managedFields %s lack %s", fieldsOf(m), f)
			}
		}
	}
	// The status is written through the status subresource.
	if m := findManagedFields(w.ManagedFields, controller.FieldManager, metav1.ManagedFieldsOperationUpdate, "status"); m == nil {
		t.Errorf("Widget managedFields %+v: no entry for manager %q operation Update subresource status", w.ManagedFields, controller.FieldManager)
	} else if f := fieldsOf(m); !strings.Contains(f, `"f:status"`) || !strings.Contains(f, `"f:observedGeneration"`) || strings.Contains(f, `"f:spec"`) {
		t.Errorf("Widget status managedFields = %s, want f:status fields only", f)
	}
	// The finalizer is added by a main-resource update.
	if m := findManagedFields(w.ManagedFields, controller.FieldManager, metav1.ManagedFieldsOperationUpdate, ""); m == nil {
		t.Errorf("Widget managedFields %+v: no entry for manager %q operation Update on the main resource", w.ManagedFields, controller.FieldManager)
	} else if f := fieldsOf(m); !strings.Contains(f, `"f:finalizers"`) {
		t.Errorf("Widget main-resource managedFields = %s, want f:metadata.f:finalizers", f)
	}

	// Changing spec.data: the ConfigMap follows (a key dropped from the
	// applied configuration is removed) and observedGeneration moves on.
	data = map[string]string{"color": "green", "size": "xl"}
	updated := updateWidget(t, e, "alpha", func(w *examplev1.Widget) { w.Spec.Data = data })
	if updated.Generation != 2 {
		t.Errorf("generation after a spec update = %d, want 2", updated.Generation)
	}
	w, cm = waitReconciled(t, e, "alpha", data)
	if w.Status.ObservedGeneration != 2 {
		t.Errorf("observedGeneration = %d, want 2", w.Status.ObservedGeneration)
	}
	if m := findManagedFields(cm.ManagedFields, controller.FieldManager, metav1.ManagedFieldsOperationApply, ""); m == nil ||
		!strings.Contains(fieldsOf(m), `"f:size"`) || strings.Contains(fieldsOf(m), `"f:shape"`) {
		t.Errorf("ConfigMap Apply managedFields after the update = %s, want f:size and no f:shape", fieldsOf(m))
	}

	// Someone else changing the ConfigMap is put right (ForceOwnership).
	cm.Data["color"] = "red"
	if err := e.c.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, reconcileWait, func() error {
		got := &corev1.ConfigMap{}
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			return err
		}
		if !maps.Equal(got.Data, data) {
			return fmt.Errorf("ConfigMap data %v, want %v", got.Data, data)
		}
		return nil
	})
}

func TestDeletion(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	startManager(t, e, "solo", controller.Options{})

	const hold = "test.example.com/hold"
	data := map[string]string{"k": "v"}
	if err := e.c.Create(ctx, newWidget(e.ns, "beta", 1, data)); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, e, "beta", data)
	// A second finalizer of the test's own keeps the Widget Terminating
	// after the operator is done, so that every step can be observed.
	updateWidget(t, e, "beta", func(w *examplev1.Widget) { controllerutil.AddFinalizer(w, hold) })

	path := "/apis/example.com/v1/namespaces/" + e.ns + "/widgets/beta"
	code, resp := rawRequest(t, e.cfg, "DELETE", path, "application/json", nil)
	if code != 200 {
		t.Fatalf("DELETE %s: %d %s, want 200 with the object (it has finalizers)", path, code, resp)
	}
	var deleted examplev1.Widget
	if err := json.Unmarshal(resp, &deleted); err != nil || deleted.Kind != "Widget" {
		t.Fatalf("DELETE %s: body %s, want the Widget (err %v)", path, resp, err)
	}
	if deleted.DeletionTimestamp == nil || len(deleted.Finalizers) == 0 {
		t.Errorf("DELETE %s returned deletionTimestamp %v finalizers %v, want both set", path, deleted.DeletionTimestamp, deleted.Finalizers)
	}

	key := types.NamespacedName{Namespace: e.ns, Name: "beta"}
	cmKey := types.NamespacedName{Namespace: e.ns, Name: controller.ConfigMapName("beta")}
	eventually(t, reconcileWait, func() error {
		err := e.c.Get(ctx, cmKey, &corev1.ConfigMap{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("ConfigMap %s still there (err %v)", cmKey.Name, err)
	})
	eventually(t, reconcileWait, func() error {
		w := &examplev1.Widget{}
		if err := e.c.Get(ctx, key, w); err != nil {
			return err
		}
		if w.DeletionTimestamp == nil {
			return fmt.Errorf("widget has no deletionTimestamp")
		}
		if !slices.Equal(w.Finalizers, []string{hold}) {
			return fmt.Errorf("widget finalizers %v, want only %s", w.Finalizers, hold)
		}
		return nil
	})
	updateWidget(t, e, "beta", func(w *examplev1.Widget) { controllerutil.RemoveFinalizer(w, hold) })
	eventually(t, reconcileWait, func() error {
		err := e.c.Get(ctx, key, &examplev1.Widget{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("widget still there (err %v)", err)
	})

	// Without the test's finalizer: the operator alone finishes the job.
	if err := e.c.Create(ctx, newWidget(e.ns, "gamma", 1, data)); err != nil {
		t.Fatal(err)
	}
	w, _ := waitReconciled(t, e, "gamma", data)
	if err := e.c.Delete(ctx, w); err != nil {
		t.Fatal(err)
	}
	eventually(t, reconcileWait, func() error {
		wErr := e.c.Get(ctx, client.ObjectKeyFromObject(w), &examplev1.Widget{})
		cmErr := e.c.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: controller.ConfigMapName("gamma")}, &corev1.ConfigMap{})
		if apierrors.IsNotFound(wErr) && apierrors.IsNotFound(cmErr) {
			return nil
		}
		return fmt.Errorf("widget get: %v; ConfigMap get: %v; want both NotFound", wErr, cmErr)
	})
}

func TestGarbageCollection(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mgr := startManager(t, e, "solo", controller.Options{})

	data := map[string]string{"k": "v"}
	for _, name := range []string{"delta", "epsilon"} {
		if err := e.c.Create(ctx, newWidget(e.ns, name, 1, data)); err != nil {
			t.Fatal(err)
		}
		waitReconciled(t, e, name, data)
	}
	if err := mgr.stop(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"delta", "epsilon"} {
		updateWidget(t, e, name, func(w *examplev1.Widget) { controllerutil.RemoveFinalizer(w, controller.Finalizer) })
	}

	gone := func(obj client.Object, key types.NamespacedName) func() error {
		return func() error {
			err := e.c.Get(ctx, key, obj)
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("%T %s still there (err %v)", obj, key, err)
		}
	}

	t.Run("Background", func(t *testing.T) {
		w := &examplev1.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "delta"}}
		if err := e.c.Delete(ctx, w, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, gone(&examplev1.Widget{}, client.ObjectKeyFromObject(w)))
		eventually(t, 60*time.Second, gone(&corev1.ConfigMap{}, types.NamespacedName{Namespace: e.ns, Name: controller.ConfigMapName("delta")}))
	})

	t.Run("Foreground", func(t *testing.T) {
		// The owner waits (foregroundDeletion finalizer) for its
		// blockOwnerDeletion dependent to be collected first.
		w := &examplev1.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "epsilon"}}
		if err := e.c.Delete(ctx, w, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, gone(&corev1.ConfigMap{}, types.NamespacedName{Namespace: e.ns, Name: controller.ConfigMapName("epsilon")}))
		eventually(t, 60*time.Second, gone(&examplev1.Widget{}, client.ObjectKeyFromObject(w)))
	})
}

func getLease(ctx context.Context, e *env, name string) (*coordinationv1.Lease, error) {
	return e.cs.CoordinationV1().Leases(e.ns).Get(ctx, name, metav1.GetOptions{})
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func TestLeaderElection(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const leaseName = "widget-operator-test"
	opts := controller.Options{
		LeaderElection:          true,
		LeaderElectionID:        leaseName,
		LeaderElectionNamespace: e.ns,
		LeaseDuration:           2 * time.Second,
		RenewDeadline:           1 * time.Second,
		RetryPeriod:             200 * time.Millisecond,
	}
	mgrs := []*runningManager{startManager(t, e, "a", opts), startManager(t, e, "b", opts)}

	var leader, follower *runningManager
	eventually(t, 30*time.Second, func() error {
		var won []*runningManager
		for _, m := range mgrs {
			if m.elected() {
				won = append(won, m)
			}
		}
		switch len(won) {
		case 0:
			return fmt.Errorf("no manager elected")
		case 1:
			leader = won[0]
			return nil
		default:
			return fmt.Errorf("both managers elected")
		}
	})
	follower = mgrs[0]
	if leader == mgrs[0] {
		follower = mgrs[1]
	}
	t.Logf("manager %s is the leader", leader.name)

	lease, err := getLease(ctx, e, leaseName)
	if err != nil {
		t.Fatalf("leader election Lease: %v", err)
	}
	first := holder(lease)
	if first == "" {
		t.Fatalf("Lease %s has no holderIdentity: %+v", leaseName, lease.Spec)
	}
	if d := lease.Spec.LeaseDurationSeconds; d == nil || *d != 2 {
		t.Errorf("Lease leaseDurationSeconds = %v, want 2", d)
	}

	// For well over a lease duration the leader keeps renewing and the
	// follower stays a follower.
	firstRenew := lease.Spec.RenewTime
	until := time.Now().Add(3 * opts.LeaseDuration)
	renewed := false
	for time.Now().Before(until) {
		if follower.elected() {
			t.Fatalf("follower %s was elected while %s leads", follower.name, leader.name)
		}
		l, err := getLease(ctx, e, leaseName)
		if err != nil {
			t.Fatal(err)
		}
		if h := holder(l); h != first {
			t.Fatalf("Lease holder changed from %q to %q while the leader runs", first, h)
		}
		if l.Spec.RenewTime != nil && firstRenew != nil && l.Spec.RenewTime.After(firstRenew.Time) {
			renewed = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !renewed {
		t.Errorf("the leader never renewed Lease %s (renewTime stayed %v)", leaseName, firstRenew)
	}

	data := map[string]string{"by": "first"}
	if err := e.c.Create(ctx, newWidget(e.ns, "led-1", 1, data)); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, e, "led-1", data)

	// The leader steps down (ReleaseOnCancel) and the follower takes over.
	if err := leader.stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if !follower.elected() {
			return fmt.Errorf("follower %s not elected yet", follower.name)
		}
		return nil
	})
	lease, err = getLease(ctx, e, leaseName)
	if err != nil {
		t.Fatal(err)
	}
	if h := holder(lease); h == "" || h == first {
		t.Errorf("Lease holderIdentity after the takeover = %q, want a new holder (was %q)", h, first)
	}
	if tr := lease.Spec.LeaseTransitions; tr == nil || *tr < 1 {
		t.Errorf("Lease leaseTransitions = %v, want >= 1", tr)
	}

	data = map[string]string{"by": "second"}
	if err := e.c.Create(ctx, newWidget(e.ns, "led-2", 1, data)); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, e, "led-2", data)
}

// TestOperatorProcess runs cmd/widget-operator as a process: it takes the
// Lease, reconciles, and on SIGTERM exits 0 and releases the Lease.
func TestOperatorProcess(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	p := startProcess(t, "widget-operator", operatorBin,
		"--kubeconfig", e.srv.kubeconfig,
		"--leader-election-namespace", e.ns,
		"--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "500ms")

	data := map[string]string{"run": "process"}
	if err := e.c.Create(ctx, newWidget(e.ns, "proc", 1, data)); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, e, "proc", data)
	lease, err := getLease(ctx, e, controller.DefaultLeaderElectionID)
	if err != nil {
		t.Fatalf("Lease %s: %v", controller.DefaultLeaderElectionID, err)
	}
	if holder(lease) == "" {
		t.Errorf("Lease %s has no holder while the operator runs", controller.DefaultLeaderElectionID)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	lease, err = getLease(ctx, e, controller.DefaultLeaderElectionID)
	if err != nil {
		t.Fatal(err)
	}
	if h := holder(lease); h != "" {
		t.Errorf("Lease holderIdentity after SIGTERM = %q, want empty (released on cancel)", h)
	}
}
