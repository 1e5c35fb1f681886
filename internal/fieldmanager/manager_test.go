package fieldmanager

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/runtime"
)

// step is one write in a scenario.
type step struct {
	name string
	// op is "update" (a non-apply write: body is a merge patch of the live
	// object) or "apply" (body is the apply patch).
	op          string
	subresource string
	manager     string
	body        string
	force       bool
	// wantErr is the Status of a failed step (nil: it must succeed); a
	// Message ending in "…" is matched as a prefix.
	wantErr *statusOf
	// wantOwners is the whole of managedFields after the step (nil: not
	// checked).
	wantOwners map[string][]string
	// wantFields are values in the resulting object (nil value: absent).
	wantFields map[string]any
}

type scenario struct {
	name    string
	fixture func(testing.TB) *fixture
	steps   []step
}

func runScenarios(t *testing.T, scenarios []scenario) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := sc.fixture(t)
			managers := map[string]*Manager{}
			var live runtime.Object
			for i, st := range sc.steps {
				m, ok := managers[st.subresource]
				if !ok {
					m = f.manager(t, st.subresource)
					managers[st.subresource] = m
				}
				if live == nil {
					var err error
					if live, err = m.New(); err != nil {
						t.Fatal(err)
					}
				}
				var got runtime.Object
				var err error
				switch st.op {
				case "update":
					got, err = m.Update(live, f.mergeUpdate(t, live, st.body), st.manager)
				case "apply":
					got, err = m.Apply(live, []byte(st.body), st.manager, st.force)
				default:
					t.Fatalf("step %d: unknown op %q", i, st.op)
				}
				status := errStatus(t, err)
				if st.wantErr != nil && status != nil {
					if msg, ok := strings.CutSuffix(st.wantErr.Message, "…"); ok && strings.HasPrefix(status.Message, msg) {
						status.Message = st.wantErr.Message
					}
				}
				if diff := cmp.Diff(st.wantErr, status, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("step %d (%s): error (-want +got):\n%s", i, st.name, diff)
				}
				if err != nil {
					continue
				}
				live = f.roundTrip(t, got)
				f.clock.Step(61e9)
				if st.wantOwners != nil {
					if diff := cmp.Diff(st.wantOwners, owners(t, live), cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
						t.Errorf("step %d (%s): managedFields (-want +got):\n%s", i, st.name, diff)
					}
				}
				for path, want := range st.wantFields {
					if diff := cmp.Diff(want, valueAt(t, live, path)); diff != "" {
						t.Errorf("step %d (%s): %s (-want +got):\n%s", i, st.name, path, diff)
					}
				}
			}
		})
	}
}

const cmHeader = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: default\n"

type statusCause struct{ manager, field string }

func conflictErr(message string, causes ...statusCause) *statusOf {
	s := &statusOf{Code: 409, Reason: "Conflict", Message: message}
	for _, c := range causes {
		s.Causes = append(s.Causes, causeOf(c))
	}
	return s
}

