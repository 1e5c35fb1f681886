package apiserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/utils/clock"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/terminus-project/terminus/internal/fieldmanager"
	"github.com/terminus-project/terminus/internal/registry"
)

// Every create, update and patch records field ownership in
// metadata.managedFields, and server-side apply merges by it, through
// k8s.io/apimachinery's managedfields (internal/fieldmanager), as
// upstream's handlers do.

// fieldManagers builds one fieldmanager.Manager per resource and
// subresource, on first use.
type fieldManagers struct {
	scheme *runtime.Scheme
	clock  clock.PassiveClock
	log    *slog.Logger

	builtinOnce sync.Once
	builtin     managedfields.TypeConverter
	builtinErr  error

	mu sync.Mutex
	// managers are keyed by the served Resource, which a CRD change
	// replaces: forgetCustom drops those of custom resources then.
	managers map[fieldManagerKey]*fieldmanager.Manager
}

type fieldManagerKey struct {
	res         *registry.Resource
	subresource string
}

func newFieldManagers(scheme *runtime.Scheme, clk clock.PassiveClock, log *slog.Logger) *fieldManagers {
	return &fieldManagers{scheme: scheme, clock: clk, log: log, managers: map[fieldManagerKey]*fieldmanager.Manager{}}
}

// tracked reports whether writes to the subresource record ownership: the
// main resource and status, as upstream (scale maps replicas specially
// upstream; terminus does not track it).
func tracked(subresource string) bool { return subresource == "" || subresource == "status" }

// warm builds the built-in type converter ahead of the first write.
func (f *fieldManagers) warm() { _, _ = f.builtinConverter() }

func (f *fieldManagers) builtinConverter() (managedfields.TypeConverter, error) {
	f.builtinOnce.Do(func() {
		f.builtin, f.builtinErr = fieldmanager.NewBuiltinTypeConverter(f.scheme)
	})
	return f.builtin, f.builtinErr
}

// get returns the manager of res's subresource.
func (f *fieldManagers) get(res *registry.Resource, subresource string) (*fieldmanager.Manager, error) {
	key := fieldManagerKey{res, subresource}
	f.mu.Lock()
	m, ok := f.managers[key]
	f.mu.Unlock()
	if ok {
		return m, nil
	}
	cfg := fieldmanager.Config{GVK: res.GroupVersionKind(), Subresource: subresource, Clock: f.clock, Logger: f.log}
	if cv := res.Custom; cv != nil {
		cfg.Custom = true
		cfg.TypeConverter = cv.TypeConverter()
		cfg.ResetFields = cv.ResetFields(subresource)
	} else {
		tc, err := f.builtinConverter()
		if err != nil {
			return nil, err
		}
		cfg.TypeConverter, cfg.Scheme = tc, f.scheme
		cfg.ResetFields = builtinResetFields(res, subresource)
	}
	m, err := fieldmanager.New(cfg)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.managers[key] = m
	f.mu.Unlock()
	return m, nil
}

// forgetCustom drops the managers of custom resources, whose Resource a
// CRD change replaces.
func (f *fieldManagers) forgetCustom() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.managers {
		if k.res.Custom != nil {
			delete(f.managers, k)
		}
	}
}

