package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/terminus-project/terminus/internal/storage/memory"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// newTestRegistry runs a registry over a memory store with a default
// namespace; capacity and bufferSize shrink every watch cache.
func newTestRegistry(t testing.TB, capacity, bufferSize int) (*Registry, *Store) {
	t.Helper()
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(memory.Options{})
	reg, err := New(Config{Storage: st, Scheme: scheme, Resources: BuiltinResources()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range reg.builtin {
		s.cache.capacity, s.cache.bufferSize = capacity, bufferSize
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
	cms, _ := reg.Store(corev1.SchemeGroupVersion.WithResource("configmaps"))
	return reg, cms
}

func createCM(t *testing.T, s *Store, name string) *corev1.ConfigMap {
	t.Helper()
	obj, err := s.Create(context.Background(), "default", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*corev1.ConfigMap)
}

func TestWatchFromEvictedRevisionIsTooOld(t *testing.T) {
	_, cms := newTestRegistry(t, 4, 64)
	first := createCM(t, cms, "c0")
	for i := 1; i < 10; i++ {
		createCM(t, cms, fmt.Sprintf("c%d", i))
	}
	last := createCM(t, cms, "c10")
	ctx := context.Background()
	// The cache has seen c10; waitFor makes sure before asking.
	if err := cms.cache.waitFor(ctx, mustRV(t, last.ResourceVersion)); err != nil {
		t.Fatal(err)
	}
	_, err := cms.Watch(ctx, "default", WatchOptions{ListOptions: ListOptions{ListOptions: metav1.ListOptions{ResourceVersion: first.ResourceVersion}}})
	var startErr *WatchStartError
	if !errors.As(err, &startErr) || !apierrors.IsResourceExpired(startErr.Err) {
		t.Fatalf("I10: watch from an evicted revision gave %v, want 410 Expired inside the stream", err)
	}
	// Within the window every later event arrives, in order.
	from := mustRV(t, last.ResourceVersion) - 3
	w, err := cms.Watch(ctx, "default", WatchOptions{ListOptions: ListOptions{ListOptions: metav1.ListOptions{ResourceVersion: strconv.FormatInt(from, 10)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for want := from + 1; want <= mustRV(t, last.ResourceVersion); want++ {
		ev := recv(t, w)
		if got := mustRV(t, ev.Object.(*corev1.ConfigMap).ResourceVersion); ev.Type != watch.Added || got != want {
			t.Fatalf("got %s at %d, want ADDED at %d", ev.Type, got, want)
		}
	}
}

func TestSlowWatcherIsEndedNotBlocking(t *testing.T) {
	_, cms := newTestRegistry(t, 1024, 2)
	ctx := context.Background()
	w, err := cms.Watch(ctx, "default", WatchOptions{ListOptions: ListOptions{ListOptions: metav1.ListOptions{ResourceVersion: "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Nobody reads w: writes must go on regardless.
	for i := 0; i < 50; i++ {
		createCM(t, cms, fmt.Sprintf("s%d", i))
	}
	// The watcher was ended: its channel drains what it had and closes.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("slow watcher was neither ended nor fed")
		}
	}
}

func TestWatchListInitialEventsEnd(t *testing.T) {
	_, cms := newTestRegistry(t, 1024, 64)
	createCM(t, cms, "a")
	createCM(t, cms, "b")
	ctx := context.Background()
	w, err := cms.Watch(ctx, "default", WatchOptions{ListOptions: ListOptions{ListOptions: metav1.ListOptions{
		SendInitialEvents: ptr.To(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, name := range []string{"a", "b"} {
		if ev := recv(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != name {
			t.Fatalf("I8: got %s %s, want ADDED %s", ev.Type, ev.Object.(*corev1.ConfigMap).Name, name)
		}
	}
	ev := recv(t, w)
	bm := ev.Object.(*corev1.ConfigMap)
	if ev.Type != watch.Bookmark || bm.Annotations[InitialEventsEndAnnotation] != "true" || bm.Name != "" {
		t.Fatalf("I8/I9: got %s %+v, want a bare BOOKMARK with the annotation", ev.Type, bm.ObjectMeta)
	}
	c := createCM(t, cms, "c")
	if ev := recv(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).ResourceVersion != c.ResourceVersion {
		t.Fatalf("live event after the bookmark: %s", ev.Type)
	}
}

func recv(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return watch.Event{}
}

func mustRV(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBookmarksNeverSkipQueuedEvents: a bookmark sent while events are
// still queued for the watcher must not carry a version past them, or the
// client resumes after events it never saw (spec I4, I9).
func TestBookmarksNeverSkipQueuedEvents(t *testing.T) {
	_, cms := newTestRegistry(t, 4096, 4096)
	ctx := context.Background()
	w, err := cms.Watch(ctx, "default", WatchOptions{
		ListOptions:    ListOptions{ListOptions: metav1.ListOptions{ResourceVersion: strconv.FormatInt(cms.cache.currentRev(), 10), AllowWatchBookmarks: true}},
		BookmarkPeriod: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const n = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			createCM(t, cms, fmt.Sprintf("b%d", i))
		}
	}()
	seen, lastRV := 0, int64(0)
	for seen < n {
		ev := recv(t, w)
		rv := mustRV(t, ev.Object.(*corev1.ConfigMap).ResourceVersion)
		switch ev.Type {
		case watch.Added:
			if rv <= lastRV {
				t.Fatalf("ADDED at %d after a bookmark or event at %d", rv, lastRV)
			}
			seen++
		case watch.Bookmark:
			if rv < lastRV {
				t.Fatalf("bookmark went back to %d from %d", rv, lastRV)
			}
		}
		lastRV = rv
	}
	<-done
}
