package podcontrol

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func template() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"app": "a"}, Annotations: map[string]string{"note": "x"},
			Finalizers: []string{"example.com/f"}, Name: "ignored",
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
	}
}

// events drains a fake recorder.
func events(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestCreatePod(t *testing.T) {
	client := fake.NewClientset()
	rec := record.NewFakeRecorder(10)
	pc := &PodControl{Client: client, Recorder: rec}
	owner := mkOwner(false)
	ref := NewControllerRef(owner, rsKind)
	// The fake clientset does not generate names.
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		p.Name = p.GenerateName + "abcde"
		return false, nil, nil
	})
	pod, err := pc.CreatePod(context.Background(), "ns", template(), ObjectReference(owner, rsKind), ref, "")
	if err != nil {
		t.Fatal(err)
	}
	pod.ManagedFields = nil // the fake clientset's
	want := metav1.ObjectMeta{
		Name: "rs-abcde", GenerateName: "rs-", Namespace: "ns",
		Labels: map[string]string{"app": "a"}, Annotations: map[string]string{"note": "x"}, Finalizers: []string{"example.com/f"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "uid-rs",
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
	}
	if diff := cmp.Diff(want, pod.ObjectMeta); diff != "" {
		t.Errorf("D8 pod metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(template().Spec, pod.Spec); diff != "" {
		t.Errorf("pod spec (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Normal SuccessfulCreate Created pod: rs-abcde"}, events(rec)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestCreatePodFailures(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "rs-", errMsg("exceeded quota: q"))
	terminatingNS := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden, Message: "namespace ns is being terminated",
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause, Field: "metadata.namespace"}}},
	}}
	tests := []struct {
		name       string
		err        error
		ref        *metav1.OwnerReference
		noLabels   bool
		wantEvents []string
	}{
		{name: "a refused create records FailedCreate", err: forbidden,
			wantEvents: []string{`Warning FailedCreate Error creating: pods "rs-" is forbidden: exceeded quota: q`}},
		{name: "a terminating namespace records nothing", err: terminatingNS},
		{name: "a reference without blockOwnerDeletion is refused before the API",
			ref: &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "uid-rs", Controller: ptr.To(true)}},
		{name: "a template without labels is refused", noLabels: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
				return tt.err != nil, nil, tt.err
			})
			rec := record.NewFakeRecorder(10)
			pc := &PodControl{Client: client, Recorder: rec}
			ref := tt.ref
			if ref == nil {
				ref = NewControllerRef(mkOwner(false), rsKind)
			}
			tmpl := template()
			if tt.noLabels {
				tmpl.Labels = nil
			}
			if _, err := pc.CreatePod(context.Background(), "ns", tmpl, ObjectReference(mkOwner(false), rsKind), ref, ""); err == nil {
				t.Fatal("no error")
			} else if tt.err != nil && !apierrors.IsForbidden(err) {
				t.Errorf("the API error is not wrapped: %v", err)
			}
			if diff := cmp.Diff(tt.wantEvents, events(rec)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

type errMsg string

func (e errMsg) Error() string { return string(e) }

func TestDeletePod(t *testing.T) {
	p := mkPod("p")
	client := fake.NewClientset(p)
	rec := record.NewFakeRecorder(10)
	pc := &PodControl{Client: client, Recorder: rec}
	owner := ObjectReference(mkOwner(false), rsKind)
	if err := pc.DeletePod(context.Background(), "ns", "p", owner); err != nil {
		t.Fatal(err)
	}
	err := pc.DeletePod(context.Background(), "ns", "p", owner)
	if !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: %v, want NotFound", err)
	}
	client.PrependReactor("delete", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errMsg("boom"))
	})
	if err := pc.DeletePod(context.Background(), "ns", "q", owner); err == nil {
		t.Fatal("no error")
	}
	got := events(rec)
	if len(got) != 2 || got[0] != "Normal SuccessfulDelete Deleted pod: p" || !strings.HasPrefix(got[1], "Warning FailedDelete Error deleting: ") {
		t.Errorf("events = %q", got)
	}
	// The delete carries no options: the pod's own grace applies.
	for _, a := range client.Actions() {
		if d, ok := a.(clienttesting.DeleteAction); ok && d.GetDeleteOptions().GracePeriodSeconds != nil {
			t.Errorf("delete with a grace period: %v", d.GetDeleteOptions())
		}
	}
}

