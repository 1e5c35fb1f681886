package fieldmanager

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/utils/clock"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/yaml"
)

// Config describes the resource and subresource a Manager tracks.
type Config struct {
	// TypeConverter knows the schema of GVK: NewBuiltinTypeConverter's for
	// built-in kinds, one built from the CRD's schema for custom resources.
	TypeConverter managedfields.TypeConverter
	// Scheme converts, defaults and creates built-in objects. Unused when
	// Custom is set.
	Scheme *runtime.Scheme
	// GVK is the kind stored and served; it is also the hub version, since
	// terminus has no internal versions.
	GVK schema.GroupVersionKind
	// Subresource is "" for the main resource, else "status", "scale", ...
	Subresource string
	// ResetFields are the fields the strategy resets on this subresource
	// (upstream's GetResetFields), keyed by "group/version": for a main
	// resource with a status subresource, status; for the status
	// subresource, everything but status. They are never owned by a
	// manager of this subresource and never conflict on it.
	ResetFields map[fieldpath.APIVersion]*fieldpath.Set
	// Custom marks a custom resource: objects are *unstructured.Unstructured
	// and the manager is upstream's CRD field manager.
	Custom bool
	// Defaulter defaults the object an apply produces, as upstream runs the
	// kind's defaulters there. Nil means the scheme's (which has none for
	// k8s.io/api types) for built-in kinds and none for custom resources.
	Defaulter runtime.ObjectDefaulter
	// Clock stamps managedFields entries. Nil means the real clock.
	Clock clock.PassiveClock
	// Logger receives ownership failures that Update does not return (see
	// Update). Nil discards them.
	Logger *slog.Logger
}

// Manager tracks field ownership for one kind on one subresource. It is
// safe for concurrent use.
type Manager struct {
	fm *managedfields.FieldManager
	// tc, strip and reset serve createFast; tc is nil where it must not
	// be used (subresources, custom resources).
	tc        managedfields.TypeConverter
	strip     *fieldpath.Set
	reset     fieldpath.Filter
	emptyOnce sync.Once
	empty     *typed.TypedValue
	emptyErr  error
	creater   runtime.ObjectCreater
	gvk       schema.GroupVersionKind
	clock     clock.PassiveClock
	logger    *slog.Logger
}

