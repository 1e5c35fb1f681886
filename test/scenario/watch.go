package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Event is one decoded watch event.
type Event struct {
	Type string
	Obj  Obj
}

func (e Event) String() string { return e.Type + " " + js(e.Obj) }

// Watch is a raw watch stream on one collection.
type Watch struct {
	h    *H
	path string
	ch   chan Event
}

// eventTimeout bounds the wait for an expected event.
const eventTimeout = 15 * time.Second

// Watch opens GET path?watch=1&resourceVersion=rv (path may carry a query
// already) and reads its events until the scenario ends.
func (h *H) Watch(path, rv string) *Watch {
	h.Helper()
	return h.watch(path, rv, nil)
}

// watch is Watch keeping only the events keep accepts (nil: all).
func (h *H) watch(path, rv string, keep func(Event) bool) *Watch {
	h.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	full := path + sep + "watch=1&resourceVersion=" + rv
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", h.base+full, nil)
	if err != nil {
		cancel()
		h.Fatal(err)
	}
	req.Header.Set("Accept", jsonType)
	resp, err := h.hc.Do(req)
	if err != nil {
		cancel()
		h.Fatalf("watch %s: %v", full, err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		cancel()
		h.Fatalf("watch %s: HTTP %d", full, resp.StatusCode)
	}
	w := &Watch{h: h, path: path, ch: make(chan Event, 256)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(w.ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var raw struct {
				Type   string `json:"type"`
				Object Obj    `json:"object"`
			}
			if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
				raw.Type, raw.Object = "UNPARSEABLE", Obj{"line": sc.Text()}
			}
			e := Event{Type: raw.Type, Obj: raw.Object}
			if keep != nil && !keep(e) {
				continue
			}
			select {
			case w.ch <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	h.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// Next returns the next event, failing the scenario if none comes in time.
func (w *Watch) Next() Event {
	w.h.Helper()
	select {
	case e, ok := <-w.ch:
		if !ok {
			w.h.Fatalf("watch %s ended unexpectedly", w.path)
		}
		return e
	case <-time.After(eventTimeout):
		w.h.Fatalf("watch %s: no event within %v", w.path, eventTimeout)
	}
	return Event{}
}

// Expect wants the next event to be of type typ for the object named name,
// and returns its object.
func (w *Watch) Expect(typ, name string) Obj {
	w.h.Helper()
	e := w.Next()
	if e.Type != typ || Name(e.Obj) != name {
		w.h.Fatalf("watch %s: want %s %q, got %s", w.path, typ, name, e)
	}
	return e.Obj
}

// Quiet proves that no event is pending on the stream: it creates sentinel
// in the watched collection and wants its ADDED to be the very next event.
// Watches deliver events in commit order (I4), so anything written before
// the sentinel would show up first.
func (w *Watch) Quiet(why string, sentinel Obj) {
	w.h.Helper()
	coll := w.path
	if i := strings.Index(coll, "?"); i >= 0 {
		coll = coll[:i]
	}
	w.h.Create(coll, sentinel)
	name := Name(sentinel)
	e := w.Next()
	if e.Type != "ADDED" || Name(e.Obj) != name {
		w.h.Fatalf("%s: want no watch event, got %s", why, e)
	}
}
