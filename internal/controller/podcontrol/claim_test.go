package podcontrol

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// patcher records patches and answers with err.
type patcher struct {
	patches []string
	err     error
}

func (p *patcher) PatchPod(_ context.Context, namespace, name string, data []byte) error {
	p.patches = append(p.patches, namespace+"/"+name+" "+string(data))
	return p.err
}

func mkOwner(deleting bool) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "ns", UID: "uid-rs"}}
	if deleting {
		rs.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	}
	return rs
}

func ownedBy(uid types.UID) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: uid, Controller: ptr.To(true),
		})
	}
}

func labelled(v string) podOpt { return func(p *corev1.Pod) { p.Labels = map[string]string{"app": v} } }

func inNamespace(ns string) podOpt { return func(p *corev1.Pod) { p.Namespace = ns } }

const (
	adoptP   = `ns/p {"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"uid-rs","controller":true,"blockOwnerDeletion":true}],"uid":"uid-p"}}`
	releaseP = `ns/p {"metadata":{"uid":"uid-p","ownerReferences":[{"$patch":"delete","uid":"uid-rs"}]}}`
)

func TestClaimPods(t *testing.T) {
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p")
	invalid := apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "p", field.ErrorList{field.Invalid(field.NewPath("metadata", "uid"), "x", "field is immutable")})
	tests := []struct {
		name          string
		ownerDeleting bool
		pod           *corev1.Pod
		patchErr      error
		canAdoptErr   error
		wantClaimed   bool
		wantPatches   []string
		wantErr       bool
	}{
		{name: "D a pod of another controller is not ours", pod: mkPod("p", ownedBy("other"))},
		{name: "D an owned matching pod is ours", pod: mkPod("p", ownedBy("uid-rs")), wantClaimed: true},
		{name: "G11 an owned matching pod stays ours while the owner is deleted", ownerDeleting: true,
			pod: mkPod("p", ownedBy("uid-rs")), wantClaimed: true},
		{name: "D an owned pod that no longer matches is released", pod: mkPod("p", ownedBy("uid-rs"), labelled("b")),
			wantPatches: []string{releaseP}},
		{name: "G11 a deleting owner releases nothing", ownerDeleting: true, pod: mkPod("p", ownedBy("uid-rs"), labelled("b"))},
		{name: "D a release of a gone pod is no error", pod: mkPod("p", ownedBy("uid-rs"), labelled("b")), patchErr: notFound,
			wantPatches: []string{releaseP}},
		{name: "D a release of a recreated pod (422) is no error", pod: mkPod("p", ownedBy("uid-rs"), labelled("b")), patchErr: invalid,
			wantPatches: []string{releaseP}},
		{name: "D a failed release is retried", pod: mkPod("p", ownedBy("uid-rs"), labelled("b")), patchErr: errors.New("boom"),
			wantPatches: []string{releaseP}, wantErr: true},
		{name: "D a matching orphan is adopted", pod: mkPod("p"), wantClaimed: true, wantPatches: []string{adoptP}},
		{name: "D an orphan that does not match is left", pod: mkPod("p", labelled("b"))},
		{name: "G11 a terminating orphan is never adopted", pod: mkPod("p", terminating)},
		{name: "G11 a deleting owner adopts nothing", ownerDeleting: true, pod: mkPod("p")},
		{name: "D an orphan of another namespace is left", pod: mkPod("p", inNamespace("other"))},
		{name: "D an adoption of a gone pod is no error", pod: mkPod("p"), patchErr: notFound, wantPatches: []string{adoptP}},
		{name: "D a failed adoption is retried", pod: mkPod("p"), patchErr: errors.New("boom"), wantPatches: []string{adoptP}, wantErr: true},
		{name: "D the recheck refuses adoption: no patch, an error", pod: mkPod("p"), canAdoptErr: errors.New("deleted"), wantErr: true},
		{name: "D a recheck that finds the owner gone is an error, not a gone pod", pod: mkPod("p"),
			canAdoptErr: apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "rs"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &patcher{err: tt.patchErr}
			m := NewRefManager(mkOwner(tt.ownerDeleting), rsKind, labels.SelectorFromSet(labels.Set{"app": "a"}),
				func(context.Context) error { return tt.canAdoptErr })
			claimed, err := m.ClaimPods(context.Background(), p, []*corev1.Pod{tt.pod})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := len(claimed) == 1; got != tt.wantClaimed {
				t.Errorf("claimed = %v, want %v", got, tt.wantClaimed)
			}
			if diff := cmp.Diff(tt.wantPatches, p.patches); diff != "" {
				t.Errorf("patches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClaimPodsRechecksOnce(t *testing.T) {
	rechecks := 0
	m := NewRefManager(mkOwner(false), rsKind, labels.SelectorFromSet(labels.Set{"app": "a"}),
		func(context.Context) error { rechecks++; return nil })
	p := &patcher{}
	claimed, err := m.ClaimPods(context.Background(), p, []*corev1.Pod{mkPod("a"), mkPod("b"), mkPod("c", ownedBy("uid-rs"))},
		func(pod *corev1.Pod) bool { return pod.Name != "b" })
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 || len(p.patches) != 1 || rechecks != 1 {
		t.Errorf("claimed %d, patched %d, rechecked %d; want 2, 1, 1 (a filter rejects b)", len(claimed), len(p.patches), rechecks)
	}
}

func TestRecheckDeletionTimestamp(t *testing.T) {
	for _, tt := range []struct {
		name    string
		obj     metav1.Object
		err     error
		wantErr bool
	}{
		{name: "a live owner may adopt", obj: mkOwner(false)},
		{name: "a deleting owner may not", obj: mkOwner(true), wantErr: true},
		{name: "a failed read refuses", err: errors.New("boom"), wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			check := RecheckDeletionTimestamp(func(context.Context) (metav1.Object, error) { return tt.obj, tt.err })
			if err := check(context.Background()); (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestPatchesWithFinalizers(t *testing.T) {
	a, err := AdoptPatch(mkOwner(false), rsKind, "uid-p", "batch.kubernetes.io/job-tracking")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"uid-rs","controller":true,"blockOwnerDeletion":true}],"uid":"uid-p","finalizers":["batch.kubernetes.io/job-tracking"]}}`
	if string(a) != want {
		t.Errorf("adopt patch\n got %s\nwant %s", a, want)
	}
	r, err := ReleasePatch("uid-p", []types.UID{"u1", "u2"}, "batch.kubernetes.io/job-tracking")
	if err != nil {
		t.Fatal(err)
	}
	want = `{"metadata":{"uid":"uid-p","ownerReferences":[{"$patch":"delete","uid":"u1"},{"$patch":"delete","uid":"u2"}],"$deleteFromPrimitiveList/finalizers":["batch.kubernetes.io/job-tracking"]}}`
	if string(r) != want {
		t.Errorf("release patch\n got %s\nwant %s", r, want)
	}
}
