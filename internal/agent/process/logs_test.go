package process

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func logs(t *testing.T, c *Container, opts LogOptions) string {
	t.Helper()
	var out strings.Builder
	if err := c.WriteLogs(testCtx(t), opts, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func TestLogs(t *testing.T) {
	r := newRuntime(t)
	c, _ := start(t, r, "print:3")
	wait(t, c)

	// Each stream keeps its order; how the two interleave is up to the
	// scheduler, as in any runtime.
	all := logs(t, c, LogOptions{Tail: -1})
	var out, errs []string
	for _, l := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if strings.HasPrefix(l, "out") {
			out = append(out, l)
		} else {
			errs = append(errs, l)
		}
	}
	if diff := cmp.Diff([]string{"out 1", "out 2", "out 3"}, out); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"err 1", "err 2", "err 3"}, errs); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}

	if got := logs(t, c, LogOptions{Tail: -1, Stream: Stdout}); got != lines("out 1", "out 2", "out 3") {
		t.Errorf("stdout only: %q", got)
	}
	if got := logs(t, c, LogOptions{Tail: 2, Stream: Stderr}); got != lines("err 3") && got != lines("err 2", "err 3") && got != "" {
		t.Errorf("tail 2 of stderr: %q", got)
	}
	tail := logs(t, c, LogOptions{Tail: 2})
	if want := strings.Join(strings.SplitAfter(all, "\n")[4:], ""); tail != want {
		t.Errorf("tail 2 = %q, want the last two lines %q", tail, want)
	}
	if got := logs(t, c, LogOptions{Tail: 0}); got != "" {
		t.Errorf("tail 0 = %q, want nothing", got)
	}
	if got := logs(t, c, LogOptions{Tail: 100}); got != all {
		t.Errorf("tail 100 = %q, want all", got)
	}
	if got := logs(t, c, LogOptions{Tail: -1, LimitBytes: 8}); got != all[:8] {
		t.Errorf("limit 8 bytes = %q, want %q", got, all[:8])
	}

	stamped := logs(t, c, LogOptions{Tail: -1, Timestamps: true})
	var times []time.Time
	for _, l := range strings.Split(strings.TrimSuffix(stamped, "\n"), "\n") {
		ts, rest, _ := strings.Cut(l, " ")
		tm, err := time.Parse(timeFormat, ts)
		if err != nil || len(ts) != len("2006-01-02T15:04:05.000000000Z") {
			t.Fatalf("timestamp %q: %v", ts, err)
		}
		if !strings.HasPrefix(rest, "out") && !strings.HasPrefix(rest, "err") {
			t.Errorf("line %q", l)
		}
		times = append(times, tm)
	}
	since := times[len(times)-1]
	got := logs(t, c, LogOptions{Tail: -1, SinceTime: since})
	if !strings.HasSuffix(all, got) || got == "" {
		t.Errorf("since the last entry's time: %q", got)
	}
}

func TestLongLinesArePartial(t *testing.T) {
	r := newRuntime(t)
	n := 2*MaxLineBytes + 100
	c, _ := start(t, r, "long:"+strconv.Itoa(n))
	wait(t, c)

	raw, err := os.ReadFile(c.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	var sizes []int
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e, err := ParseLogLine(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		tag := "F"
		if e.Partial {
			tag = "P"
		}
		tags, sizes = append(tags, e.Stream+" "+tag), append(sizes, len(e.Content))
	}
	// A 16 KiB cut twice, the rest closing the line, then output that
	// ended without a newline: partial (containerd's behaviour).
	wantTags := []string{"stdout P", "stdout P", "stdout F", "stdout P"}
	wantSizes := []int{MaxLineBytes, MaxLineBytes, 100, 3}
	if diff := cmp.Diff(wantTags, tags); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSizes, sizes); diff != "" {
		t.Errorf("entry sizes (-want +got):\n%s", diff)
	}
	got := logs(t, c, LogOptions{Tail: -1})
	if len(got) != n+1+3 || got[n] != '\n' || !strings.HasSuffix(got, "\nend") {
		t.Errorf("reassembled: %d bytes, ending %q", len(got), got[max(0, len(got)-10):])
	}
}

// syncBuffer is a strings.Builder safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func TestLogsFollow(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "follow:3")
	waitEvent(t, rec, "ready", 1)
	// The program printed its lines; the shim copies them asynchronously.
	waitFor(t, "line 3 in the log", func() bool { return fileContains(c.LogPath(), "line 3") })

	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- c.WriteLogs(testCtx(t), LogOptions{Tail: 1, Follow: true}, &out) }()
	waitFor(t, "the tail of the log", func() bool { return out.String() == lines("line 3") })
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Follow ends by itself once the container has exited and its log
	// is read.
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != lines("line 3", "bye") {
		t.Errorf("followed %q", got)
	}
}

func TestLogsFollowEndsWithContext(t *testing.T) {
	r := newRuntime(t)
	c, rec := start(t, r, "follow:1")
	waitEvent(t, rec, "ready", 1)
	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- c.WriteLogs(ctx, LogOptions{Tail: -1, Follow: true}, &out) }()
	waitFor(t, "the log", func() bool { return out.String() == lines("line 1") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow ended by its context: %v, want nil", err)
	}
}

func TestParseLogLine(t *testing.T) {
	ts := time.Date(2026, 11, 23, 0, 24, 35, 123456789, time.UTC)
	for _, tc := range []struct {
		line string
		want LogEntry
		ok   bool
	}{
		{"2026-11-23T00:24:35.123456789Z stdout F hello world", LogEntry{Time: ts, Stream: Stdout, Content: []byte("hello world")}, true},
		{"2026-11-23T00:24:35.123456789Z stderr P part", LogEntry{Time: ts, Stream: Stderr, Partial: true, Content: []byte("part")}, true},
		{"2026-11-23T00:24:35.123456789Z stdout F ", LogEntry{Time: ts, Stream: Stdout, Content: []byte{}}, true},
		{"2026-11-23T00:24:35.123456789+00:00 stdout F x", LogEntry{Time: ts, Stream: Stdout, Content: []byte("x")}, true},
		{"nonsense", LogEntry{}, false},
		{"2026-11-23T00:24:35Z stdin F x", LogEntry{}, false},
		{"2026-11-23T00:24:35Z stdout X x", LogEntry{}, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := ParseLogLine([]byte(tc.line))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if !got.Time.Equal(tc.want.Time) || got.Stream != tc.want.Stream || got.Partial != tc.want.Partial || string(got.Content) != string(tc.want.Content) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The writer side, without processes: CRLF is trimmed as containerd does.
func TestLogWriterCRLF(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	w := &logWriter{f: f, now: func() time.Time { return time.Unix(0, 0) }}
	if err := w.copy(strings.NewReader("a\r\nb\n"), Stdout); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	b, _ := os.ReadFile(f.Name())
	want := "1970-01-01T00:00:00.000000000Z stdout F a\n1970-01-01T00:00:00.000000000Z stdout F b\n"
	if string(b) != want {
		t.Errorf("log %q, want %q", b, want)
	}
}
