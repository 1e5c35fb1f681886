package deployment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	clienttesting "k8s.io/client-go/testing"
)

// TestRollback: the deprecated rollbackTo annotation puts the template
// of that revision back and goes away (upstream rollback.go).
func TestRollback(t *testing.T) {
	d := mkDeployment("web", 1, nil, nil, image("img:2"))
	d.Annotations = map[string]string{RevisionAnnotation: "2", appsv1.DeprecatedRollbackTo: "0"}
	newRS := mkRS(d, "web-2", 1, rev(2))
	old := mkRS(d, "web-1", 0, rev(1), withImage("img:1"), created(time.Hour))
	old.Annotations["kubernetes.io/change-cause"] = "first"
	f := newFixture(t, d, newRS, old)
	writes, events := f.sync(t, "ns/web")
	// The status write records FoundNewReplicaSet (no Progressing yet).
	if want := []string{"update deployments/status web", "update deployments web"}; !cmp.Equal(writes, want) {
		t.Fatalf("writes: %s", cmp.Diff(want, writes))
	}
	got := f.client.Actions()[len(f.client.Actions())-1].(clienttesting.UpdateAction).GetObject().(*appsv1.Deployment)
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "img:1" {
		t.Errorf("template image %q, want img:1", img)
	}
	if _, ok := got.Spec.Template.Labels["pod-template-hash"]; ok {
		t.Error("the hash label came back with the template")
	}
	if _, ok := got.Annotations[appsv1.DeprecatedRollbackTo]; ok || got.Annotations["kubernetes.io/change-cause"] != "first" {
		t.Errorf("annotations %v", got.Annotations)
	}
	if want := []string{`Normal DeploymentRollback Rolled back deployment "web" to revision 1`}; !cmp.Equal(events, want) {
		t.Errorf("events: %s", cmp.Diff(want, events))
	}
}
