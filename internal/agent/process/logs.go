package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The container log is in the CRI log format kubelet reads
// (k8s.io/cri-api/pkg/apis/runtime/v1 "logging format"), one entry a line:
//
//	2026-11-23T00:24:35.123456789Z stdout F hello
//
// timestamp (RFC 3339, nanoseconds, UTC), stream, tag (F: the line ends
// here; P: partial, the line goes on in the next entry) and the content
// without its newline. A line longer than MaxLineBytes is cut into P
// entries and a final F, as containerd does; output that ends without a
// newline is written as P. kubectl logs' options (--tail, --since-time,
// --timestamps, -f, --limit-bytes) are served from this file by WriteLogs;
// --previous reads the previous attempt's directory.

// MaxLineBytes is the longest content of one entry (containerd's default
// max_container_log_line_size, 16 KiB).
const MaxLineBytes = 16 * 1024

// timeFormat is RFC 3339 with nine fraction digits always, so entries
// line up; it is what kubelet prints for kubectl logs --timestamps.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Streams of a log entry.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// logWriter writes entries of both streams to the log file; each entry is
// one write, so a reader never sees half an entry except at the very end
// of a file still being written.
type logWriter struct {
	mu  sync.Mutex
	f   *os.File
	now func() time.Time
	buf []byte
}

func (w *logWriter) entry(stream string, partial bool, content []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	tag := " F "
	if partial {
		tag = " P "
	}
	w.buf = w.now().UTC().AppendFormat(w.buf[:0], timeFormat)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, stream...)
	w.buf = append(w.buf, tag...)
	w.buf = append(w.buf, content...)
	w.buf = append(w.buf, '\n')
	_, err := w.f.Write(w.buf)
	return err
}

