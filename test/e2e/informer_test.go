package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clientfeatures "k8s.io/client-go/features"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// recordingTransport remembers every request URL and response content type.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []string
	cts  []string
	next http.RoundTripper
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.RequestURI())
	if err == nil {
		r.cts = append(r.cts, resp.Header.Get("Content-Type"))
	}
	return resp, err
}

func (r *recordingTransport) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

func (r *recordingTransport) contentTypes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cts...)
}

func recordingConfig(cfg *rest.Config) (*rest.Config, *recordingTransport) {
	cfg = rest.CopyConfig(cfg)
	rt := &recordingTransport{}
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper { rt.next = next; return rt })
	return cfg, rt
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

type informerEvent struct {
	op, name, value, rv string
}

// TestInformerWatchList runs a SharedInformerFactory (WatchList on, spec I8)
// and checks that it sees every add, update and delete, in order per object.
func TestInformerWatchList(t *testing.T) {
	t.Parallel()
	if !clientfeatures.FeatureGates().Enabled(clientfeatures.WatchListClient) {
		t.Fatalf("client-go feature WatchListClient is off; this test needs it on (it is the v0.37 default, or set KUBE_FEATURE_WatchListClient=true)")
	}
	// No controllers: the informer must see exactly the test's objects
	// (the root CA publisher would add kube-root-ca.crt).
	s := startServer(t, "--controllers=-*")
	cfg, rec := recordingConfig(s.restConfig(t))
	cs := kubernetes.NewForConfigOrDie(cfg)
	const ns = "informer"
	createNamespace(t, cs, ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Objects that exist before the informer starts come in the initial events.
	for i := 0; i < 3; i++ {
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pre-%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	events := make(chan informerEvent, 1000)
	send := func(op string, obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
			op += "(final state unknown)"
		}
		cm := obj.(*corev1.ConfigMap)
		events <- informerEvent{op: op, name: cm.Name, value: cm.Data["v"], rv: cm.ResourceVersion}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().ConfigMaps().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { send("add", obj) },
		UpdateFunc: func(_, obj any) { send("update", obj) },
		DeleteFunc: func(obj any) { send("delete", obj) },
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	defer func() {
		cancel() // Shutdown waits for the informers, which stop on ctx
		factory.Shutdown()
	}()
	syncCtx, syncCancel := context.WithTimeout(ctx, 30*time.Second)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
		t.Fatalf("informer did not sync within 30s; requests: %q", rec.requests())
	}
	// The informer must have synced through a streaming list, not LIST.
	var sawWatchList bool
	for _, r := range rec.requests() {
		if !strings.HasPrefix(r, "GET ") || !strings.Contains(r, "/configmaps") {
			continue
		}
		u, _ := url.Parse(strings.SplitN(r, " ", 2)[1])
		q := u.Query()
		if q.Get("watch") != "true" && q.Get("watch") != "1" {
			t.Errorf("informer fell back to a plain LIST: %s", r)
		} else if q.Get("sendInitialEvents") == "true" && q.Get("resourceVersionMatch") == "NotOlderThan" && q.Get("allowWatchBookmarks") == "true" {
			sawWatchList = true
		}
	}
	if !sawWatchList {
		t.Errorf("no WatchList request (sendInitialEvents=true) among %q", rec.requests())
	}
	for i := 0; i < 3; i++ {
		select {
		case e := <-events:
			if e.op != "add" || !strings.HasPrefix(e.name, "pre-") {
				t.Errorf("initial event %d: got %+v, want an add of pre-*", i, e)
			}
		default:
			t.Fatalf("synced informer delivered only %d of 3 initial adds", i)
		}
	}

	const n = 15
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("cm-%02d", i)
			c := cs.CoreV1().ConfigMaps(ns)
			cm, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			for v := 1; v <= 2; v++ {
				cm.Data["v"] = strconv.Itoa(v)
				if cm, err = c.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
					errs <- err
					return
				}
			}
			if err := c.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A sentinel written last: once the informer has seen it, it has seen
	// everything before it (I4), so nothing may be missing or extra.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "zz-sentinel"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	perObject := map[string][]informerEvent{}
	timeout := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case e := <-events:
			if e.name == "zz-sentinel" {
				done = true
				continue
			}
			perObject[e.name] = append(perObject[e.name], e)
		case <-timeout:
			t.Fatalf("the informer did not see the sentinel within 30s; so far: %v", perObject)
		}
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("cm-%02d", i)
		var got []string
		lastRV := int64(0)
		for _, e := range perObject[name] {
			got = append(got, e.op+":"+e.value)
			rv, err := strconv.ParseInt(e.rv, 10, 64)
			if err != nil || rv <= lastRV {
				t.Errorf("%s: resourceVersions not increasing: %v", name, perObject[name])
			}
			lastRV = rv
		}
		if want := "add:0 update:1 update:2 delete:2"; strings.Join(got, " ") != want {
			t.Errorf("%s: events %q, want %q", name, strings.Join(got, " "), want)
		}
	}
	if len(perObject) != n {
		t.Errorf("events for %d objects, want %d: %v", len(perObject), n, perObject)
	}
	if keys := inf.GetStore().ListKeys(); len(keys) != 4 {
		t.Errorf("informer store: %v, want the 3 pre-* objects and the sentinel", keys)
	}
}

type rawEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// rawWatch opens a watch with the admin token and returns a channel of its
// events; the channel closes when the stream ends.
func rawWatch(t *testing.T, s *server, ctx context.Context, path string) (int, <-chan rawEvent) {
	t.Helper()
	a := s.api(t, false)
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("watch %s: %v", path, err)
	}
	ch := make(chan rawEvent, 1000)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			var e rawEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = rawEvent{Type: "UNPARSEABLE", Object: json.RawMessage(strconvQuote(sc.Text()))}
			}
			ch <- e
		}
	}()
	return resp.StatusCode, ch
}

func strconvQuote(s string) string { return strconv.Quote(s) }

func next(t *testing.T, ch <-chan rawEvent, timeout time.Duration) (rawEvent, bool) {
	t.Helper()
	select {
	case e, ok := <-ch:
		return e, ok
	case <-time.After(timeout):
		t.Fatalf("no watch event within %v", timeout)
	}
	return rawEvent{}, false
}

type objMeta struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name            string            `json:"name"`
		ResourceVersion string            `json:"resourceVersion"`
		Annotations     map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func meta(t *testing.T, e rawEvent) objMeta {
	t.Helper()
	var m objMeta
	if err := json.Unmarshal(e.Object, &m); err != nil {
		t.Fatalf("event object: %v: %s", err, e.Object)
	}
	return m
}

