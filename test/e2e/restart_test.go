package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRestartKeepsObjects stops a server with SIGTERM and starts another on
// the same data directory: objects keep their uid and resourceVersion, and
// new writes get higher resourceVersions (A5).
func TestRestartKeepsObjects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Exact object counts: the root CA publisher would add its ConfigMap
	// to the namespace at any moment.
	s1 := startServerIn(t, dir, "--controllers=-*")
	cs := s1.clientset(t)
	const ns = "durable"
	createNamespace(t, cs, ns)
	cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "v2"
	if cm, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(1)
	labels := map[string]string{"app": "d"}
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "keep-not", metav1.DeleteOptions{}); err == nil {
		t.Fatal("deleting a missing object succeeded")
	}
	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What was listed, not what this test wrote, is what must come back: a
	// controller may have written the deployment since.
	depBefore, err := cs.AppsV1().Deployments(ns).Get(ctx, "d", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsBefore, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listRV, _ := strconv.ParseInt(list.ResourceVersion, 10, 64)

	if err := s1.stop(); err != nil {
		t.Fatal(err)
	}

	s2 := startServerIn(t, dir, "--controllers=-*")
	cs = s2.clientset(t)
	got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "keep", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.UID != cm.UID || got.ResourceVersion != cm.ResourceVersion || got.Data["k"] != "v2" ||
		!got.CreationTimestamp.Equal(&cm.CreationTimestamp) {
		t.Errorf("configmap after restart: uid %s rv %s data %v created %v; before: uid %s rv %s data %v created %v",
			got.UID, got.ResourceVersion, got.Data, got.CreationTimestamp, cm.UID, cm.ResourceVersion, cm.Data, cm.CreationTimestamp)
	}
	gotDep, err := cs.AppsV1().Deployments(ns).Get(ctx, "d", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if gotDep.UID != depBefore.UID || gotDep.Generation != depBefore.Generation ||
		gotDep.Spec.Template.Spec.Containers[0].Image != "busybox" {
		t.Errorf("deployment after restart: uid %s generation %d; before: uid %s generation %d",
			gotDep.UID, gotDep.Generation, depBefore.UID, depBefore.Generation)
	}
	gotNS, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if gotNS.UID != nsBefore.UID || gotNS.ResourceVersion != nsBefore.ResourceVersion {
		t.Errorf("namespace after restart: uid %s rv %s; before: uid %s rv %s", gotNS.UID, gotNS.ResourceVersion, nsBefore.UID, nsBefore.ResourceVersion)
	}
	list2, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list2.Items) != len(list.Items) {
		t.Errorf("list after restart: %d items, before %d", len(list2.Items), len(list.Items))
	}
	if rv, _ := strconv.ParseInt(list2.ResourceVersion, 10, 64); rv < listRV {
		t.Errorf("list resourceVersion went back: %d after restart, %d before", rv, listRV)
	}

	// New writes continue the same counter.
	newer, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rv, _ := strconv.ParseInt(newer.ResourceVersion, 10, 64); rv <= listRV {
		t.Errorf("A5: new object's resourceVersion %d is not above the pre-restart list's %d", rv, listRV)
	}
	got.Data["k"] = "v3"
	upd, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update with the pre-restart resourceVersion: %v", err)
	}
	if a, b := mustInt(t, upd.ResourceVersion), mustInt(t, newer.ResourceVersion); a <= b {
		t.Errorf("A5: update after restart got resourceVersion %d, not above %d", a, b)
	}
	// A stale version from before the restart still conflicts (J3).
	cm.Data["k"] = "stale"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err == nil ||
		err.Error() != `Operation cannot be fulfilled on configmaps "keep": the object has been modified; please apply your changes to the latest version and try again` {
		t.Errorf("J3: stale update after restart: %v", err)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q is not a decimal: %v", s, err)
	}
	return n
}