// copy copies r (a program's stdout or stderr) into the log until EOF.
func (w *logWriter) copy(r io.Reader, stream string) error {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
			if werr := w.entry(stream, false, line); werr != nil {
				return werr
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := w.entry(stream, true, line); werr != nil {
				return werr
			}
		default:
			if len(line) > 0 {
				if werr := w.entry(stream, true, line); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// LogEntry is one line of a container log.
type LogEntry struct {
	Time   time.Time
	Stream string
	// Partial: the line goes on in the next entry of the same stream.
	Partial bool
	Content []byte
}

// ParseLogLine parses one line of a CRI log, without its newline.
func ParseLogLine(line []byte) (LogEntry, error) {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return LogEntry{}, fmt.Errorf("log line %q: no timestamp", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return LogEntry{}, fmt.Errorf("log line %q: %w", line, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != Stdout && string(stream) != Stderr) {
		return LogEntry{}, fmt.Errorf("log line %q: bad stream", line)
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(tag) != "F" && string(tag) != "P") {
		return LogEntry{}, fmt.Errorf("log line %q: bad tag", line)
	}
	return LogEntry{Time: t, Stream: string(stream), Partial: string(tag) == "P", Content: content}, nil
}

// LogOptions are kubectl logs' options, as kubelet applies them.
type LogOptions struct {
	// Tail is the number of entries from the end to start with; < 0 means
	// all (kubectl's default -1). Counted before SinceTime, as kubelet
	// does.
	Tail int64
	// SinceTime skips entries written before it; zero means none.
	SinceTime time.Time
	// Follow keeps writing new entries until the container has exited
	// and its log is read to the end, or ctx ends.
	Follow bool
	// Timestamps prefixes each entry with its time.
	Timestamps bool
	// LimitBytes stops after that many bytes; 0 means no limit.
	LimitBytes int64
	// Stream selects Stdout or Stderr; "" means both.
	Stream string
}

// errLimit ends writing at LimitBytes; it is not an error to the caller.
var errLimit = errors.New("log byte limit reached")

// WriteLogs writes the log of the container in dir to w, formatted as
// kubelet serves it for kubectl logs: each entry's content, a newline
// after F entries (P entries run on into the next), and with Timestamps
// the entry's time first.
func WriteLogs(ctx context.Context, dir string, opts LogOptions, w io.Writer) error {
	return writeLogs(ctx, dir, &logOutput{w: w, opts: opts, remaining: opts.LimitBytes})
}

// writeLogs is WriteLogs to out, which may split the streams (Attach).
func writeLogs(ctx context.Context, dir string, out *logOutput) error {
	opts := out.opts
	var watch *dirWatch
	if opts.Follow {
		// Watch before reading, so no change between the last read and
		// the wait is missed.
		var err error
		if watch, err = watchDir(dir); err != nil {
			return err
		}
		defer func() { _ = watch.close() }()
	}
	f, err := os.Open(filepath.Join(dir, LogFile))
	if err != nil {
		return fmt.Errorf("container log: %w", err)
	}
	defer func() { _ = f.Close() }()
	if opts.Tail >= 0 {
		off, err := tailOffset(f, opts.Tail)
		if err != nil {
			return err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("container log: %w", err)
		}
	}
	br := bufio.NewReaderSize(f, 64*1024)
	var pending []byte // an entry not yet complete (still being written)
	for {
		line, err := br.ReadSlice('\n')
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			pending = append(pending, line...)
			if err == nil {
				werr := out.line(pending[:len(pending)-1])
				pending = pending[:0]
				if errors.Is(werr, errLimit) {
					return nil
				}
				if werr != nil {
					return werr
				}
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("container log: %w", err)
		}
		pending = append(pending, line...)
		if !opts.Follow {
			return nil
		}
		// At the end: done once the container has exited, since the shim
		// writes exit.json only after the last log entry; one more pass
		// reads what came in meanwhile.
		if _, err := os.Stat(filepath.Join(dir, exitFile)); err == nil {
			if out.finishing {
				return nil
			}
			out.finishing = true
			continue
		}
		if err := watch.wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // the client went away: not the log's error
			}
			return err
		}
	}
}

type logOutput struct {
	w io.Writer
	// split, if set, writes each stream to its own writer instead of w (a
	// stream without one is dropped).
	split     map[string]io.Writer
	opts      LogOptions
	remaining int64
	finishing bool
	buf       []byte
}

func (o *logOutput) line(line []byte) error {
	e, err := ParseLogLine(line)
	if err != nil {
		return nil // a torn or foreign line: kubelet skips those too
	}
	if o.opts.Stream != "" && e.Stream != o.opts.Stream {
		return nil
	}
	if !o.opts.SinceTime.IsZero() && e.Time.Before(o.opts.SinceTime) {
		return nil
	}
	o.buf = o.buf[:0]
	if o.opts.Timestamps {
		o.buf = e.Time.UTC().AppendFormat(o.buf, timeFormat)
		o.buf = append(o.buf, ' ')
	}
	o.buf = append(o.buf, e.Content...)
	if !e.Partial {
		o.buf = append(o.buf, '\n')
	}
	b := o.buf
	limited := false
	if o.opts.LimitBytes > 0 && int64(len(b)) >= o.remaining {
		b, limited = b[:o.remaining], true
	}
	o.remaining -= int64(len(b))
	w := o.w
	if o.split != nil {
		if w = o.split[e.Stream]; w == nil {
			return nil
		}
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	if limited {
		return errLimit
	}
	return nil
}

// tailOffset returns where the last n complete entries of f begin, reading
// backwards from the end so a long log is not read whole. An incomplete
// last entry (still being written) is not counted.
func tailOffset(f *os.File, n int64) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("container log: %w", err)
	}
	end := fi.Size()
	buf := make([]byte, 32*1024)
	var seen int64 // newlines seen, the one ending the last entry included
	for pos := end; pos > 0; {
		size := min(int64(len(buf)), pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil {
			return 0, fmt.Errorf("container log: %w", err)
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			seen++
			if seen == n+1 {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}
