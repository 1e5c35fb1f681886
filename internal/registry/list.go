package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/terminus-project/terminus/internal/registry/fieldsel"
	"github.com/terminus-project/terminus/internal/storage"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// ListOptions are metav1.ListOptions with parsed selectors.
type ListOptions struct {
	metav1.ListOptions
	Labels labels.Selector
	Fields fields.Selector
}

// matcher returns the predicate for the options' selectors.
func (s *Store) matcher(lo ListOptions) func(runtime.Object) bool {
	ls, fs := lo.Labels, lo.Fields
	if ls == nil {
		ls = labels.Everything()
	}
	if fs == nil {
		fs = fields.Everything()
	}
	if ls.Empty() && fs.Empty() {
		return func(runtime.Object) bool { return true }
	}
	return func(obj runtime.Object) bool {
		m := obj.(metav1.Object)
		if !ls.Matches(labels.Set(m.GetLabels())) {
			return false
		}
		if fs.Empty() {
			return true
		}
		if cv := s.res.Custom; cv != nil {
			return fs.Matches(cv.SelectableFields(obj.(*unstructured.Unstructured)))
		}
		return fs.Matches(fieldsel.Fields(obj))
	}
}

// continueToken is the opaque continue parameter, shaped like
// kube-apiserver's: the list's revision and the next key to read,
// relative to the resource's prefix.
type continueToken struct {
	APIVersion string `json:"v"`
	Revision   int64  `json:"rv"`
	StartKey   string `json:"start"`
}

func encodeContinue(rev int64, nextKey string) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", Revision: rev, StartKey: nextKey})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, fmt.Errorf("continue key is not valid: %w", err)
	}
	if err := json.Unmarshal(b, &t); err != nil || t.APIVersion != "meta.k8s.io/v1" || t.Revision <= 0 {
		return t, errors.New("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if strings.Contains(t.StartKey, "..") || strings.HasPrefix(t.StartKey, "/") {
		return t, errors.New("continue key is not valid: invalid start key")
	}
	return t, nil
}

// List answers a LIST with spec I1–I2's resourceVersion semantics: "0" from
// the watch cache, "" a consistent read from storage, N with
// NotOlderThan from the cache once it has reached N, N with Exact a
// storage read at N; limit and continue page through storage at one
// revision.
func (s *Store) List(ctx context.Context, ns string, lo ListOptions) (runtime.Object, error) {
	match := s.matcher(lo)
	prefix := s.prefix(ns)
	rv := lo.ResourceVersion
	switch {
	case lo.Continue != "":
		tok, err := decodeContinue(lo.Continue)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if !hasPrefix(s.res.KeyPrefix+"/"+tok.StartKey, prefix) {
			// A token from another namespace's list.
			return nil, apierrors.NewBadRequest("continue key is not valid: key does not lie in the requested namespace")
		}
		return s.listStorage(ctx, prefix, tok.Revision, s.res.KeyPrefix+"/"+tok.StartKey, lo.Limit, match, true)
	case rv == "0" || (rv != "" && lo.ResourceVersionMatch != metav1.ResourceVersionMatchExact):
		if rv != "0" {
			n, err := parseRV(rv)
			if err != nil {
				return nil, err
			}
			if err := s.cache.waitFor(ctx, n); err != nil {
				return nil, err
			}
		}
		return s.listCache(prefix, match)
	case rv != "":
		n, err := parseRV(rv)
		if err != nil {
			return nil, err
		}
		return s.listStorage(ctx, prefix, n, "", lo.Limit, match, false)
	default:
		return s.listStorage(ctx, prefix, 0, "", lo.Limit, match, false)
	}
}

func (s *Store) listCache(prefix string, match func(runtime.Object) bool) (runtime.Object, error) {
	keys, objs, rev := s.cache.snapshot()
	var items []runtime.Object
	for i, k := range keys {
		if hasPrefix(k, prefix) && match(objs[i]) {
			items = append(items, objs[i])
		}
	}
	list := s.res.NewList()
	if err := setListItems(list, items); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	list.(metav1.ListInterface).SetResourceVersion(strconv.FormatInt(rev, 10))
	return list, nil
}