// New returns the Manager that upstream's handlers would install for
// cfg's resource and subresource.
func New(cfg Config) (*Manager, error) {
	if cfg.TypeConverter == nil {
		return nil, errors.New("fieldmanager: Config.TypeConverter is required")
	}
	if cfg.GVK.Kind == "" || cfg.GVK.Version == "" {
		return nil, fmt.Errorf("fieldmanager: Config.GVK %v is incomplete", cfg.GVK)
	}
	var filter map[fieldpath.APIVersion]fieldpath.Filter
	if len(cfg.ResetFields) > 0 {
		filter = fieldpath.NewExcludeFilterSetMap(cfg.ResetFields)
	}
	hub := cfg.GVK.GroupVersion()
	m := &Manager{gvk: cfg.GVK, clock: cfg.Clock, logger: cfg.Logger, strip: fieldpath.NewSet(stripPaths...)}
	if cfg.Subresource == "" && !cfg.Custom {
		m.tc = cfg.TypeConverter
		if f, ok := filter[fieldpath.APIVersion(cfg.GVK.GroupVersion().String())]; ok {
			m.reset = f
		}
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if cfg.Custom {
		defaulter := cfg.Defaulter
		if defaulter == nil {
			defaulter = noDefaults{}
		}
		m.creater = unstructuredCreater{}
		m.fm, err = managedfields.NewDefaultCRDFieldManager(cfg.TypeConverter, unstructuredConverter{}, defaulter, m.creater, cfg.GVK, hub, cfg.Subresource, filter)
	} else {
		if cfg.Scheme == nil {
			return nil, errors.New("fieldmanager: Config.Scheme is required for built-in kinds")
		}
		if !cfg.Scheme.Recognizes(cfg.GVK) {
			return nil, fmt.Errorf("fieldmanager: scheme does not know %v", cfg.GVK)
		}
		var defaulter runtime.ObjectDefaulter = cfg.Scheme
		if cfg.Defaulter != nil {
			defaulter = cfg.Defaulter
		}
		m.creater = cfg.Scheme
		m.fm, err = managedfields.NewDefaultFieldManager(cfg.TypeConverter, newBuiltinConverter(cfg.Scheme), defaulter, m.creater, cfg.GVK, hub, cfg.Subresource, filter)
	}
	if err != nil {
		return nil, fmt.Errorf("fieldmanager: %v: %w", cfg.GVK, err)
	}
	return m, nil
}

// New returns an empty object of the manager's kind: the live object of a
// create, or of an apply that creates.
func (m *Manager) New() (runtime.Object, error) {
	obj, err := m.creater.New(m.gvk)
	if err != nil {
		return nil, fmt.Errorf("fieldmanager: new %v: %w", m.gvk, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(m.gvk)
	return obj, nil
}

// Update records manager's ownership of what a non-apply write (create,
// update, JSON/merge/strategic patch) changed, as operation Update; on
// create liveObj is an empty object of the kind (New). newObj is returned
// with metadata.managedFields updated.
//
// As upstream's handlers (UpdateNoErrors), a failure to compute ownership
// never fails the write: newObj is returned with liveObj's managedFields
// and the failure goes to the logger. The error result is for misuse only
// (nil objects). managedFields that the client sent in newObj are used if
// they decode (a client may edit them), ignored for the live ones if they
// do not, and an empty list (or one empty entry) resets them; on a
// subresource they are always taken from liveObj. Ownership is capped at
// ten update managers, the oldest merged into "ancient-changes" entries.
//
// newObj is modified. liveObj is only read, except that an object without
// apiVersion and kind gets the manager's written into it.
func (m *Manager) Update(liveObj, newObj runtime.Object, manager string) (runtime.Object, error) {
	if liveObj == nil || newObj == nil {
		return nil, errors.New("fieldmanager: Update needs both the live and the new object")
	}
	origLive := liveObj
	off := m.offset()
	if off != 0 {
		liveObj = shiftedCopy(liveObj, -off)
		shiftTimes(newObj, -off)
	}
	var buf [8]time.Time
	inputs := appendTimes(appendTimes(buf[:0], liveObj), newObj)
	before := time.Now()
	obj, err := m.fm.Update(liveObj, newObj, manager)
	if err != nil {
		m.logger.Error("managedFields not updated; keeping the live object's", "kind", m.gvk.String(), "manager", manager, "err", err)
		if liveAcc, aerr := meta.Accessor(origLive); aerr == nil {
			if newAcc, aerr := meta.Accessor(newObj); aerr == nil {
				newAcc.SetManagedFields(liveAcc.GetManagedFields())
			}
		}
		return newObj, nil
	}
	m.fixTimes(obj, before, inputs, off)
	return obj, nil
}

// Apply applies a server-side apply patch (the body of an
// application/apply-patch+yaml request: YAML or JSON) for manager and
// returns the merged object with metadata.managedFields updated. liveObj
// is the stored object, or nil (or an empty object of the kind) when the
// apply creates.
//
// Errors are *apierrors.StatusError as upstream's handler would send them:
// 409 with reason Conflict and one FieldManagerConflict cause per field
// when another manager owns an applied field with a different value and
// force is false; 400 for a patch that does not decode, names another
// kind or version, or sets metadata.managedFields; a 500 with no reason
// and the library's message for a patch the schema rejects (upstream does
// not classify those either).
func (m *Manager) Apply(liveObj runtime.Object, patch []byte, manager string, force bool) (runtime.Object, error) {
	if liveObj == nil {
		var err error
		if liveObj, err = m.New(); err != nil {
			return nil, err
		}
	}
	// Upstream's patch handler transcodes the body to JSON first (for the
	// audit log), then the apply patcher decodes the original bytes; each
	// step has its own message.
	if _, err := yaml.YAMLToJSON(patch); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error encoding patch: %v", err))
	}
	patchObj := &unstructured.Unstructured{Object: map[string]any{}}
	if err := yaml.Unmarshal(patch, &patchObj.Object); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	off := m.offset()
	if off != 0 {
		liveObj = shiftedCopy(liveObj, -off)
	}
	var buf [8]time.Time
	inputs := appendTimes(buf[:0], liveObj)
	before := time.Now()
	obj, err := m.fm.Apply(liveObj, patchObj, manager, force)
	if err != nil {
		return nil, asStatusError(err)
	}
	m.fixTimes(obj, before, inputs, off)
	return obj, nil
}

// asStatusError returns err as the Status upstream's handler would send:
// status errors as they are, anything else as a 500 with the error's text
// and no reason (responsewriters.ErrorToAPIStatus).
//
// A conflict's causes are sorted by manager, keeping each manager's fields
// in path order: upstream lists them in map order, which differs from run
// to run; its message is already sorted this way.
func asStatusError(err error) error {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		if se.ErrStatus.Reason == metav1.StatusReasonConflict && se.ErrStatus.Details != nil {
			slices.SortStableFunc(se.ErrStatus.Details.Causes, func(a, b metav1.StatusCause) int {
				return strings.Compare(a.Message, b.Message)
			})
		}
		return err
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInternalServerError,
		Message: err.Error(),
	}}
}

