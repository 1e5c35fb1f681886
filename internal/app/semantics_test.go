package app

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/ptr"
)

func cm(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: map[string]string{"k": "v"}}
}

func deployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
			},
		},
	}
}

func TestMetadataRules(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cms := s.client.CoreV1().ConfigMaps("default")

	t.Run("A4 create wipes client-set identity and deletion fields", func(t *testing.T) {
		in := cm("a4", nil)
		in.UID = "client-uid"
		now := metav1.Now()
		in.DeletionTimestamp = &now
		in.DeletionGracePeriodSeconds = ptr.To[int64](5)
		out, err := cms.Create(ctx, in, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if out.UID == "client-uid" || out.UID == "" || out.DeletionTimestamp != nil || out.DeletionGracePeriodSeconds != nil {
			t.Fatalf("got uid %q deletionTimestamp %v grace %v", out.UID, out.DeletionTimestamp, out.DeletionGracePeriodSeconds)
		}
	})

	t.Run("A5 an unchanged update keeps the resourceVersion", func(t *testing.T) {
		out, err := cms.Create(ctx, cm("a5", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		again, err := cms.Update(ctx, out, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.ResourceVersion != out.ResourceVersion {
			t.Fatalf("no-op update moved resourceVersion %s -> %s", out.ResourceVersion, again.ResourceVersion)
		}
		out.Data["k"] = "changed"
		changed, err := cms.Update(ctx, out, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rv(t, changed.ResourceVersion) <= rv(t, out.ResourceVersion) {
			t.Fatalf("update did not increase resourceVersion: %s -> %s", out.ResourceVersion, changed.ResourceVersion)
		}
	})

	t.Run("J3 a stale resourceVersion conflicts", func(t *testing.T) {
		out, err := cms.Create(ctx, cm("rvtest", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stale := out.DeepCopy()
		out.Data["k"] = "1"
		if _, err := cms.Update(ctx, out, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		stale.Data["k"] = "2"
		_, err = cms.Update(ctx, stale, metav1.UpdateOptions{})
		want := `Operation cannot be fulfilled on configmaps "rvtest": the object has been modified; please apply your changes to the latest version and try again`
		if !apierrors.IsConflict(err) || err.Error() != want {
			t.Fatalf("got %v, want 409 %q", err, want)
		}
	})

	t.Run("A6 A7 generation starts at 1, bumps on spec changes only, creationTimestamp kept", func(t *testing.T) {
		deps := s.client.AppsV1().Deployments("default")
		d, err := deps.Create(ctx, deployment("gen"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Generation != 1 {
			t.Fatalf("generation %d, want 1", d.Generation)
		}
		created := d.CreationTimestamp
		d.Labels = map[string]string{"x": "y"}
		d.Generation = 42
		d.CreationTimestamp = metav1.NewTime(created.Add(-time.Hour))
		d, err = deps.Update(ctx, d, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Generation != 1 || !d.CreationTimestamp.Equal(&created) {
			t.Fatalf("metadata-only update: generation %d creationTimestamp %v", d.Generation, d.CreationTimestamp)
		}
		d.Spec.Replicas = ptr.To[int32](5)
		d, err = deps.Update(ctx, d, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Generation != 2 {
			t.Fatalf("spec update: generation %d, want 2", d.Generation)
		}
		c, err := cms.Create(ctx, cm("nogen", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Generation != 0 {
			t.Fatalf("configmap generation %d, want 0 (absent)", c.Generation)
		}
	})

	t.Run("A8 generateName", func(t *testing.T) {
		in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}
		out, err := cms.Create(ctx, in, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Name) != len("gen-")+5 || out.Name[:4] != "gen-" {
			t.Fatalf("generated name %q", out.Name)
		}
	})

	t.Run("A3 namespace must exist and match", func(t *testing.T) {
		_, err := s.client.CoreV1().ConfigMaps("nope").Create(ctx, cm("x", nil), metav1.CreateOptions{})
		if !apierrors.IsNotFound(err) || err.Error() != `namespaces "nope" not found` {
			t.Fatalf("got %v", err)
		}
		in := cm("x", nil)
		in.Namespace = "kube-system"
		_, err = cms.Create(ctx, in, metav1.CreateOptions{})
		if !apierrors.IsBadRequest(err) || err.Error() != "the namespace of the provided object does not match the namespace sent on the request" {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("B9 dryRun writes nothing", func(t *testing.T) {
		_, err := cms.Create(ctx, cm("dry", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("dry-run create stored the object: %v", err)
		}
	})
}

func TestStatusAndScaleSubresources(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	deps := s.client.AppsV1().Deployments("default")
	d, err := deps.Create(ctx, deployment("sub"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.Replicas = 7
	d.Spec.Replicas = ptr.To[int32](9)
	d, err = deps.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.Replicas != 7 || *d.Spec.Replicas != 1 {
		t.Fatalf("status update: status.replicas %d spec.replicas %d, want 7 and 1", d.Status.Replicas, *d.Spec.Replicas)
	}
	d.Status.Replicas = 0
	d.Spec.Paused = true
	d, err = deps.Update(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.Replicas != 7 || !d.Spec.Paused {
		t.Fatalf("main update: status.replicas %d paused %v, want 7 and true", d.Status.Replicas, d.Spec.Paused)
	}
	scale, err := deps.GetScale(ctx, "sub", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if scale.Spec.Replicas != 1 || scale.Status.Selector != "app=sub" {
		t.Fatalf("scale %+v", scale)
	}
	_, err = deps.UpdateScale(ctx, "sub", &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "sub", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: 4}}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err = deps.Get(ctx, "sub", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 4 {
		t.Fatalf("spec.replicas %d after scale, want 4", *d.Spec.Replicas)
	}
}

func TestListPagingAndSelectors(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cms := s.client.CoreV1().ConfigMaps("default")
	for i := 0; i < 25; i++ {
		if _, err := cms.Create(ctx, cm(fmt.Sprintf("p%02d", i), map[string]string{"parity": strconv.Itoa(i % 2)}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("I2 limit and continue reach every item once at one resourceVersion", func(t *testing.T) {
		seen := map[string]bool{}
		opts := metav1.ListOptions{Limit: 4, LabelSelector: "parity=1"}
		var listRV string
		for pages := 0; ; pages++ {
			l, err := cms.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if listRV == "" {
				listRV = l.ResourceVersion
			} else if l.ResourceVersion != listRV {
				t.Fatalf("page resourceVersion %s, first page %s", l.ResourceVersion, listRV)
			}
			if len(l.Items) > 4 {
				t.Fatalf("page of %d items with limit 4", len(l.Items))
			}
			for _, it := range l.Items {
				if seen[it.Name] || it.Labels["parity"] != "1" {
					t.Fatalf("item %s repeated or not selected", it.Name)
				}
				seen[it.Name] = true
			}
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
		if len(seen) != 12 {
			t.Fatalf("saw %d items, want 12", len(seen))
		}
	})
	t.Run("I6 field selector metadata.name works on every resource", func(t *testing.T) {
		l, err := cms.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=p03"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 || l.Items[0].Name != "p03" {
			t.Fatalf("got %d items", len(l.Items))
		}
	})
	t.Run("unsupported field selector is rejected", func(t *testing.T) {
		_, err := cms.List(ctx, metav1.ListOptions{FieldSelector: "spec.nope=x"})
		if !apierrors.IsBadRequest(err) {
			t.Fatalf("got %v, want 400", err)
		}
	})
	t.Run("B10 deletecollection with a selector", func(t *testing.T) {
		if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "parity=0"}); err != nil {
			t.Fatal(err)
		}
		l, err := cms.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range l.Items {
			if it.Labels["parity"] == "0" {
				t.Fatalf("%s survived deletecollection", it.Name)
			}
		}
	})
}

func TestWatchSemantics(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cms := s.client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, cm("w0", map[string]string{"sel": "yes"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("I4 I5 from a resourceVersion every change in order, DELETED with the delete revision", func(t *testing.T) {
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		o, err := cms.Create(ctx, cm("w1", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o.Data["k"] = "2"
		if _, err := cms.Update(ctx, o, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cms.Delete(ctx, "w1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		var last int64
		for _, want := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted} {
			ev := next(t, w)
			got := ev.Object.(*corev1.ConfigMap)
			if ev.Type != want || got.Name != "w1" {
				t.Fatalf("got %s %s, want %s w1", ev.Type, got.Name, want)
			}
			if r := rv(t, got.ResourceVersion); r <= last {
				t.Fatalf("resourceVersion %d not above %d", r, last)
			} else {
				last = r
			}
			if want == watch.Deleted && got.Data["k"] != "2" {
				t.Fatalf("DELETED object is not the last stored state: %v", got.Data)
			}
		}
	})

	t.Run("I6 objects entering and leaving a selector are ADDED and DELETED", func(t *testing.T) {
		w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "sel=yes", ResourceVersion: first.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		o, err := cms.Create(ctx, cm("w2", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o.Labels = map[string]string{"sel": "yes"}
		if o, err = cms.Update(ctx, o, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		o.Labels = nil
		if _, err = cms.Update(ctx, o, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "w2" {
			t.Fatalf("got %s, want ADDED w2", ev.Type)
		}
		if ev := next(t, w); ev.Type != watch.Deleted || ev.Object.(*corev1.ConfigMap).Name != "w2" {
			t.Fatalf("got %s, want DELETED w2", ev.Type)
		}
	})

	t.Run("I7 I8 initial events end with the annotated bookmark", func(t *testing.T) {
		w, err := cms.Watch(ctx, metav1.ListOptions{
			SendInitialEvents: ptr.To(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
			AllowWatchBookmarks: true, LabelSelector: "sel=yes",
		})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if ev := next(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "w0" {
			t.Fatalf("got %s, want ADDED w0", ev.Type)
		}
		ev := next(t, w)
		m := ev.Object.(*corev1.ConfigMap)
		if ev.Type != watch.Bookmark || m.Annotations[metav1.InitialEventsAnnotationKey] != "true" || m.ResourceVersion == "" {
			t.Fatalf("got %s %v, want the initial-events-end BOOKMARK", ev.Type, m.Annotations)
		}
	})

	t.Run("I8 sendInitialEvents without NotOlderThan is 422", func(t *testing.T) {
		_, err := cms.Watch(ctx, metav1.ListOptions{SendInitialEvents: ptr.To(true)})
		want := `ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan`
		if !apierrors.IsInvalid(err) || err.Error() != want {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("I1 a future resourceVersion times out with 504", func(t *testing.T) {
		// client-go would retry the 504's Retry-After; ask once.
		err := s.client.CoreV1().RESTClient().Get().Namespace("default").Resource("configmaps").
			Param("resourceVersion", "99999999").MaxRetries(0).Do(ctx).Error()
		if !apierrors.IsTimeout(err) || err.Error() != "Timeout: Too large resource version: 99999999, current: "+strconv.FormatInt(currentRV(t, s), 10) {
			t.Fatalf("got %v, want 504 Timeout", err)
		}
	})
}

func TestMetadataClientAndTables(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if _, err := s.client.CoreV1().ConfigMaps("default").Create(ctx, cm("meta", map[string]string{"a": "b"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mc := metadata.NewForConfigOrDie(s.config)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	list, err := mc.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "meta" || list.Items[0].Labels["a"] != "b" {
		t.Fatalf("PartialObjectMetadataList %+v", list.Items)
	}
	one, err := mc.Resource(gvr).Namespace("default").Get(ctx, "meta", metav1.GetOptions{})
	if err != nil || one.UID == "" {
		t.Fatalf("PartialObjectMetadata %v %v", one, err)
	}
	w, err := mc.Resource(gvr).Namespace("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := mc.Resource(gvr).Namespace("default").Patch(ctx, "meta", types.MergePatchType, []byte(`{"metadata":{"labels":{"c":"d"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, w)
	if pm, ok := ev.Object.(*metav1.PartialObjectMetadata); !ok || ev.Type != watch.Modified || pm.Labels["c"] != "d" {
		t.Fatalf("got %s %T", ev.Type, ev.Object)
	}

	var table metav1.Table
	err = s.client.CoreV1().RESTClient().Get().Namespace("default").Resource("configmaps").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctx).Into(&table)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) < 3 || table.ColumnDefinitions[0].Name != "Name" || table.ColumnDefinitions[1].Name != "Data" {
		t.Fatalf("columns %+v", table.ColumnDefinitions)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[0] != "meta" {
		t.Fatalf("rows %+v", table.Rows)
	}
}

func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		if ev.Type == watch.Error {
			t.Fatalf("watch error: %v", apierrors.FromObject(ev.Object))
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return watch.Event{}
}

func rv(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", s, err)
	}
	return n
}

func currentRV(t *testing.T, s *testServer) int64 {
	t.Helper()
	l, err := s.client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rv(t, l.ResourceVersion)
}

func TestFinalizerHold(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cms := s.client.CoreV1().ConfigMaps("default")
	in := cm("held", nil)
	in.Finalizers = []string{"example.com/hold"}
	created, err := cms.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	held, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if held.DeletionTimestamp == nil || held.DeletionGracePeriodSeconds == nil || *held.DeletionGracePeriodSeconds != 0 {
		t.Fatalf("A9: deletionTimestamp %v grace %v", held.DeletionTimestamp, held.DeletionGracePeriodSeconds)
	}
	t.Run("A2 a terminating object holds its name", func(t *testing.T) {
		_, err := cms.Create(ctx, cm("held", nil), metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) || err.Error() != `object is being deleted: configmaps "held" already exists` {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("C2 no new finalizers", func(t *testing.T) {
		again := held.DeepCopy()
		again.Finalizers = append(again.Finalizers, "example.com/c")
		_, err := cms.Update(ctx, again, metav1.UpdateOptions{})
		want := `ConfigMap "held" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/c"}`
		if !apierrors.IsInvalid(err) || err.Error() != want {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("C5 removing the last finalizer deletes with one DELETED event", func(t *testing.T) {
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: held.ResourceVersion, FieldSelector: "metadata.name=held"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		held.Finalizers = nil
		if _, err := cms.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("object still there after its last finalizer went: %v", err)
		}
		ev := next(t, w)
		got := ev.Object.(*corev1.ConfigMap)
		if ev.Type != watch.Deleted || len(got.Finalizers) != 1 || got.UID != created.UID || rv(t, got.ResourceVersion) <= rv(t, held.ResourceVersion) {
			t.Fatalf("got %s with finalizers %v rv %s", ev.Type, got.Finalizers, got.ResourceVersion)
		}
	})
}

// TestManyWatchers runs several watchers in each format on the same events;
// under -race it proves the shared event objects are only read.
func TestManyWatchers(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cms := s.client.CoreV1().ConfigMaps("default")
	start, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mc := metadata.NewForConfigOrDie(s.config)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	var watchers []watch.Interface
	for i := 0; i < 4; i++ {
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: start.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		watchers = append(watchers, w)
		mw, err := mc.Resource(gvr).Namespace("default").Watch(ctx, metav1.ListOptions{ResourceVersion: start.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		watchers = append(watchers, mw)
	}
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := cms.Create(ctx, cm(fmt.Sprintf("many%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range watchers {
		for i := 0; i < n; i++ {
			ev := next(t, w)
			name := ""
			switch o := ev.Object.(type) {
			case *corev1.ConfigMap:
				name = o.Name
			case *metav1.PartialObjectMetadata:
				name = o.Name
			}
			if ev.Type != watch.Added || name != fmt.Sprintf("many%d", i) {
				t.Fatalf("watcher got %s %q, want ADDED many%d", ev.Type, name, i)
			}
		}
		w.Stop()
	}
}
