package apiserver

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/terminus-project/terminus/internal/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
)

// bookmarkPeriod is how often a watch that allows bookmarks gets one
// (spec I9: about once a minute).
const bookmarkPeriod = time.Minute

// watch serves a watch stream (spec I3–I11): a 200 chunked stream of
// {"type","object"} frames in the negotiated format; errors that upstream
// reports inside the stream (I10's 410, I1's 504) come as one ERROR event.
func (h *resourceHandler) watch(w http.ResponseWriter, r *http.Request) {
	lo, err := h.listOptions(r, true)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	out, err := h.s.negotiate(r, resourceRestrictions{})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if out.info.StreamSerializer == nil {
		h.s.writeError(w, r, errNotAcceptableStream(out.info.MediaType))
		return
	}
	timeout := h.s.cfg.MinWatchTimeout
	timeout += time.Duration(rand.Int64N(int64(timeout)))
	if lo.TimeoutSeconds != nil {
		timeout = time.Duration(*lo.TimeoutSeconds) * time.Second
	}
	ctx := r.Context()
	wi, err := h.store.Watch(ctx, h.info.namespace, registry.WatchOptions{ListOptions: lo, BookmarkPeriod: bookmarkPeriod})
	var startErr *registry.WatchStartError
	if err != nil && !errors.As(err, &startErr) {
		h.s.writeError(w, r, err)
		return
	}
	framer := out.info.StreamSerializer.Framer
	streamEnc := streaming.NewEncoder(framer.NewFrameWriter(w), out.info.StreamSerializer.Serializer)
	w.Header().Set("Content-Type", out.info.MediaType+";stream=watch")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	var buf bytes.Buffer
	noHeaders := false
	emit := func(ev watch.Event) bool {
		obj := ev.Object
		if ev.Type != watch.Error {
			t, err := h.s.transform(r, h.res, out.convert, obj, noHeaders)
			if err != nil {
				obj = toStatus(err)
				ev.Type = watch.Error
			} else {
				obj = t
				if out.convert != nil && out.convert.Kind == "Table" {
					noHeaders = true
				}
			}
		}
		setKind(h.s, obj)
		buf.Reset()
		if err := h.s.encode(out, obj, &buf); err != nil {
			h.s.log.Error("encoding watch event", "err", err)
			return false
		}
		frame := &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: buf.Bytes()}}
		if err := streamEnc.Encode(frame); err != nil {
			return false
		}
		flush()
		return true
	}
	if startErr != nil {
		emit(watch.Event{Type: watch.Error, Object: toStatus(startErr.Err)})
		return
	}
	defer wi.Stop()
	flush()
	timer := h.s.clock.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			if !emit(ev) {
				return
			}
		}
	}
}

func errNotAcceptableStream(mediaType string) error {
	return notAcceptable("the server does not support streaming " + mediaType)
}
