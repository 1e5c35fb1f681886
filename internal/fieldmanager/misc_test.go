package fieldmanager

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// entryTimes maps "manager/Operation" to the entry's time.
func entryTimes(t *testing.T, obj runtime.Object) map[string]time.Time {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	for _, e := range acc.GetManagedFields() {
		out[e.Manager+"/"+string(e.Operation)] = e.Time.Time
	}
	return out
}

func TestTimestampsComeFromTheClock(t *testing.T) {
	f := builtinFixture(t, configMapGVK)
	m := f.manager(t, "")
	t0 := startTime
	live, err := m.Apply(nil, []byte(cmHeader+"data: {a: '1'}"), "mgr-a", false)
	if err != nil {
		t.Fatal(err)
	}
	live = f.roundTrip(t, live)

	f.clock.Step(90 * time.Second)
	t1 := t0.Add(90 * time.Second)
	got, err := m.Update(live, f.mergeUpdate(t, live, "data: {b: '2'}"), "editor")
	if err != nil {
		t.Fatal(err)
	}
	live = f.roundTrip(t, got)
	want := map[string]time.Time{"mgr-a/Apply": t0, "editor/Update": t1}
	if diff := cmp.Diff(want, entryTimes(t, live)); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}

	// A write that changes nothing keeps every time, an apply too
	// (upstream's managedFieldsUpdater stamps only when the apply changed
	// the object); an apply that changes something stamps its manager.
	f.clock.Step(time.Hour)
	t2 := t1.Add(time.Hour)
	got, err = m.Update(live, f.mergeUpdate(t, live, "{}"), "editor")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, entryTimes(t, got)); diff != "" {
		t.Errorf("after a no-op update (-want +got):\n%s", diff)
	}
	got, err = m.Apply(live, []byte(cmHeader+"data: {a: '1'}"), "mgr-a", false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, entryTimes(t, got)); diff != "" {
		t.Errorf("after a no-op apply (-want +got):\n%s", diff)
	}
	got, err = m.Apply(live, []byte(cmHeader+"data: {a: '3'}"), "mgr-a", false)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]time.Time{"mgr-a/Apply": t2, "editor/Update": t1}
	if diff := cmp.Diff(want, entryTimes(t, got)); diff != "" {
		t.Errorf("after a repeated apply (-want +got):\n%s", diff)
	}
}

// TestUpdateManagersAreCapped checks upstream's cap of ten update managers:
// the oldest are merged into an "ancient-changes" entry.
func TestUpdateManagersAreCapped(t *testing.T) {
	f := builtinFixture(t, configMapGVK)
	m := f.manager(t, "")
	live, err := m.New()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		f.clock.Step(time.Minute)
		got, err := m.Update(live, f.mergeUpdate(t, live, cmHeader+fmt.Sprintf("data: {k%02d: v}", i)), fmt.Sprintf("writer-%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		live = f.roundTrip(t, got)
	}
	own := owners(t, live)
	if len(own) != 10 {
		t.Errorf("%d update entries, want 10: %v", len(own), own)
	}
	if diff := cmp.Diff([]string{".data.k00", ".data.k01", ".data.k02"}, own["ancient-changes/Update"]); diff != "" {
		t.Errorf("ancient-changes (-want +got):\n%s", diff)
	}
	if _, ok := own["writer-11/Update"]; !ok {
		t.Errorf("the newest writer lost its entry: %v", own)
	}
}

func TestDefaultManager(t *testing.T) {
	for _, tc := range []struct{ userAgent, want string }{
		{"kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "kubectl"},
		{"kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/x/system:serviceaccount:kube-system:deployment-controller", "kube-controller-manager"},
		{"no-slash", "no-slash"},
		{"", ""},
		{"tab\there/1", "tabhere"},
		{strings.Repeat("x", 200) + "/1", strings.Repeat("x", 128)},
		// A rune that would cross 128 bytes is dropped whole.
		{strings.Repeat("x", 127) + "é/1", strings.Repeat("x", 127)},
	} {
		if got := DefaultManager(tc.userAgent); got != tc.want {
			t.Errorf("DefaultManager(%q) = %q, want %q", tc.userAgent, got, tc.want)
		}
	}
}

// TestUpdateNeverFailsTheWrite checks upstream's UpdateNoErrors: when
// ownership cannot be computed (here, a value the schema rejects), the
// write keeps the live object's managedFields.
func TestUpdateNeverFailsTheWrite(t *testing.T) {
	f := widgetFixture(t)
	m := f.manager(t, "")
	live, err := m.Apply(nil, []byte(widgetHeader+"spec: {color: red}"), "mgr-a", false)
	if err != nil {
		t.Fatal(err)
	}
	live = f.roundTrip(t, live)
	bad := f.mergeUpdate(t, live, "spec: {undeclared: 1}")
	got, err := m.Update(live, bad, "editor")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"mgr-a/Apply": {".spec.color"}}, owners(t, got)); diff != "" {
		t.Errorf("managedFields (-want +got):\n%s", diff)
	}
}
