package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// elector is one client-go leader-election candidate over a Lease.
type elector struct {
	id      string
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	leading bool
	led     bool // ever became leader
}

func (e *elector) isLeading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// runElector starts a candidate for the Lease default/le-test; release
// says whether it gives the lease up when stopped (ReleaseOnCancel).
func runElector(t *testing.T, cs kubernetes.Interface, id string, release bool) *elector {
	t.Helper()
	e := &elector{id: id, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: "le-test", Namespace: "default"},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: release,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				e.mu.Lock()
				e.leading, e.led = true, true
				e.mu.Unlock()
			},
			OnStoppedLeading: func() {
				e.mu.Lock()
				e.leading = false
				e.mu.Unlock()
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(e.done)
		le.Run(ctx)
	}()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *elector) stop() {
	e.cancel()
	<-e.done
}

// TestLeaderElection: client-go leader election over a coordination.k8s.io
// Lease works against terminus (issue 8): one leader of two candidates;
// when the leader releases the lease the other takes over at once, and
// when a leader dies without releasing it the other takes over once the
// lease has expired; leaseTransitions counts the handovers.
func TestLeaderElection(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--storage=memory")
	cs := s.clientset(t)
	ctx := t.Context()

	a := runElector(t, cs, "a", true)
	eventually(t, 30*time.Second, func() error {
		if !a.isLeading() {
			return errNotYet("a not leading")
		}
		return nil
	})
	b := runElector(t, cs, "b", false)
	c := runElector(t, cs, "c", false)
	// b and c campaign against a lease a renews: the Lease must name a
	// until it lets go.
	eventually(t, 10*time.Second, func() error {
		l, err := cs.CoordinationV1().Leases("default").Get(ctx, "le-test", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "a" {
			t.Fatalf("lease taken from a live leader: %v", l.Spec.HolderIdentity)
		}
		if l.Spec.RenewTime == nil || time.Since(l.Spec.RenewTime.Time) > 2*time.Second {
			return errNotYet("a has not renewed yet")
		}
		return nil
	})
	if b.isLeading() || c.isLeading() {
		t.Fatal("two leaders at once")
	}

	a.stop() // releases the lease
	var next, other *elector
	eventually(t, 10*time.Second, func() error {
		switch {
		case b.isLeading() && c.isLeading():
			t.Fatal("two leaders at once")
		case b.isLeading():
			next, other = b, c
		case c.isLeading():
			next, other = c, b
		default:
			return errNotYet("no new leader")
		}
		return nil
	})
	lease, err := cs.CoordinationV1().Leases("default").Get(ctx, "le-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != next.id || lease.Spec.LeaseTransitions == nil || *lease.Spec.LeaseTransitions != 1 {
		t.Errorf("lease after the first handover: holder %v transitions %v", lease.Spec.HolderIdentity, lease.Spec.LeaseTransitions)
	}

	// The new leader dies without releasing: the other waits out the lease.
	died := time.Now()
	next.stop()
	eventually(t, 20*time.Second, func() error {
		if !other.isLeading() {
			return errNotYet("no takeover")
		}
		return nil
	})
	if d := time.Since(died); d < 2*time.Second {
		t.Errorf("took over %v after the leader died, before its 3 s lease could expire", d)
	}
	lease, err = cs.CoordinationV1().Leases("default").Get(ctx, "le-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != other.id || *lease.Spec.LeaseTransitions != 2 {
		t.Errorf("lease after the takeover: holder %v transitions %v", *lease.Spec.HolderIdentity, *lease.Spec.LeaseTransitions)
	}
}