// appendTimes appends the timestamps of obj's managedFields entries.
func appendTimes(times []time.Time, obj runtime.Object) []time.Time {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return times
	}
	for _, e := range acc.GetManagedFields() {
		if e.Time != nil {
			times = append(times, e.Time.Time)
		}
	}
	return times
}

// managedfields stamps entries with time.Now() and offers no clock hook,
// so times are corrected around each call:
//
//   - After the call, an entry carrying a time at or after before (taken
//     just ahead of the call) that none of the input entries had was
//     stamped by managedfields: it gets the injected clock's time, cut to
//     seconds as the API carries it. Entries it kept carry their old time,
//     and a capped "ancient-changes" bucket takes the time of an entry it
//     merged, so neither is touched.
//   - The cap on update managers merges the oldest entries, comparing the
//     stored times with the time.Now() it has just stamped. When the clock
//     is not the wall clock (a fake clock in tests), the input times are
//     first moved into wall-clock time by the clock's offset (on a copy of
//     the live object, which may be shared) and moved back afterwards, so
//     that the ordering is the clock's.

// offset is how far the injected clock is from the wall clock, or zero
// when it is the wall clock (within a second: the API's precision).
func (m *Manager) offset() time.Duration {
	off := m.clock.Now().Sub(time.Now())
	if off.Abs() < time.Second {
		return 0
	}
	return off
}

// shiftedCopy returns a copy of obj with its managedFields times moved by d.
func shiftedCopy(obj runtime.Object, d time.Duration) runtime.Object {
	obj = obj.DeepCopyObject()
	shiftTimes(obj, d)
	return obj
}

// shiftTimes moves obj's managedFields times by d. Entries get new Time
// values: the old ones may be shared with another object.
func shiftTimes(obj runtime.Object, d time.Duration) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	entries := acc.GetManagedFields()
	if len(entries) == 0 {
		return
	}
	for i := range entries {
		if entries[i].Time != nil {
			t := metav1.NewTime(entries[i].Time.Add(d))
			entries[i].Time = &t
		}
	}
	acc.SetManagedFields(entries)
}

// fixTimes corrects the times of obj's managedFields after a call (see
// above): inputs are the input entries' times as the library saw them, off
// the offset they were moved by.
func (m *Manager) fixTimes(obj runtime.Object, before time.Time, inputs []time.Time, off time.Duration) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	entries := acc.GetManagedFields()
	changed := false
	for i := range entries {
		t := entries[i].Time
		switch {
		case t == nil:
		case containsTime(inputs, t.Time):
			if off != 0 {
				back := metav1.NewTime(t.Add(off))
				entries[i].Time = &back
				changed = true
			}
		case !t.Time.Before(before):
			now := metav1.NewTime(m.clock.Now()).Rfc3339Copy()
			entries[i].Time = &now
			changed = true
		}
	}
	if changed {
		// Unstructured objects hand out a copy of the list.
		acc.SetManagedFields(entries)
	}
}

func containsTime(times []time.Time, t time.Time) bool {
	for _, x := range times {
		if x.Equal(t) {
			return true
		}
	}
	return false
}
