package registry

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func setPhase(t *testing.T, pods *Store, name string, phase corev1.PodPhase) {
	t.Helper()
	_, err := pods.Update(context.Background(), "default", name, func(obj runtime.Object) (runtime.Object, error) {
		p := obj.(*corev1.Pod)
		p.Status.Phase = phase
		return p, nil
	}, UpdateOptions{Subresource: "status"})
	if err != nil {
		t.Fatal(err)
	}
}

func eviction(name string, opts *metav1.DeleteOptions) *policyv1.Eviction {
	return &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name}, DeleteOptions: opts}
}

func scheduled(p *corev1.Pod) { p.Spec.NodeName = "n1" }
func held(p *corev1.Pod)      { p.Finalizers = []string{"example.com/hold"} }

func TestEvict(t *testing.T) {
	ctx := context.Background()
	disruption := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI",
		Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(bindingStart)}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		phase    corev1.PodPhase
		urlName  string
		eviction func(created *corev1.Pod) *policyv1.Eviction
		dryRun   []string
		wantCode int32
		wantMsg  string
		// gone: the pod was removed; otherwise wantGrace is its deletion
		// grace (nil: not terminating).
		gone      bool
		wantGrace *int64
		wantCond  bool
	}{
		{name: "G1 an unscheduled pod goes at once", pod: testPod("p"), eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("p", nil) }, gone: true},
		{name: "G1 a held unscheduled pod is marked with grace 0 and the DisruptionTarget condition", pod: testPod("p", held),
			eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("p", nil) }, wantGrace: ptr.To[int64](0), wantCond: true},
		{name: "G2 a running pod gets its termination grace", pod: testPod("p", scheduled), phase: corev1.PodRunning,
			eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("p", nil) }, wantGrace: ptr.To[int64](30), wantCond: true},
		{name: "the Eviction's grace is used", pod: testPod("p", scheduled), phase: corev1.PodRunning,
			eviction: func(*corev1.Pod) *policyv1.Eviction {
				return eviction("p", &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](5)})
			}, wantGrace: ptr.To[int64](5), wantCond: true},
		{name: "a scheduled Pending pod is deleted gracefully", pod: testPod("p", scheduled),
			eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("p", nil) }, wantGrace: ptr.To[int64](30), wantCond: true},
		{name: "G1 a terminal pod goes at once", pod: testPod("p", scheduled), phase: corev1.PodSucceeded,
			eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("p", nil) }, gone: true},
		{name: "J1 a missing pod is 404", urlName: "nope", eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("nope", nil) },
			wantCode: 404, wantMsg: `pods "nope" not found`},
		{name: "the URL names another pod", pod: testPod("p"), urlName: "other",
			eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("p", nil) },
			wantCode: 400, wantMsg: "name in URL does not match name in Eviction object"},
		{name: "ignoreStoreReadErrorWithClusterBreakingPotential is refused", pod: testPod("p"),
			eviction: func(*corev1.Pod) *policyv1.Eviction {
				return eviction("p", &metav1.DeleteOptions{IgnoreStoreReadErrorWithClusterBreakingPotential: ptr.To(true)})
			},
			wantCode: 422, wantMsg: `Eviction.policy "p" is invalid: deleteOptions.ignoreStoreReadErrorWithClusterBreakingPotential: Invalid value: true: can not be set for pod eviction, try after removing the option`},
		{name: "dry run in the request and the options must agree", pod: testPod("p"), dryRun: []string{"All"},
			eviction: func(*corev1.Pod) *policyv1.Eviction {
				return eviction("p", &metav1.DeleteOptions{DryRun: []string{"Other"}})
			},
			wantCode: 500, wantMsg: "Non-matching dry-run options in request and content: [All] and [Other]"},
		{name: "a dry run changes nothing", pod: testPod("p", scheduled), phase: corev1.PodRunning, dryRun: []string{"All"},
			eviction: func(*corev1.Pod) *policyv1.Eviction { return eviction("p", nil) }},
		{name: "B4 a uid precondition that does not match", pod: testPod("p", scheduled), phase: corev1.PodRunning,
			eviction: func(*corev1.Pod) *policyv1.Eviction {
				return eviction("p", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("other"))}})
			}, wantCode: 409},
		{name: "B4 a stale resourceVersion precondition is not retried", pod: testPod("p", scheduled), phase: corev1.PodRunning,
			eviction: func(*corev1.Pod) *policyv1.Eviction {
				return eviction("p", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: ptr.To("1")}})
			}, wantCode: 409},
		{name: "a matching resourceVersion precondition evicts", pod: testPod("p", scheduled), phase: corev1.PodRunning,
			eviction: func(created *corev1.Pod) *policyv1.Eviction {
				return eviction("p", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: ptr.To(created.ResourceVersion)}})
			}, wantGrace: ptr.To[int64](30), wantCond: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, pods, _ := newPodRegistry(t)
			var created *corev1.Pod
			if tc.pod != nil {
				mustCreatePod(t, pods, tc.pod)
				if tc.phase != "" {
					setPhase(t, pods, tc.pod.Name, tc.phase)
				}
				obj, err := pods.Get(ctx, "default", tc.pod.Name, "")
				if err != nil {
					t.Fatal(err)
				}
				created = obj.(*corev1.Pod)
			}
			ev := tc.eviction(created)
			urlName := tc.urlName
			if urlName == "" {
				urlName = ev.Name
			}
			err := pods.Evict(ctx, "default", urlName, ev, tc.dryRun)
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
			obj, err := pods.Get(ctx, "default", ev.Name, "")
			if tc.gone {
				if !apierrors.IsNotFound(err) {
					t.Fatalf("pod still there (%v)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := obj.(*corev1.Pod)
			switch {
			case tc.wantGrace == nil && got.DeletionTimestamp != nil:
				t.Fatalf("pod is terminating (grace %v)", got.DeletionGracePeriodSeconds)
			case tc.wantGrace != nil && (got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != *tc.wantGrace):
				t.Fatalf("deletion grace %v, want %d", got.DeletionGracePeriodSeconds, *tc.wantGrace)
			case tc.wantGrace != nil && !got.DeletionTimestamp.Time.Equal(bindingStart.Add(time.Duration(*tc.wantGrace)*time.Second)):
				t.Fatalf("deletionTimestamp %v", got.DeletionTimestamp)
			}
			hasCond := false
			for _, c := range got.Status.Conditions {
				if c.Type == corev1.DisruptionTarget {
					hasCond = true
					if !apiequality.Semantic.DeepEqual(c, disruption) {
						t.Errorf("condition %+v, want %+v", c, disruption)
					}
				}
			}
			if hasCond != tc.wantCond {
				t.Errorf("DisruptionTarget condition present %v, want %v", hasCond, tc.wantCond)
			}
		})
	}
}

func TestEvictUIDPreconditionMessage(t *testing.T) {
	_, pods, _ := newPodRegistry(t)
	created := mustCreatePod(t, pods, testPod("p", scheduled))
	setPhase(t, pods, "p", corev1.PodRunning)
	err := pods.Evict(context.Background(), "default", "p",
		eviction("p", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("other"))}}), nil)
	want := `Operation cannot be fulfilled on Pod "p": the UID in the precondition (other) does not match the UID in record (` +
		string(created.UID) + `). The object might have been deleted and then recreated`
	if !apierrors.IsConflict(err) || err.Error() != want {
		t.Fatalf("got %v, want 409 %q", err, want)
	}
}