// listStorage reads pages from storage at one revision until limit
// matching items are found (as kube-apiserver's etcd3 store does), and
// returns a continue token when more remain.
func (s *Store) listStorage(ctx context.Context, prefix string, rev int64, start string, limit int64, match func(runtime.Object) bool, continuing bool) (runtime.Object, error) {
	var items []runtime.Object
	var next string
	for {
		res, err := s.storage.List(ctx, prefix, storage.ListOptions{Revision: rev, Limit: limit, StartKey: start})
		if err != nil {
			if errors.Is(err, storage.ErrCompacted) {
				if continuing {
					return nil, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
				}
				return nil, apierrors.NewResourceExpired("The resourceVersion for the provided list is too old.")
			}
			if errors.Is(err, storage.ErrFutureRevision) {
				cur, _ := s.storage.CurrentRevision(ctx)
				return nil, tooLargeResourceVersion(rev, cur)
			}
			return nil, s.storageError(err, "")
		}
		rev = res.Revision
		for i, kv := range res.KVs {
			obj, err := s.decodeKV(kv)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if !match(obj) {
				continue
			}
			items = append(items, obj)
			if limit > 0 && int64(len(items)) == limit {
				if i < len(res.KVs)-1 || res.More {
					next = kv.Key + "\x00"
				}
				break
			}
		}
		if next != "" || !res.More || (limit > 0 && int64(len(items)) == limit) {
			break
		}
		start = res.KVs[len(res.KVs)-1].Key + "\x00"
	}
	list := s.res.NewList()
	if err := setListItems(list, items); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	lm := list.(metav1.ListInterface)
	lm.SetResourceVersion(strconv.FormatInt(rev, 10))
	if next != "" {
		lm.SetContinue(encodeContinue(rev, strings.TrimPrefix(next, s.res.KeyPrefix+"/")))
	}
	return list, nil
}

func parseRV(rv string) (int64, error) {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %s", rv))
	}
	return n, nil
}

// WatchOptions configure a watch.
type WatchOptions struct {
	ListOptions
	// BookmarkPeriod is how often bookmarks are sent when
	// allowWatchBookmarks is set (spec I9: about once a minute).
	BookmarkPeriod time.Duration
}

// Watch starts a watch with spec I3–I11's semantics, served from the watch
// cache. Errors that upstream sends inside a 200 stream (I10 too old, the
// 504 of I1) are returned as *WatchStartError so the apiserver can do the
// same.
func (s *Store) Watch(ctx context.Context, ns string, wo WatchOptions) (watch.Interface, error) {
	lo := wo.ListOptions
	req := watchRequest{
		prefix:         s.prefix(ns),
		filter:         s.matcher(lo),
		bookmarks:      lo.AllowWatchBookmarks,
		bookmarkPeriod: wo.BookmarkPeriod,
	}
	rv := lo.ResourceVersion
	sendInitial := lo.SendInitialEvents
	switch {
	case sendInitial != nil:
		// The apiserver has validated the options (spec I8's 422).
		req.initialEvents = *sendInitial
		req.initialEventsEnd = *sendInitial && lo.AllowWatchBookmarks
	case rv == "" || rv == "0":
		// Spec I7: synthetic ADDED for every existing object; with
		// bookmarks allowed, the end is marked as in I8.
		req.initialEvents = true
		req.initialEventsEnd = lo.AllowWatchBookmarks
	}
	switch {
	case rv == "" && req.initialEvents:
		// A consistent start: the cache must have caught up with storage.
		cur, err := s.storage.CurrentRevision(ctx)
		if err != nil {
			return nil, s.storageError(err, "")
		}
		if err := s.cache.waitFor(ctx, cur); err != nil {
			return nil, &WatchStartError{Err: err}
		}
	case rv != "" && rv != "0":
		n, err := parseRV(rv)
		if err != nil {
			return nil, err
		}
		if err := s.cache.waitFor(ctx, n); err != nil {
			return nil, &WatchStartError{Err: err}
		}
		req.fromRev = n
	default:
		req.fromRev = s.cache.currentRev()
	}
	w, err := s.cache.watch(ctx, req)
	var tooOld errTooOld
	if errors.As(err, &tooOld) {
		return nil, &WatchStartError{Err: apierrors.NewResourceExpired(tooOld.Error())}
	}
	if err != nil {
		return nil, err
	}
	return w, nil
}

// WatchStartError is an error upstream reports as an ERROR event inside a
// 200 watch stream rather than as an HTTP error (spec I10).
type WatchStartError struct{ Err error }

func (e *WatchStartError) Error() string { return e.Err.Error() }
func (e *WatchStartError) Unwrap() error { return e.Err }

func listItems(list runtime.Object) ([]runtime.Object, error) {
	return meta.ExtractList(list)
}

func setListItems(list runtime.Object, items []runtime.Object) error {
	if items == nil {
		items = []runtime.Object{}
	}
	return meta.SetList(list, items)
}
