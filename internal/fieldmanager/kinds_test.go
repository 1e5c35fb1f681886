package fieldmanager

import "testing"

const deployHeader = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\n"

const deployFull = `spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: 'nginx:1'}
`

func TestDeployment(t *testing.T) {
	deploy := func(t testing.TB) *fixture { return builtinFixture(t, deploymentGVK) }
	const container = `.spec.template.spec.containers[name="app"]`
	// Typed objects write resources: {} (not omitempty), so an Update
	// owns it and an apply that does not mention it does not.
	spec := []string{container + ".image", container + ".name", ".spec.selector", ".spec.template.metadata.labels.app"}
	applied := append([]string{".spec.replicas"}, spec...)
	created := append([]string{container + ".resources"}, applied...)
	runScenarios(t, []scenario{
		{name: "update then apply, force, list-map items", fixture: deploy, steps: []step{
			{name: "create", op: "update", manager: "kubectl-create", body: deployHeader + deployFull,
				wantOwners: map[string][]string{"kubectl-create/Update": created}},
			{name: "apply replicas conflicts with the creator", op: "apply", manager: "mgr-a", body: deployHeader + "spec: {replicas: 3}",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "kubectl-create" using apps/v1: .spec.replicas`,
					statusCause{`conflict with "kubectl-create" using apps/v1`, ".spec.replicas"})},
			{name: "forced", op: "apply", manager: "mgr-a", force: true, body: deployHeader + "spec: {replicas: 3}",
				wantOwners: map[string][]string{"kubectl-create/Update": append([]string{container + ".resources"}, spec...), "mgr-a/Apply": {".spec.replicas"}},
				wantFields: map[string]any{"spec.replicas": int64(3)}},
			{name: "a second applier on a container's image", op: "apply", manager: "mgr-b",
				body: deployHeader + "spec:\n  template:\n    spec:\n      containers: [{name: app, image: 'nginx:2'}]",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "kubectl-create" using apps/v1: `+container+".image",
					statusCause{`conflict with "kubectl-create" using apps/v1`, container + ".image"})},
		}},
		{name: "status subresource and reset fields", fixture: deploy, steps: []step{
			{name: "apply creates", op: "apply", manager: "mgr-a", body: deployHeader + deployFull},
			{name: "the controller writes status (its spec change is not its to own)", op: "update", subresource: "status", manager: "deployment-controller",
				body: "spec: {replicas: 7}\nstatus: {replicas: 1, readyReplicas: 1}",
				wantOwners: map[string][]string{
					"mgr-a/Apply":                         applied,
					"deployment-controller/Update/status": {".status.readyReplicas", ".status.replicas"},
				}},
			{name: "an apply to the main resource cannot take status", op: "apply", manager: "mgr-a",
				body: deployHeader + deployFull + "status: {replicas: 9}",
				wantOwners: map[string][]string{
					"mgr-a/Apply":                         applied,
					"deployment-controller/Update/status": {".status.readyReplicas", ".status.replicas"},
				}},
			{name: "an apply to status takes status only", op: "apply", subresource: "status", manager: "status-applier", force: true,
				body: deployHeader + "spec: {replicas: 5}\nstatus: {availableReplicas: 1}",
				wantOwners: map[string][]string{
					"mgr-a/Apply":                         applied,
					"deployment-controller/Update/status": {".status.readyReplicas", ".status.replicas"},
					"status-applier/Apply/status":         {".status.availableReplicas"},
				}},
		}},
	})
}

const widgetHeader = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n"

func TestCustomResource(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "update then apply, conflicts, force, removal", fixture: widgetFixture, steps: []step{
			{name: "create", op: "update", manager: "creator", body: widgetHeader + "spec: {color: red, tags: [a]}",
				wantOwners: map[string][]string{"creator/Update": {".spec.color", `.spec.tags[="a"]`}}},
			{name: "apply over the creator's color", op: "apply", manager: "mgr-a", body: widgetHeader + "spec: {color: blue}",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "creator" using example.com/v1: .spec.color`,
					statusCause{`conflict with "creator" using example.com/v1`, ".spec.color"})},
			{name: "apply a set item and a list-map item", op: "apply", manager: "mgr-a",
				body: widgetHeader + "spec: {tags: [b], ports: [{name: http, port: 80}]}",
				wantOwners: map[string][]string{
					"creator/Update": {".spec.color", `.spec.tags[="a"]`},
					"mgr-a/Apply":    {`.spec.ports[name="http"].name`, `.spec.ports[name="http"].port`, `.spec.tags[="b"]`},
				}},
			{name: "a second applier conflicts on the port", op: "apply", manager: "mgr-b",
				body: widgetHeader + "spec: {ports: [{name: http, port: 8080}]}",
				wantErr: conflictErr(`Apply failed with 1 conflict: conflict with "mgr-a": .spec.ports[name="http"].port`,
					statusCause{`conflict with "mgr-a"`, `.spec.ports[name="http"].port`})},
			{name: "and forces", op: "apply", manager: "mgr-b", force: true,
				body: widgetHeader + "spec: {ports: [{name: http, port: 8080}]}",
				wantOwners: map[string][]string{
					"creator/Update": {".spec.color", `.spec.tags[="a"]`},
					"mgr-a/Apply":    {`.spec.ports[name="http"].name`, `.spec.tags[="b"]`},
					"mgr-b/Apply":    {`.spec.ports[name="http"].name`, `.spec.ports[name="http"].port`},
				}},
			{name: "mgr-a drops its tag", op: "apply", manager: "mgr-a",
				body:       widgetHeader + "spec: {ports: [{name: http}]}",
				wantFields: map[string]any{"spec.tags": []any{"a"}, "spec.ports": []any{map[string]any{"name": "http", "port": int64(8080)}}}},
		}},
		{name: "status subresource", fixture: widgetFixture, steps: []step{
			{name: "apply creates", op: "apply", manager: "mgr-a", body: widgetHeader + "spec: {replicas: 1}"},
			{name: "status update", op: "update", subresource: "status", manager: "widget-controller", body: "status: {phase: Ready}",
				wantOwners: map[string][]string{"mgr-a/Apply": {".spec.replicas"}, "widget-controller/Update/status": {".status.phase"}}},
			{name: "main apply of status takes nothing", op: "apply", manager: "mgr-a", body: widgetHeader + "spec: {replicas: 1}\nstatus: {phase: Broken}",
				wantOwners: map[string][]string{"mgr-a/Apply": {".spec.replicas"}, "widget-controller/Update/status": {".status.phase"}}},
		}},
		{name: "bad patches", fixture: widgetFixture, steps: []step{
			{name: "another kind", op: "apply", manager: "m", body: "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: w}",
				wantErr: &statusOf{Code: 400, Reason: "BadRequest", Message: "invalid object type: example.com/v1, Kind=Gadget"}},
			{name: "undeclared field", op: "apply", manager: "m", body: widgetHeader + "spec: {size: 3}",
				wantErr: &statusOf{Code: 500, Message: "failed to create typed patch object (default/w; example.com/v1, Kind=Widget): .spec.size: field not declared in schema"}},
		}},
	})
}
