package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/terminus-project/terminus/internal/storage/embedded"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func start(t testing.TB, cfg embedded.Config) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return srv
}

func closeServer(t testing.TB, srv *embedded.Server) {
	t.Helper()
	if err := srv.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestStartupTime measures Start on a fresh data directory until the
// member is ready, and a restart on the same directory. The figure quoted
// in the package comment comes from here (go test -run TestStartupTime -v).
func TestStartupTime(t *testing.T) {
	dir := t.TempDir()
	begin := time.Now()
	srv := start(t, embedded.Config{DataDir: dir})
	fresh := time.Since(begin)
	ctx := t.Context()
	if _, err := srv.Client().Put(ctx, "/k", "v"); err != nil {
		t.Fatal(err)
	}
	closeServer(t, srv)

	begin = time.Now()
	srv = start(t, embedded.Config{DataDir: dir})
	restart := time.Since(begin)
	defer closeServer(t, srv)
	t.Logf("ready after %v on a fresh directory, %v on restart", fresh, restart)
}

// TestRestartKeepsData: Close is clean and every acknowledged write is on
// disk when a new server opens the directory.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	srv := start(t, embedded.Config{DataDir: dir})
	ctx := t.Context()
	var last int64
	for i := range 50 {
		resp, err := srv.Client().Put(ctx, fmt.Sprintf("/k/%02d", i), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		last = resp.Header.Revision
	}
	// A watch open during Close must not hold it up.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv.Client().Watch(wctx, "/k/", clientv3.WithPrefix())
	closeServer(t, srv)
	if err := srv.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	srv = start(t, embedded.Config{DataDir: dir})
	defer closeServer(t, srv)
	resp, err := srv.Client().Get(ctx, "/k/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 50 || resp.Header.Revision != last {
		t.Fatalf("after restart: %d keys at revision %d, want 50 at %d", len(resp.Kvs), resp.Header.Revision, last)
	}
}

// TestTwoServersInParallel: single members open no port, so any number
// can run side by side.
func TestTwoServersInParallel(t *testing.T) {
	a := start(t, embedded.Config{DataDir: t.TempDir()})
	defer closeServer(t, a)
	b := start(t, embedded.Config{DataDir: t.TempDir()})
	defer closeServer(t, b)
	ctx := t.Context()
	if _, err := a.Client().Put(ctx, "/x", "a"); err != nil {
		t.Fatal(err)
	}
	resp, err := b.Client().Get(ctx, "/x")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 0 {
		t.Fatal("two servers share data")
	}
}

// TestLogging: etcd's entries reach the slog.Logger given, nothing else.
func TestLogging(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := start(t, embedded.Config{DataDir: t.TempDir(), Logger: log, Verbose: true})
	closeServer(t, srv)
	if !strings.Contains(buf.String(), "level=INFO") {
		t.Fatalf("no etcd info entries in a verbose log:\n%s", buf.String())
	}

	buf.Reset()
	srv = start(t, embedded.Config{DataDir: t.TempDir(), Logger: log})
	closeServer(t, srv)
	if s := buf.String(); s != "" {
		t.Fatalf("a healthy start and stop logged at error level:\n%s", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// freePorts reserves n loopback ports by listening on port 0 and
// releasing them just before use. Another process could take one in
// between; on loopback in a test run that is rare enough.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	ls := make([]net.Listener, n)
	for i := range ls {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// TestThreeMemberCluster starts three members on loopback peer ports,
// writes through one member and reads through another.
func TestThreeMemberCluster(t *testing.T) {
	ports := freePorts(t, 3)
	names := []string{"m0", "m1", "m2"}
	var initial []string
	for i, name := range names {
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", name, ports[i]))
	}
	t0 := time.Now()
	servers := make([]*embedded.Server, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i := range names {
		wg.Go(func() {
			servers[i], errs[i] = embedded.Start(ctx, embedded.Config{
				DataDir:        t.TempDir(),
				Name:           names[i],
				PeerURLs:       []string{fmt.Sprintf("http://127.0.0.1:%d", ports[i])},
				InitialCluster: strings.Join(initial, ","),
				// Three members on one possibly busy machine (-race):
				// a little more slack than the single-member default.
				TickMs:     20,
				ElectionMs: 200,
			})
		})
	}
	wg.Wait()
	defer func() {
		// Followers first, together, then the leader: a leader that
		// closes first hands leadership over (etcd waits for that), and
		// each Close waits up to 1 s for its peer connections to drain.
		var wg sync.WaitGroup
		var leader *embedded.Server
		for _, s := range servers {
			switch {
			case s == nil:
			case s.IsLeader():
				leader = s
			default:
				wg.Go(func() { closeServer(t, s) })
			}
		}
		wg.Wait()
		if leader != nil {
			closeServer(t, leader)
		}
	}()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %s: %v", names[i], err)
		}
	}

	// About 2 s: etcd probes each peer for an existing cluster with a
	// fixed 1 s timeout before bootstrapping a new one.
	t.Logf("3 members ready after %v", time.Since(t0))
	put, err := servers[0].Client().Put(ctx, "/cluster/k", "v")
	if err != nil {
		t.Fatal(err)
	}
	// A linearizable read through another member sees the write.
	got, err := servers[2].Client().Get(ctx, "/cluster/k")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "v" || got.Kvs[0].ModRevision != put.Header.Revision {
		t.Fatalf("read through m2: %v", got.Kvs)
	}
	members, err := servers[1].Client().MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 3 {
		t.Fatalf("%d members, want 3", len(members.Members))
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]embedded.Config{
		"no data dir":            {},
		"cluster without peers":  {DataDir: t.TempDir(), InitialCluster: "a=http://127.0.0.1:1"},
		"election below 5 ticks": {DataDir: t.TempDir(), TickMs: 100, ElectionMs: 200},
		"bad peer URL":           {DataDir: t.TempDir(), PeerURLs: []string{"::"}},
	} {
		t.Run(name, func(t *testing.T) {
			if srv, err := embedded.Start(t.Context(), cfg); err == nil {
				srv.Close()
				t.Fatal("no error")
			}
		})
	}
}

// BenchmarkStart measures Start to ready on a fresh directory (fsync on).
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		srv := start(b, embedded.Config{DataDir: b.TempDir()})
		b.StopTimer()
		closeServer(b, srv)
		b.StartTimer()
	}
}
