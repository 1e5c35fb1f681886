package fieldmanager

import (
	"bytes"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// stripPaths are the fields no manager owns (the library's stripMeta
// manager strips the same set).
var stripPaths = []fieldpath.Path{
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
}

// createFast records ownership of a created object without the library's
// full update (comparing against an empty live object, merging with no
// managers): on create the manager owns exactly the new object's fields,
// less the stripped and the reset ones. ok=false means the caller must
// take the general path (client-sent managedFields, no manager name, a
// conversion failure); TestCreateMatchesUpdate checks both paths agree.
func (m *Manager) createFast(newObj runtime.Object, manager string) (runtime.Object, bool) {
	if m.tc == nil || manager == "" {
		return nil, false
	}
	acc, err := meta.Accessor(newObj)
	if err != nil || len(acc.GetManagedFields()) > 0 {
		return nil, false
	}
	if newObj.GetObjectKind().GroupVersionKind().Empty() {
		newObj.GetObjectKind().SetGroupVersionKind(m.gvk)
	}
	tv, err := m.tc.ObjectToTyped(newObj, typed.AllowDuplicates)
	if err != nil {
		return nil, false
	}
	empty, err := m.emptyTyped()
	if err != nil {
		return nil, false
	}
	// What the library's updater gives an Update operation with no
	// previous managers: the fields the new object adds to or changes
	// from the empty one.
	cmp, err := empty.Compare(tv)
	if err != nil {
		return nil, false
	}
	set := cmp.Added.Union(cmp.Modified).Difference(m.strip)
	if m.reset != nil {
		set = m.reset.Filter(set)
	}
	if set.Empty() {
		acc.SetManagedFields(nil)
		return newObj, true
	}
	var buf bytes.Buffer
	if err := set.ToJSONStream(&buf); err != nil {
		return nil, false
	}
	now := metav1.NewTime(m.clock.Now().Truncate(1e9))
	acc.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager:    manager,
		Operation:  metav1.ManagedFieldsOperationUpdate,
		APIVersion: m.gvk.GroupVersion().String(),
		Time:       &now,
		FieldsType: "FieldsV1",
		FieldsV1:   &metav1.FieldsV1{Raw: buf.Bytes()},
	}})
	return newObj, true
}

// Create records ownership of an object being created (manager owns what
// it sets), as Update with an empty live object would.
func (m *Manager) Create(newObj runtime.Object, manager string) (runtime.Object, error) {
	if obj, ok := m.createFast(newObj, manager); ok {
		return obj, nil
	}
	live, err := m.New()
	if err != nil {
		return nil, err
	}
	return m.Update(live, newObj, manager)
}

// emptyTyped is the empty object of the kind as a typed value, built once:
// the live side of every create.
func (m *Manager) emptyTyped() (*typed.TypedValue, error) {
	m.emptyOnce.Do(func() {
		obj, err := m.New()
		if err != nil {
			m.emptyErr = err
			return
		}
		m.empty, m.emptyErr = m.tc.ObjectToTyped(obj, typed.AllowDuplicates)
	})
	return m.empty, m.emptyErr
}
