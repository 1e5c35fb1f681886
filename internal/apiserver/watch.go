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
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
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
	out, err := h.s.negotiate(r, restrictionsFor(h.res))
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if out.info.StreamSerializer == nil {
		mediaTypes, _ := negotiation.MediaTypesForSerializer(h.s.codecs)
		h.s.writeError(w, r, negotiation.NewNotAcceptableError(mediaTypes))
		return
	}
	timeout := h.s.cfg.MinWatchTimeout
	timeout += time.Duration(rand.Int64N(int64(timeout)))
	if lo.TimeoutSeconds != nil && *lo.TimeoutSeconds > 0 {
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
	noHeaders := false
	// Plain objects and PartialObjectMetadata encode the same for every
	// watcher; Tables depend on this watcher's header state.
	shared := out.convert == nil || out.convert.Kind == "PartialObjectMetadata"
	format := out.info.MediaType
	if out.convert != nil {
		format += ";as=" + out.convert.Kind
	}
	if out.pretty {
		format += ";pretty"
	}
	encodeEvent := func(obj runtime.Object) ([]byte, error) {
		var buf bytes.Buffer
		if err := h.s.encode(out, obj, &buf); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	emit := func(ev watch.Event) bool {
		var raw []byte
		var err error
		switch {
		case ev.Type == watch.Error:
			raw, err = encodeEvent(shallowWithKind(h.s, ev.Object))
		case shared && ev.Type != watch.Bookmark:
			raw, err = h.s.watchEncodings.get(ev.Object, format, func() ([]byte, error) {
				t, err := h.s.transform(r, h.res, out.convert, ev.Object, false)
				if err != nil {
					return nil, err
				}
				t = shallowWithKind(h.s, t)
				return encodeEvent(t)
			})
		default:
			var t runtime.Object
			t, err = h.s.transform(r, h.res, out.convert, ev.Object, noHeaders)
			if err == nil {
				if out.convert != nil && out.convert.Kind == "Table" {
					noHeaders = true
				}
				t = shallowWithKind(h.s, t)
				raw, err = encodeEvent(t)
			}
		}
		if err != nil {
			ev.Type = watch.Error
			raw, err = encodeEvent(toStatus(err))
			if err != nil {
				h.s.log.Error("encoding watch event", "err", err)
				return false
			}
		}
		frame := &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: raw}}
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