func TestConfigMap(t *testing.T) {
	cm := func(t testing.TB) *fixture { return builtinFixture(t, configMapGVK) }
	runScenarios(t, []scenario{
		{name: "update then apply ownership", fixture: cm, steps: []step{
			{name: "create", op: "update", manager: "kubectl-create", body: cmHeader + "data: {a: '1'}",
				wantOwners: map[string][]string{"kubectl-create/Update": {".data.a"}}},
			{name: "apply another key", op: "apply", manager: "mgr-a", body: cmHeader + "data: {b: '2'}",
				wantOwners: map[string][]string{"kubectl-create/Update": {".data.a"}, "mgr-a/Apply": {".data.b"}},
				wantFields: map[string]any{"data.a": "1", "data.b": "2"}},
			{name: "apply over the updater's field", op: "apply", manager: "mgr-a", body: cmHeader + "data: {a: 'x', b: '2'}",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.a`,
					statusCause{`conflict with "kubectl-create" using v1`, ".data.a"})},
			{name: "same value is shared, not a conflict", op: "apply", manager: "mgr-a", body: cmHeader + "data: {a: '1', b: '2'}",
				wantOwners: map[string][]string{"kubectl-create/Update": {".data.a"}, "mgr-a/Apply": {".data.a", ".data.b"}}},
			{name: "an update takes what it changes", op: "update", manager: "kubectl-edit", body: "data: {b: '3'}",
				wantOwners: map[string][]string{"kubectl-create/Update": {".data.a"}, "mgr-a/Apply": {".data.a"}, "kubectl-edit/Update": {".data.b"}}},
		}},
		{name: "two appliers conflict, force moves ownership", fixture: cm, steps: []step{
			{name: "a applies", op: "apply", manager: "mgr-a", body: cmHeader + "data: {a: '1', b: '1'}"},
			{name: "b conflicts", op: "apply", manager: "mgr-b", body: cmHeader + "data: {a: '2'}",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "mgr-a": .data.a`, statusCause{`conflict with "mgr-a"`, ".data.a"})},
			{name: "b forces", op: "apply", manager: "mgr-b", body: cmHeader + "data: {a: '2'}", force: true,
				wantOwners: map[string][]string{"mgr-a/Apply": {".data.b"}, "mgr-b/Apply": {".data.a"}},
				wantFields: map[string]any{"data.a": "2", "data.b": "1"}},
			{name: "a now conflicts with b", op: "apply", manager: "mgr-a", body: cmHeader + "data: {a: '1', b: '1'}",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "mgr-b": .data.a`, statusCause{`conflict with "mgr-b"`, ".data.a"})},
		}},
		{name: "conflicts with several managers", fixture: cm, steps: []step{
			{name: "a", op: "apply", manager: "mgr-a", body: cmHeader + "data: {a: '1', b: '1'}"},
			{name: "c", op: "apply", manager: "mgr-c", body: cmHeader + "data: {c: '1'}"},
			{name: "b conflicts with both", op: "apply", manager: "mgr-b", body: cmHeader + "data: {a: '2', b: '2', c: '2'}",
				wantErr: conflictErr("Apply failed with 3 conflicts: conflicts with \"mgr-a\":\n- .data.a\n- .data.b\nconflicts with \"mgr-c\":\n- .data.c",
					statusCause{`conflict with "mgr-a"`, ".data.a"}, statusCause{`conflict with "mgr-a"`, ".data.b"}, statusCause{`conflict with "mgr-c"`, ".data.c"})},
		}},
		{name: "apply that drops a field deletes it", fixture: cm, steps: []step{
			{name: "a owns a and b", op: "apply", manager: "mgr-a", body: cmHeader + "data: {a: '1', b: '1'}"},
			{name: "b shares a", op: "apply", manager: "mgr-b", body: cmHeader + "data: {a: '1'}"},
			{name: "a drops both", op: "apply", manager: "mgr-a", body: cmHeader + "  labels: {team: blue}",
				// b is removed (a owned it alone); a stays, b still owns it.
				wantOwners: map[string][]string{"mgr-a/Apply": {".metadata.labels.team"}, "mgr-b/Apply": {".data.a"}},
				wantFields: map[string]any{"data.a": "1", "data.b": nil, "metadata.labels.team": "blue"}},
		}},
		{name: "created by apply", fixture: cm, steps: []step{
			{name: "apply creates", op: "apply", manager: "kubectl", body: cmHeader + "  labels: {app: x}\ndata: {a: '1'}",
				wantOwners: map[string][]string{"kubectl/Apply": {".data.a", ".metadata.labels.app"}},
				wantFields: map[string]any{"metadata.name": "cm", "metadata.namespace": "default", "data.a": "1"}},
		}},
		{name: "managedFields sent by the client", fixture: cm, steps: []step{
			{name: "a", op: "apply", manager: "mgr-a", body: cmHeader + "data: {a: '1'}"},
			{name: "undecodable managedFields are ignored for the live ones", op: "update", manager: "editor",
				body:       "metadata: {managedFields: [{manager: evil, operation: Update, fieldsType: FieldsV9, fieldsV1: {}}]}\ndata: {b: '2'}",
				wantOwners: map[string][]string{"mgr-a/Apply": {".data.a"}, "editor/Update": {".data.b"}}},
			{name: "an empty list resets them", op: "update", manager: "editor", body: "metadata: {managedFields: []}",
				wantOwners: map[string][]string{}},
			// Upstream: the first apply to an object without managedFields
			// gives everything already there to "before-first-apply".
			{name: "nothing owned any more: the first apply meets before-first-apply", op: "apply", manager: "mgr-b", body: cmHeader + "data: {a: 'z'}",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a`,
					statusCause{`conflict with "before-first-apply" using v1`, ".data.a"})},
			{name: "forced", op: "apply", manager: "mgr-b", body: cmHeader + "data: {a: 'z'}", force: true,
				wantOwners: map[string][]string{"before-first-apply/Update": {".data.b"}, "mgr-b/Apply": {".data.a"}}},
		}},
		{name: "bad apply patches", fixture: cm, steps: []step{
			{name: "not YAML", op: "apply", manager: "m", body: "data: [",
				wantErr: &statusOf{Code: 400, Reason: "BadRequest", Message: "error encoding patch: …"}},
			{name: "not an object", op: "apply", manager: "m", body: "[1, 2]",
				wantErr: &statusOf{Code: 400, Reason: "BadRequest", Message: "error decoding patch: …"}},
			{name: "no apiVersion and kind", op: "apply", manager: "m", body: "metadata: {name: cm}",
				wantErr: &statusOf{Code: 400, Reason: "BadRequest", Message: "invalid object type: /, Kind="}},
			{name: "another kind", op: "apply", manager: "m", body: "apiVersion: v1\nkind: Secret\nmetadata: {name: cm}",
				wantErr: &statusOf{Code: 400, Reason: "BadRequest", Message: "invalid object type: /v1, Kind=Secret"}},
			{name: "another version", op: "apply", manager: "m", body: "apiVersion: v2\nkind: ConfigMap\nmetadata: {name: cm}",
				wantErr: &statusOf{Code: 400, Reason: "BadRequest", Message: "invalid object type: /v2, Kind=ConfigMap"}},
			{name: "managedFields set", op: "apply", manager: "m", body: cmHeader + "  managedFields: [{manager: m}]",
				wantErr: &statusOf{Code: 400, Reason: "BadRequest", Message: "metadata.managedFields must be nil"}},
			{name: "a field the schema lacks", op: "apply", manager: "m", body: cmHeader + "spec: {x: 1}",
				wantErr: &statusOf{Code: 500, Message: "failed to create typed patch object (default/cm; /v1, Kind=ConfigMap): .spec: field not declared in schema"}},
			{name: "a value of the wrong type", op: "apply", manager: "m", body: cmHeader + "data: {a: {b: c}}",
				wantErr: &statusOf{Code: 500, Message: "failed to create typed patch object (default/cm; /v1, Kind=ConfigMap): .data.a: expected string, got &value.valueUnstructured{Value:map[string]interface {}{\"b\":\"c\"}}"}},
		}},
	})
}