// builtinResetFields are what a built-in type's strategy resets on a
// subresource (upstream's GetResetFields): with a status subresource, the
// main resource cannot write status and the status subresource can write
// nothing but status (and metadata).
func builtinResetFields(res *registry.Resource, subresource string) map[fieldpath.APIVersion]*fieldpath.Set {
	if _, ok := res.HasSubresource("status"); !ok {
		return nil
	}
	set := fieldpath.NewSet()
	switch subresource {
	case "":
		set.Insert(fieldpath.MakePathOrDie("status"))
	case "status":
		for _, name := range topLevelFields(res.New()) {
			if name != "status" && name != "metadata" {
				set.Insert(fieldpath.MakePathOrDie(name))
			}
		}
	default:
		return nil
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{fieldpath.APIVersion(res.GVR.GroupVersion().String()): set}
}

// topLevelFields are the JSON names of a typed object's fields.
func topLevelFields(obj runtime.Object) []string {
	t := reflect.TypeOf(obj).Elem()
	var out []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// managerName is the request's fieldManager, or upstream's default from
// the User-Agent.
func managerName(r *http.Request, fieldManager string) string {
	if fieldManager != "" {
		return fieldManager
	}
	return fieldmanager.DefaultManager(r.UserAgent())
}

// trackWrite records manager's ownership of what a non-apply write
// changes; live is the stored object, or nil on create.
func (h *resourceHandler) trackWrite(r *http.Request, live, obj runtime.Object, fieldManager string) (runtime.Object, error) {
	if !tracked(h.info.subresource) || h.res.NoStorage {
		return obj, nil
	}
	m, err := h.s.fieldManagers.get(h.res, h.info.subresource)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(h.res.GroupVersionKind())
	if live == nil {
		return m.Create(obj, managerName(r, fieldManager))
	}
	live.GetObjectKind().SetGroupVersionKind(h.res.GroupVersionKind())
	return m.Update(live, obj, managerName(r, fieldManager))
}

// apply serves a server-side apply patch (application/apply-patch+yaml):
// merged into the stored object by field ownership, or creating it (201)
// when there is none.
func (h *resourceHandler) apply(w http.ResponseWriter, r *http.Request, patch []byte, opts metav1.PatchOptions) {
	if !tracked(h.info.subresource) {
		h.s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("apply is not supported on the %s subresource", h.info.subresource)))
		return
	}
	m, err := h.s.fieldManagers.get(h.res, h.info.subresource)
	if err != nil {
		h.s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	force := opts.Force != nil && *opts.Force
	dryRun := len(opts.DryRun) > 0
	gvk := h.res.GroupVersionKind()
	applyTo := func(live runtime.Object) (runtime.Object, error) {
		live.GetObjectKind().SetGroupVersionKind(gvk)
		obj, err := m.Apply(live, patch, opts.FieldManager, force)
		if err != nil {
			return nil, err
		}
		if u, ok := obj.(*unstructured.Unstructured); ok && h.res.Custom != nil {
			// The merged object holds the patch's numbers as float64 (it
			// was decoded as YAML); a JSON round trip gives them the
			// int64 or float64 types the schema validation expects.
			data, err := u.MarshalJSON()
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if err := u.UnmarshalJSON(data); err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			h.res.Custom.PruneAndDefault(u.Object)
		}
		return obj, nil
	}
	for attempt := 0; ; attempt++ {
		out, err := h.store.Update(r.Context(), h.info.namespace, h.info.name, applyTo,
			registry.UpdateOptions{DryRun: dryRun, Subresource: h.info.subresource})
		if err == nil {
			h.s.writeObject(w, r, h.res, http.StatusOK, out)
			return
		}
		if !apierrors.IsNotFound(err) || h.info.subresource != "" {
			h.s.writeError(w, r, err)
			return
		}
		// Nothing stored: the apply creates the object.
		live, err := m.New()
		if err != nil {
			h.s.writeError(w, r, apierrors.NewInternalError(err))
			return
		}
		obj, err := applyTo(live)
		if err != nil {
			h.s.writeError(w, r, err)
			return
		}
		meta := obj.(metav1.Object)
		if meta.GetName() != h.info.name {
			h.s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", meta.GetName(), h.info.name)))
			return
		}
		out, err = h.store.Create(r.Context(), h.info.namespace, obj, registry.CreateOptions{DryRun: dryRun})
		if apierrors.IsAlreadyExists(err) && attempt == 0 {
			continue // created meanwhile: apply to it
		}
		if err != nil {
			h.s.writeError(w, r, err)
			return
		}
		h.s.writeObject(w, r, h.res, http.StatusCreated, out)
		return
	}
}
