package podgc

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// newTestController builds a controller whose informers list from cached
// and whose client is live, on a fake clock.
func newTestController(t *testing.T, cfg Config, cached, live []runtime.Object) (*Controller, *fake.Clientset, *clocktesting.FakeClock) {
	t.Helper()
	cacheClient := fake.NewClientset(cached...)
	liveClient := fake.NewClientset(live...)
	f := informers.NewSharedInformerFactory(cacheClient, 0)
	clk := clocktesting.NewFakeClock(t0)
	cfg.Client, cfg.Informers, cfg.Clock, cfg.Registerer = liveClient, f, clk, prometheus.NewRegistry()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		f.Shutdown()
	})
	f.Core().V1().Pods().Informer()
	f.Core().V1().Nodes().Informer()
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return c, liveClient, clk
}

// writes lists the writes a client received as "verb resource/subresource name".
func writes(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		verb := a.GetVerb()
		if verb == "list" || verb == "watch" {
			continue
		}
		s := verb + " " + a.GetResource().Resource
		if sub := a.GetSubresource(); sub != "" {
			s += "/" + sub
		}
		switch a := a.(type) {
		case clienttesting.GetAction:
			s += " " + a.GetName()
		case clienttesting.PatchAction:
			s += " " + a.GetName()
		case clienttesting.DeleteAction:
			s += " " + a.GetName()
		}
		out = append(out, s)
	}
	return out
}

func objs(pods ...*corev1.Pod) []runtime.Object {
	var out []runtime.Object
	for _, p := range pods {
		out = append(out, p)
	}
	return out
}

func TestPassOrphanedAfterQuarantine(t *testing.T) {
	ghost := mkPod("ghost", on("ghost-node"))
	c, client, clk := newTestController(t, Config{}, objs(ghost), objs(ghost))
	ctx := context.Background()

	c.pass(ctx)
	clk.Step(DefaultQuarantine - time.Second)
	c.pass(ctx)
	if w := writes(client); len(w) != 0 {
		t.Fatalf("F7 calls during the quarantine: %v", w)
	}
	clk.Step(time.Second)
	c.pass(ctx)
	want := []string{"get nodes ghost-node", "patch pods/status ghost", "delete pods ghost"}
	if diff := cmp.Diff(want, writes(client)); diff != "" {
		t.Fatalf("F7 calls after the quarantine (-want +got):\n%s", diff)
	}
	for _, a := range client.Actions() {
		switch a := a.(type) {
		case clienttesting.PatchAction:
			if want := `{"metadata":{"uid":"uid-ghost"},"status":{"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2026-01-01T00:00:40Z","message":"PodGC: node no longer exists","reason":"DeletionByPodGC","status":"True","type":"DisruptionTarget"}],"phase":"Failed"}}`; string(a.GetPatch()) != want {
				t.Errorf("F7 status patch = %s\nwant %s", a.GetPatch(), want)
			}
		case clienttesting.DeleteAction:
			o := a.GetDeleteOptions()
			if o.GracePeriodSeconds == nil || *o.GracePeriodSeconds != 0 {
				t.Errorf("F7 delete grace = %v, want 0", o.GracePeriodSeconds)
			}
			if o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID != ghost.UID {
				t.Errorf("delete preconditions = %v, want uid %s", o.Preconditions, ghost.UID)
			}
		}
	}
}

func TestPassNodeFoundByLiveGet(t *testing.T) {
	pod := mkPod("p", on("late"))
	c, client, clk := newTestController(t, Config{}, objs(pod), append(objs(pod), mkNode("late", true)))
	ctx := context.Background()
	c.pass(ctx)
	clk.Step(DefaultQuarantine)
	c.pass(ctx)
	if diff := cmp.Diff([]string{"get nodes late"}, writes(client)); diff != "" {
		t.Fatalf("F7 a node the live GET finds keeps its pods (-want +got):\n%s", diff)
	}
	// The node goes back into quarantine: the next pass does not GET again.
	c.pass(ctx)
	if n := len(writes(client)); n != 1 {
		t.Errorf("F7 the node was checked again before a new quarantine: %v", writes(client))
	}
	clk.Step(DefaultQuarantine)
	c.pass(ctx)
	if n := len(writes(client)); n != 2 {
		t.Errorf("F7 the node was not checked again after a new quarantine: %v", writes(client))
	}
}

func TestPassTerminatedAndUnscheduled(t *testing.T) {
	pods := []*corev1.Pod{
		mkPod("old", on("n"), inPhase(corev1.PodSucceeded)),
		mkPod("new", on("n"), inPhase(corev1.PodFailed), created(time.Minute)),
		mkPod("unscheduled", terminating, inPhase(corev1.PodPending)),
		mkPod("running", on("n")),
		// Both terminated (over the threshold) and unscheduled terminating:
		// deleted once.
		mkPod("both", terminating, inPhase(corev1.PodSucceeded), created(-time.Minute)),
	}
	nodes := []runtime.Object{mkNode("n", true)}
	c, client, _ := newTestController(t, Config{TerminatedPodThreshold: 1}, append(objs(pods...), nodes...), append(objs(pods...), nodes...))
	c.pass(context.Background())
	want := []string{
		"delete pods both", "delete pods old", // terminated beyond 1, oldest first (parallel: sorted below)
		"patch pods/status unscheduled", "delete pods unscheduled",
	}
	got := writes(client)
	if len(got) >= 2 && got[0] > got[1] {
		got[0], got[1] = got[1], got[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("F7 pass (-want +got):\n%s", diff)
	}
}

func TestPassOutOfService(t *testing.T) {
	pods := []*corev1.Pod{mkPod("stuck", on("oos"), terminating), mkPod("live", on("oos"))}
	nodes := []runtime.Object{mkNode("oos", false, corev1.TaintNodeOutOfService)}
	c, client, _ := newTestController(t, Config{}, append(objs(pods...), nodes...), append(objs(pods...), nodes...))
	c.pass(context.Background())
	want := []string{"patch pods/status stuck", "delete pods stuck"}
	if diff := cmp.Diff(want, writes(client)); diff != "" {
		t.Errorf("F7 out-of-service pass (-want +got):\n%s", diff)
	}
}

// TestRunPacesPassesOnTheClock checks that Run makes a pass at once and
// then one per period of the injected clock.
func TestRunPacesPassesOnTheClock(t *testing.T) {
	c, _, clk := newTestController(t, Config{Period: time.Minute}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	passes := func() float64 { return counterValue(t, c.metrics.passes) }
	waitFor(t, "the first pass", func() bool { return passes() == 1 && clk.HasWaiters() })
	clk.Step(59 * time.Second)
	if passes() != 1 {
		t.Fatal("a pass before the period ended")
	}
	clk.Step(time.Second)
	waitFor(t, "the second pass", func() bool { return passes() == 2 })
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}