func TestPodFromTemplatePrefix(t *testing.T) {
	// The dash is dropped only when the prefix is invalid, which, with
	// upstream's validation of prefixes, means an invalid owner name.
	long := strings.Repeat("a", 253)
	for name, want := range map[string]string{"web": "web-", long: long + "-", "x.y": "x.y-", "Web": "Web"} {
		p := PodFromTemplate(template(), &metav1.OwnerReference{Name: name})
		if p.GenerateName != want {
			t.Errorf("owner %.10s: generateName %.10s, want %.10s", name, p.GenerateName, want)
		}
	}
}

func TestAvailability(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	pods := []*corev1.Pod{
		mkPod("old", readySince(time.Hour)),
		mkPod("soon", readySince(8*time.Second)),
		mkPod("later", readySince(2*time.Second)),
		mkPod("unready"),
	}
	var avail []string
	for _, p := range pods {
		if IsPodAvailable(p, 10, t0) {
			avail = append(avail, p.Name)
		}
	}
	if diff := cmp.Diff([]string{"old"}, avail); diff != "" {
		t.Errorf("available with minReadySeconds 10 (-want +got):\n%s", diff)
	}
	if !IsPodAvailable(pods[2], 0, t0) || IsPodAvailable(pods[3], 0, t0) {
		t.Error("with minReadySeconds 0, ready is available")
	}
	if d := NextAvailabilityCheck(pods, 10, t0, clk); d == nil || *d != 2*time.Second {
		t.Errorf("next check = %v, want 2s", d)
	}
	// The owner's status was computed at t0; the clock moved past the
	// moment since: check at once.
	clk.Step(3 * time.Second)
	if d := NextAvailabilityCheck(pods[:2], 10, t0, clk); d == nil || *d != 0 {
		t.Errorf("next check after the moment = %v, want 0", d)
	}
	if d := NextAvailabilityCheck(pods, 0, t0, clk); d != nil {
		t.Errorf("next check without minReadySeconds = %v, want none", *d)
	}
}

func TestActiveAndTerminating(t *testing.T) {
	pods := []*corev1.Pod{
		mkPod("running"), mkPod("pending", phase(corev1.PodPending)),
		mkPod("succeeded", phase(corev1.PodSucceeded)), mkPod("failed", phase(corev1.PodFailed)),
		mkPod("terminating", terminating), mkPod("failed-terminating", phase(corev1.PodFailed), terminating),
	}
	names := func(ps []*corev1.Pod) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"running", "pending"}, names(FilterActivePods(pods))); diff != "" {
		t.Errorf("G11 active (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"terminating"}, names(FilterTerminatingPods(pods))); diff != "" {
		t.Errorf("G11 terminating (-want +got):\n%s", diff)
	}
}

func TestPodsForOwner(t *testing.T) {
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Pod{}, 0, cache.Indexers{})
	if err := AddPodControllerIndexer(inf); err != nil {
		t.Fatal(err)
	}
	if err := AddPodControllerIndexer(inf); err != nil {
		t.Fatalf("a second controller adding the index: %v", err)
	}
	owned := mkPod("owned", ownedBy("uid-rs"))
	owned.OwnerReferences[0].Name = "rs"
	for _, p := range []*corev1.Pod{owned, mkPod("orphan"), mkPod("other", ownedBy("uid-x")), mkPod("elsewhere", inNamespace("other"))} {
		if err := inf.GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		orphans bool
		want    []string
	}{{false, []string{"owned"}}, {true, []string{"owned", "orphan"}}} {
		pods, err := PodsForOwner(inf.GetIndexer(), mkOwner(false), "ReplicaSet", tt.orphans)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range pods {
			got = append(got, p.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("orphans=%v (-want +got):\n%s", tt.orphans, diff)
		}
	}
}
