package job

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

// The integration tests start servers and controllers; the binary fails
// if a test leaves a goroutine behind.
func TestMain(m *testing.M) { storagetest.Main(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is a controller whose caches the test fills by hand and whose
// client is a fake recording the writes of one sync (a step test in the
// manner of upstream's job_controller_test.go).
type fixture struct {
	c      *Controller
	client *fake.Clientset
	rec    *record.FakeRecorder
	clk    *clocktesting.FakeClock
}

func newFixture(t *testing.T, live, cached []runtime.Object) *fixture {
	t.Helper()
	f := &fixture{client: fake.NewClientset(live...), rec: record.NewFakeRecorder(1000), clk: clocktesting.NewFakeClock(t0)}
	var n atomic.Int64
	f.client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, n.Add(1))
		}
		return false, nil, nil
	})
	c, err := New(Config{Client: f.client, Informers: informers.NewSharedInformerFactory(fake.NewClientset(), 0),
		Clock: f.clk, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.Close)
	t.Cleanup(c.orphans.Close)
	c.recorder = f.rec
	c.pods.Recorder = f.rec
	f.c = c
	for _, obj := range cached {
		f.cache(t, obj)
	}
	return f
}

func (f *fixture) cache(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch obj.(type) {
	case *corev1.Pod:
		err = f.c.podIndexer.Update(obj)
	default:
		err = f.c.jobIndexer.Update(obj)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sync runs one sync and returns its writes ("verb resource[/sub] [name]")
// and events.
func (f *fixture) sync(t *testing.T, key string) ([]string, []string, error) {
	t.Helper()
	f.client.ClearActions()
	err := f.c.sync(context.Background(), key)
	var writes []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		s := a.GetVerb() + " " + a.GetResource().Resource
		if sub := a.GetSubresource(); sub != "" {
			s += "/" + sub
		}
		switch a := a.(type) {
		case clienttesting.PatchAction:
			s += " " + a.GetName()
		case clienttesting.DeleteAction:
			s += " " + a.GetName()
		}
		writes = append(writes, s)
	}
	var events []string
	for {
		select {
		case e := <-f.rec.Events:
			events = append(events, e)
		default:
			return writes, events, err
		}
	}
}

// statuses returns the job statuses the last sync wrote, in order.
func (f *fixture) statuses() []batchv1.JobStatus {
	var out []batchv1.JobStatus
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok && a.GetSubresource() == "status" {
			out = append(out, u.GetObject().(*batchv1.Job).Status)
		}
	}
	return out
}

// created returns the pods in the fake API.
func (f *fixture) created(t *testing.T) []corev1.Pod {
	t.Helper()
	list, err := f.client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

type jobOpt func(*batchv1.Job)

func mkJob(completions, parallelism int32, opts ...jobOpt) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "uid-job", ResourceVersion: "1"},
		Spec: batchv1.JobSpec{
			Completions:  ptr.To(completions),
			Parallelism:  ptr.To(parallelism),
			BackoffLimit: ptr.To[int32](6),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "uid-job"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"batch.kubernetes.io/controller-uid": "uid-job", "batch.kubernetes.io/job-name": "pi"}},
				Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
			CompletionMode:       ptr.To(batchv1.NonIndexedCompletion),
			Suspend:              ptr.To(false),
			PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed),
		},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func backoffLimit(n int32) jobOpt { return func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To(n) } }

func indexed(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion) }

func suspend(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }

func started(at time.Time) jobOpt {
	return func(j *batchv1.Job) { j.Status.StartTime = ptr.To(metav1.NewTime(at)) }
}

func deadline(s int64) jobOpt {
	return func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To(s) }
}

func withStatus(s batchv1.JobStatus) jobOpt { return func(j *batchv1.Job) { j.Status = s } }

type podOpt func(*corev1.Pod)

// mkPod is a pod of the Job with the tracking finalizer.
func mkPod(name string, phase corev1.PodPhase, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ns", UID: types.UID("uid-" + name), ResourceVersion: "1",
			Labels:     map[string]string{"batch.kubernetes.io/controller-uid": "uid-job", "batch.kubernetes.io/job-name": "pi"},
			Finalizers: []string{batchv1.JobTrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "pi", UID: "uid-job",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		},
		Status: corev1.PodStatus{Phase: phase},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func noFinalizer(p *corev1.Pod) { p.Finalizers = nil }

func orphan(p *corev1.Pod) { p.OwnerReferences = nil }

func finishedAt(at time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at)}}}}
	}
}

func index(i string) podOpt {
	return func(p *corev1.Pod) {
		p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: i}
	}
}

func objs[T runtime.Object](items ...T) []runtime.Object {
	out := make([]runtime.Object, len(items))
	for i, o := range items {
		out[i] = o
	}
	return out
}
