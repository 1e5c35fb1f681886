package registry

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/terminus-project/terminus/internal/storage/memory"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

var bindingStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// newPodRegistry is a registry over a memory store on a fake clock, with
// the namespace "default", returning the pods store.
func newPodRegistry(t *testing.T) (*Registry, *Store, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(bindingStart)
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(memory.Options{})
	reg, err := New(Config{Storage: st, Scheme: scheme, Resources: BuiltinResources(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	if err := reg.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	nsStore, _ := reg.Store(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if _, err := nsStore.Create(ctx, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods, _ := reg.Store(corev1.SchemeGroupVersion.WithResource("pods"))
	return reg, pods, clk
}

func testPod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func mustCreatePod(t *testing.T, pods *Store, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := pods.Create(context.Background(), "default", p, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.Pod)
}

func binding(pod, node string) *corev1.Binding {
	return &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
}

func TestBind(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		pod     *corev1.Pod // nil: no pod
		prepare func(t *testing.T, pods *Store)
		urlName string
		binding func(created *corev1.Pod) *corev1.Binding
		dryRun  bool
		// wantCode 0 means success; wantMsg is the exact error text.
		wantCode int32
		wantMsg  string
		check    func(t *testing.T, got *corev1.Pod)
	}{
		{
			name: "binds an unassigned pod, PodScheduled True at the clock's time",
			pod: testPod("p", func(p *corev1.Pod) {
				p.Annotations = map[string]string{"keep": "1", "pod.beta.kubernetes.io/init-containers": "[]"}
				p.Labels = map[string]string{"app": "a", "zone": "old"}
			}),
			binding: func(*corev1.Pod) *corev1.Binding {
				b := binding("p", "n1")
				b.Annotations = map[string]string{"scheduler": "terminus"}
				b.Labels = map[string]string{"zone": "z1"}
				return b
			},
			check: func(t *testing.T, got *corev1.Pod) {
				if got.Spec.NodeName != "n1" {
					t.Errorf("nodeName %q, want n1", got.Spec.NodeName)
				}
				wantAnn := map[string]string{"keep": "1", "scheduler": "terminus"}
				if d := cmp.Diff(wantAnn, got.Annotations); d != "" {
					t.Errorf("annotations (-want +got):\n%s", d)
				}
				if d := cmp.Diff(map[string]string{"app": "a", "zone": "z1"}, got.Labels); d != "" {
					t.Errorf("labels (-want +got):\n%s", d)
				}
				want := []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(bindingStart)}}
				if d := cmp.Diff(want, got.Status.Conditions); d != "" {
					t.Errorf("conditions (-want +got):\n%s", d)
				}
				if got.Generation != 1 {
					t.Errorf("generation %d: a binding bypasses the spec strategy and must not bump it", got.Generation)
				}
			},
		},
		{
			name: "replaces a PodScheduled False condition and clears the nomination",
			pod:  testPod("p"),
			prepare: func(t *testing.T, pods *Store) {
				_, err := pods.Update(ctx, "default", "p", func(obj runtime.Object) (runtime.Object, error) {
					p := obj.(*corev1.Pod)
					p.Status.NominatedNodeName = "n0"
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
						Message: "0/1 nodes are available", LastTransitionTime: metav1.NewTime(bindingStart.Add(-time.Hour))}}
					return p, nil
				}, UpdateOptions{Subresource: "status"})
				if err != nil {
					t.Fatal(err)
				}
			},
			binding: func(*corev1.Pod) *corev1.Binding { return binding("p", "n1") },
			check: func(t *testing.T, got *corev1.Pod) {
				want := []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(bindingStart)}}
				if d := cmp.Diff(want, got.Status.Conditions); d != "" {
					t.Errorf("conditions (-want +got):\n%s", d)
				}
				if got.Status.NominatedNodeName != "" {
					t.Errorf("nominatedNodeName %q, want it cleared", got.Status.NominatedNodeName)
				}
			},
		},
		{
			name:     "409 when the pod is already assigned",
			pod:      testPod("p", func(p *corev1.Pod) { p.Spec.NodeName = "n0" }),
			binding:  func(*corev1.Pod) *corev1.Binding { return binding("p", "n1") },
			wantCode: 409,
			wantMsg:  `Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n0"`,
		},
		{
			name: "409 when the pod is being deleted",
			pod:  testPod("p", func(p *corev1.Pod) { p.Finalizers = []string{"example.com/hold"} }),
			prepare: func(t *testing.T, pods *Store) {
				if _, err := pods.Delete(ctx, "default", "p", &metav1.DeleteOptions{}, false); err != nil {
					t.Fatal(err)
				}
			},
			binding:  func(*corev1.Pod) *corev1.Binding { return binding("p", "n1") },
			wantCode: 409,
			wantMsg:  `Operation cannot be fulfilled on pods/binding "p": pod p is being deleted, cannot be assigned to a host`,
		},
		{
			name:     "409 while scheduling gates remain",
			pod:      testPod("p", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} }),
			binding:  func(*corev1.Pod) *corev1.Binding { return binding("p", "n1") },
			wantCode: 409,
			wantMsg:  `Operation cannot be fulfilled on pods/binding "p": pod p has non-empty .spec.schedulingGates`,
		},
		{
			name:     "J1 404 for a missing pod",
			binding:  func(*corev1.Pod) *corev1.Binding { return binding("nope", "n1") },
			urlName:  "nope",
			wantCode: 404,
			wantMsg:  `pods "nope" not found`,
		},
		{
			name:     "400 when the URL names another pod",
			pod:      testPod("p"),
			urlName:  "other",
			binding:  func(*corev1.Pod) *corev1.Binding { return binding("p", "n1") },
			wantCode: 400,
			wantMsg:  "name in URL does not match name in Binding object",
		},
		{
			name: "a target that is not a Node is upstream's reasonless 500",
			pod:  testPod("p"),
			binding: func(*corev1.Pod) *corev1.Binding {
				b := binding("p", "n1")
				b.Target.Kind = "Pod"
				return b
			},
			wantCode: 500,
			wantMsg:  `target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"`,
		},
		{
			name:     "a target without a name is upstream's reasonless 500",
			pod:      testPod("p"),
			binding:  func(*corev1.Pod) *corev1.Binding { return binding("p", "") },
			wantCode: 500,
			wantMsg:  `target.name: Required value`,
		},
		{
			name: "a uid precondition that does not match is 409 on pods",
			pod:  testPod("p"),
			binding: func(*corev1.Pod) *corev1.Binding {
				b := binding("p", "n1")
				b.UID = "other"
				return b
			},
			wantCode: 409,
		},
		{
			name: "a matching uid precondition binds",
			pod:  testPod("p"),
			binding: func(created *corev1.Pod) *corev1.Binding {
				b := binding("p", "n1")
				b.UID, b.ResourceVersion = created.UID, created.ResourceVersion
				return b
			},
			check: func(t *testing.T, got *corev1.Pod) {
				if got.Spec.NodeName != "n1" {
					t.Errorf("nodeName %q, want n1", got.Spec.NodeName)
				}
			},
		},
		{
			name:    "dry run answers the bound pod and writes nothing",
			pod:     testPod("p"),
			binding: func(*corev1.Pod) *corev1.Binding { return binding("p", "n1") },
			dryRun:  true,
			check: func(t *testing.T, got *corev1.Pod) {
				if got.Spec.NodeName != "" {
					t.Errorf("dry run stored nodeName %q", got.Spec.NodeName)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, pods, _ := newPodRegistry(t)
			var created *corev1.Pod
			if tc.pod != nil {
				created = mustCreatePod(t, pods, tc.pod)
			}
			if tc.prepare != nil {
				tc.prepare(t, pods)
			}
			b := tc.binding(created)
			urlName := tc.urlName
			if urlName == "" {
				urlName = b.Name
			}
			out, err := pods.Bind(ctx, "default", urlName, b, tc.dryRun)
			if tc.wantCode != 0 {
				st, ok := err.(apierrors.APIStatus)
				if !ok {
					t.Fatalf("got %v (%T), want a %d status", err, err, tc.wantCode)
				}
				if st.Status().Code != tc.wantCode || (tc.wantMsg != "" && st.Status().Message != tc.wantMsg) {
					t.Fatalf("got %d %q, want %d %q", st.Status().Code, st.Status().Message, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.dryRun && out.Spec.NodeName != "n1" {
				t.Errorf("dry run answered nodeName %q, want n1", out.Spec.NodeName)
			}
			stored, err := pods.Get(ctx, "default", b.Name, "")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.dryRun && stored.(*corev1.Pod).ResourceVersion != out.ResourceVersion {
				t.Errorf("answered resourceVersion %s, stored %s", out.ResourceVersion, stored.(*corev1.Pod).ResourceVersion)
			}
			tc.check(t, stored.(*corev1.Pod))
		})
	}
}

func TestBindPreconditionMessage(t *testing.T) {
	_, pods, _ := newPodRegistry(t)
	created := mustCreatePod(t, pods, testPod("p"))
	b := binding("p", "n1")
	b.UID = types.UID("other")
	_, err := pods.Bind(context.Background(), "default", "p", b, false)
	want := `Operation cannot be fulfilled on pods "p": StorageError: invalid object, Code: 4, Key: /registry/pods/default/p, ResourceVersion: 0, ` +
		`AdditionalErrorMsg: Precondition failed: UID in precondition: other, UID in object meta: ` + string(created.UID)
	if !apierrors.IsConflict(err) || err.Error() != want {
		t.Fatalf("got %v, want 409 %q", err, want)
	}
}