// TestRawWatch checks the watch protocol on the wire: I8, I4 and I10.
func TestRawWatch(t *testing.T) {
	t.Parallel()
	// Exact event sequences: the root CA publisher would add its
	// ConfigMap to the namespace under test.
	s := startServer(t, "--storage=memory", "--controllers=-*")
	cs := s.clientset(t)
	const ns = "rawwatch"
	createNamespace(t, cs, ns)
	ctx := context.Background()
	const k = 5
	maxRV := int64(0)
	for i := 0; i < k; i++ {
		cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rv, _ := strconv.ParseInt(cm.ResourceVersion, 10, 64)
		maxRV = max(maxRV, rv)
	}
	base := "/api/v1/namespaces/" + ns + "/configmaps"

	t.Run("I8 streaming list ends with one initial-events-end bookmark", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		code, ch := rawWatch(t, s, wctx, base+"?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
		if code != 200 {
			t.Fatalf("HTTP %d", code)
		}
		seen := map[string]bool{}
		for i := 0; i < k; i++ {
			e, ok := next(t, ch, 10*time.Second)
			if !ok || e.Type != "ADDED" {
				t.Fatalf("initial event %d: got %s %s, want ADDED", i, e.Type, e.Object)
			}
			seen[meta(t, e).Metadata.Name] = true
		}
		if len(seen) != k {
			t.Errorf("initial ADDED events named %v, want %d distinct objects", seen, k)
		}
		e, ok := next(t, ch, 10*time.Second)
		if !ok || e.Type != "BOOKMARK" {
			t.Fatalf("after the initial events: got %s %s, want BOOKMARK", e.Type, e.Object)
		}
		m := meta(t, e)
		rv, err := strconv.ParseInt(m.Metadata.ResourceVersion, 10, 64)
		if err != nil || rv < maxRV {
			t.Errorf("bookmark resourceVersion %q, want >= %d", m.Metadata.ResourceVersion, maxRV)
		}
		want := fmt.Sprintf(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":%q,"annotations":{"k8s.io/initial-events-end":"true"}}}`, m.Metadata.ResourceVersion)
		if string(e.Object) != want {
			t.Errorf("bookmark object:\n got %s\nwant %s", e.Object, want)
		}
		// Then live events, and no second bookmark before them.
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		e, ok = next(t, ch, 10*time.Second)
		if !ok || e.Type != "ADDED" || meta(t, e).Metadata.Name != "live" {
			t.Errorf("live event: got %s %s, want ADDED live", e.Type, e.Object)
		}
		if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e, ok = next(t, ch, 10*time.Second)
		if !ok || e.Type != "DELETED" || meta(t, e).Metadata.Name != "live" {
			t.Errorf("live event: got %s %s, want DELETED live", e.Type, e.Object)
		}
	})

	t.Run("C5 finalizer removal gives a single DELETED", func(t *testing.T) {
		c := cs.CoreV1().ConfigMaps(ns)
		cm, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fin", Finalizers: []string{"e2e.terminus.dev/hold"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, "fin", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		cm, err = c.Get(ctx, "fin", metav1.GetOptions{})
		if err != nil || cm.DeletionTimestamp == nil {
			t.Fatalf("terminating object: %v %+v", err, cm)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		code, ch := rawWatch(t, s, wctx, base+"?watch=1&fieldSelector=metadata.name%3Dfin&resourceVersion="+cm.ResourceVersion)
		if code != 200 {
			t.Fatalf("HTTP %d", code)
		}
		cm.Finalizers = nil
		if _, err := c.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e, ok := next(t, ch, 10*time.Second)
		if !ok || e.Type != "DELETED" {
			t.Fatalf("C5: got %s %s, want a single DELETED", e.Type, e.Object)
		}
		var got corev1.ConfigMap
		if err := json.Unmarshal(e.Object, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Finalizers) != 1 || got.Finalizers[0] != "e2e.terminus.dev/hold" || mustInt(t, got.ResourceVersion) <= mustInt(t, cm.ResourceVersion) {
			t.Errorf("C5/I5: DELETED object has finalizers %v and resourceVersion %s; want the old finalizer and a version above %s",
				got.Finalizers, got.ResourceVersion, cm.ResourceVersion)
		}
	})

	t.Run("I4/I10 watch from resourceVersion 1", func(t *testing.T) {
		// The server has no flag to compact its history, so a too-old
		// version cannot be forced from outside. A watch from "1" must then
		// either replay the whole history (I4: it does upstream on a young
		// cluster) or, if history was compacted, be a 200 stream holding a
		// single ERROR event with a 410 Expired Status (I10).
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		code, ch := rawWatch(t, s, wctx, base+"?watch=1&resourceVersion=1")
		if code != 200 {
			t.Fatalf("I10: HTTP %d, want 200 in every case", code)
		}
		e, ok := next(t, ch, 10*time.Second)
		if !ok {
			t.Fatal("stream ended without an event")
		}
		if e.Type == "ERROR" {
			var st metav1.Status
			if err := json.Unmarshal(e.Object, &st); err != nil {
				t.Fatal(err)
			}
			if st.Kind != "Status" || st.Status != "Failure" || st.Code != 410 || st.Reason != "Expired" ||
				!(strings.HasPrefix(st.Message, "too old resource version: 1 (") || st.Message == "The resourceVersion for the provided watch is too old.") {
				t.Errorf("I10: ERROR event %s", e.Object)
			}
			if e, ok := next(t, ch, 10*time.Second); ok {
				t.Errorf("I10: event after the ERROR: %s %s", e.Type, e.Object)
			}
			t.Logf("server compacted: got the I10 ERROR event")
			return
		}
		// I4: full replay in commit order.
		var got []string
		for i := 0; ; i++ {
			if e.Type != "ADDED" {
				t.Fatalf("I4: replay event %d: %s %s, want ADDED", i, e.Type, e.Object)
			}
			got = append(got, meta(t, e).Metadata.Name)
			if len(got) == k+1 { // c0..c4 and live
				break
			}
			if e, ok = next(t, ch, 10*time.Second); !ok {
				t.Fatalf("stream ended after %v", got)
			}
		}
		if want := "c0 c1 c2 c3 c4 live"; strings.Join(got, " ") != want {
			t.Errorf("I4: replay order %q, want %q", strings.Join(got, " "), want)
		}
		e, ok = next(t, ch, 10*time.Second)
		if !ok || e.Type != "DELETED" || meta(t, e).Metadata.Name != "live" {
			t.Errorf("I4: after the replayed ADDEDs: got %s %s, want DELETED live", e.Type, e.Object)
		}
	})
}

// TestProtobufClient creates, lists and watches ConfigMaps with a clientset
// speaking application/vnd.kubernetes.protobuf.
func TestProtobufClient(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--storage=memory")
	cfg, rec := recordingConfig(s.restConfig(t))
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ns = "proto"
	createNamespace(t, cs, ns)
	c := cs.CoreV1().ConfigMaps(ns)

	created, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "p1", Labels: map[string]string{"x": "y"}},
		Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"b": {0, 1, 2, 255}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.Data["k"] != "v" || string(created.BinaryData["b"]) != "\x00\x01\x02\xff" {
		t.Errorf("create answered %+v", created)
	}
	list, err := c.List(ctx, metav1.ListOptions{LabelSelector: "x=y"})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "p1" || list.Items[0].UID != created.UID || list.ResourceVersion == "" {
		t.Errorf("list: %+v", list)
	}
	w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	if _, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "p2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended after %v", got)
			}
			if e.Type == watch.Error {
				t.Fatalf("watch error: %v", e.Object)
			}
			got = append(got, fmt.Sprintf("%s %s", e.Type, e.Object.(*corev1.ConfigMap).Name))
		case <-ctx.Done():
			t.Fatalf("watch: only %v", got)
		}
	}
	if strings.Join(got, ",") != "ADDED p2,DELETED p1" {
		t.Errorf("watch events %v, want [ADDED p2 DELETED p1]", got)
	}
	_, err = c.Get(ctx, "p1", metav1.GetOptions{})
	if err == nil || !strings.Contains(err.Error(), `configmaps "p1" not found`) {
		t.Errorf("get after delete: %v", err)
	}
	var proto int
	for _, ct := range rec.contentTypes() {
		if strings.HasPrefix(ct, "application/vnd.kubernetes.protobuf") {
			proto++
		}
	}
	if proto < 4 {
		t.Errorf("only %d responses were protobuf: %q", proto, rec.contentTypes())
	}
}
