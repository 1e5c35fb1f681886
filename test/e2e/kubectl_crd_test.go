package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// widgetCRD is a namespaced CRD with what an operator's CRD usually has: a
// status subresource, printer columns, a short name and a category, a
// default, an enum, a CEL rule and a selectable field. %[1]s is the group.
const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[1]s
spec:
  group: %[1]s
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
    categories: [gadgets]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    selectableFields:
    - jsonPath: .spec.color
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [size]
            x-kubernetes-validations:
            - rule: "self.size <= self.maxSize"
              message: size must not exceed maxSize
            properties:
              size: {type: integer, minimum: 0, description: How big the widget is.}
              maxSize: {type: integer, default: 10}
              color: {type: string, enum: [red, green, blue], default: red}
          status:
            type: object
            properties:
              ready: {type: boolean}
---
apiVersion: %[1]s/v1
kind: Widget
metadata:
  name: first
  namespace: %[2]s
spec:
  size: 3
`

// TestKubectlCustomResources is issue 8's kubectl view of CRDs: a CRD and
// an instance applied from one file, printer columns, short names and
// categories, schema defaults, pruning and validation (CEL included),
// explain, and the deletion rules of spec F4 and J5c.
func TestKubectlCustomResources(t *testing.T) {
	t.Parallel()
	forEachKubectl(t, func(t *testing.T, kv kubectl) {
		// A server each: short names and categories are resolved across
		// groups.
		s := startServer(t, "--storage=memory")
		k := kv.on(t, s)
		suffix := strings.ReplaceAll(strings.TrimPrefix(kv.name, "kubectl"), ".", "")
		if suffix == "" {
			suffix = "cur"
		}
		group := "e2e" + suffix + ".example.com"
		ns := "crd-" + suffix
		k.ok("create", "namespace", ns)

		// kubectl maps every object of a file before it creates the first,
		// so the instance of a CRD created by the same apply is "not found"
		// (as on any cluster); applying the file again finds the kind, with
		// no wait, because the CRD is established by then.
		doc := fmt.Sprintf(widgetCRD, group, ns)
		first := k.runIn(doc, nil, "apply", "-f", "-")
		if want := "customresourcedefinition.apiextensions.k8s.io/widgets." + group + " created"; !strings.Contains(first.stdout, want) {
			t.Fatalf("apply: want %q, got %s", want, first)
		}
		if first.code != 0 {
			if !strings.Contains(first.stderr, "ensure CRDs are installed first") {
				t.Fatalf("apply: %s", first)
			}
			again := k.runIn(doc, nil, "apply", "-f", "-")
			if again.code != 0 || !strings.Contains(again.stdout, "widget."+group+"/first created") {
				t.Fatalf("second apply: %s", again)
			}
		}
		cond := k.ok("get", "crd", "widgets."+group, "-o", `jsonpath={range .status.conditions[*]}{.type}={.status} {end}`)
		if !strings.Contains(cond, "NamesAccepted=True") || !strings.Contains(cond, "Established=True") {
			t.Errorf("CRD conditions: got %q", cond)
		}

		t.Run("printer columns short name and category", func(t *testing.T) {
			table := k.ok("get", "wd", "first", "-n", ns)
			lines := strings.Split(strings.TrimSpace(table), "\n")
			if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME SIZE COLOR AGE" ||
				!regexp.MustCompile(`^first\s+3\s+red\s+\d+s$`).MatchString(lines[1]) {
				t.Errorf("kubectl get wd: got\n%s", table)
			}
			if got := k.ok("get", "gadgets", "-n", ns, "-o", "name"); got != "widget."+group+"/first\n" {
				t.Errorf("kubectl get gadgets: got %q", got)
			}
		})

		t.Run("defaults are applied and the generation starts at 1 (A7)", func(t *testing.T) {
			got := k.ok("get", "widget", "first", "-n", ns, "-o", "jsonpath={.spec.maxSize} {.spec.color} {.metadata.generation}")
			if got != "10 red 1" {
				t.Errorf("got %q, want %q", got, "10 red 1")
			}
		})

		t.Run("unknown fields are pruned, or refused with --validate=strict", func(t *testing.T) {
			doc := fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: pruned, namespace: %s}\nspec: {size: 1, bogus: x}\n", group, ns)
			r := k.runIn(doc, nil, "create", "--validate=strict", "-f", "-")
			if r.code == 0 || !strings.Contains(r.stderr, `unknown field "spec.bogus"`) {
				t.Errorf("strict create: want unknown field error, got %s", r)
			}
			r = k.runIn(doc, nil, "create", "--validate=false", "-f", "-")
			if r.code != 0 {
				t.Fatalf("create without validation: %s", r)
			}
			if got := k.ok("get", "widget", "pruned", "-n", ns, "-o", "jsonpath={.spec}"); strings.Contains(got, "bogus") {
				t.Errorf("spec.bogus was stored: %s", got)
			}
		})

		t.Run("schema and CEL validation give upstream's 422", func(t *testing.T) {
			doc := fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: big, namespace: %s}\nspec: {size: 20, color: purple}\n", group, ns)
			r := k.runIn(doc, nil, "create", "-f", "-")
			// Schema errors stop the CEL rules, with upstream's note.
			for _, want := range []string{
				`The Widget "big" is invalid`,
				`spec.color: Unsupported value: "purple": supported values: "red", "green", "blue"`,
				`some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
			} {
				if r.code == 0 || !strings.Contains(r.stderr, want) {
					t.Errorf("create: want %q, got %s", want, r)
				}
			}
			doc = fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: big, namespace: %s}\nspec: {size: 20}\n", group, ns)
			r = k.runIn(doc, nil, "create", "-f", "-")
			// Upstream omits the value of an object in a CEL error.
			if want := `The Widget "big" is invalid: spec: Invalid value: size must not exceed maxSize`; r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("create: want %q, got %s", want, r)
			}
		})

		t.Run("field selector on a selectable field", func(t *testing.T) {
			k.ok("patch", "widget", "first", "-n", ns, "--type=merge", "-p", `{"spec":{"color":"blue"}}`)
			if got := k.ok("get", "widgets", "-n", ns, "--field-selector", "spec.color=blue", "-o", "name"); got != "widget."+group+"/first\n" {
				t.Errorf("field selector: got %q", got)
			}
			if gen := k.ok("get", "widget", "first", "-n", ns, "-o", "jsonpath={.metadata.generation}"); gen != "2" {
				t.Errorf("generation after a spec patch: got %q, want 2", gen)
			}
		})

		t.Run("server-side apply conflicts with another manager until forced", func(t *testing.T) {
			doc := func(size int) string {
				return fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: ssa, namespace: %s}\nspec: {size: %d}\n", group, ns, size)
			}
			if r := k.runIn(doc(1), nil, "apply", "--server-side", "--field-manager=alpha", "-f", "-"); r.code != 0 || !strings.Contains(r.stdout, "serverside-applied") {
				t.Fatalf("first apply: %s", r)
			}
			r := k.runIn(doc(2), nil, "apply", "--server-side", "--field-manager=beta", "-f", "-")
			if want := `Apply failed with 1 conflict: conflict with "alpha": .spec.size`; r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("conflicting apply: want %q, got %s", want, r)
			}
			if r := k.runIn(doc(2), nil, "apply", "--server-side", "--field-manager=beta", "--force-conflicts", "-f", "-"); r.code != 0 {
				t.Fatalf("forced apply: %s", r)
			}
			got := k.ok("get", "widget", "ssa", "-n", ns, "-o", `jsonpath={.spec.size} {range .metadata.managedFields[*]}{.manager}:{.operation} {end}`)
			if !strings.HasPrefix(got, "2 ") || !strings.Contains(got, "beta:Apply") {
				t.Errorf("after the forced apply: got %q", got)
			}
		})

		t.Run("J9 strategic merge patch is 415", func(t *testing.T) {
			r := k.run("patch", "widget", "first", "-n", ns, "--type=strategic", "-p", `{"spec":{"size":2}}`)
			if r.code == 0 || !strings.Contains(r.stderr, "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml") {
				t.Errorf("strategic patch: got %s", r)
			}
		})

		t.Run("explain reads the CRD's schema", func(t *testing.T) {
			eventually(t, 30*time.Second, func() error {
				r := k.run("explain", "widgets.spec.size")
				if r.code != 0 || !strings.Contains(r.stdout, "How big the widget is.") {
					return fmt.Errorf("kubectl explain: %s", r)
				}
				return nil
			})
		})

		t.Run("F4 J5c deleting the CRD waits for a finalizer on an instance", func(t *testing.T) {
			k.ok("patch", "widget", "first", "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":["example.com/hold"]}}`)
			k.ok("delete", "crd", "widgets."+group, "--wait=false")
			eventually(t, 30*time.Second, func() error {
				got := k.ok("get", "crd", "widgets."+group, "-o", `jsonpath={.metadata.finalizers} {range .status.conditions[?(@.type=="Terminating")]}{.reason}{end}`)
				if !strings.Contains(got, "customresourcecleanup.apiextensions.k8s.io") || !strings.Contains(got, "InstanceDeletion") {
					return fmt.Errorf("CRD: %q", got)
				}
				return nil
			})
			doc := fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w2, namespace: %s}\nspec: {size: 1}\n", group, ns)
			r := k.runIn(doc, nil, "create", "-f", "-")
			if want := `widgets.` + group + ` "w2" is forbidden: create not allowed while custom resource definition is terminating`; r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("create while terminating: want %q, got %s", want, r)
			}
			eventually(t, 30*time.Second, func() error {
				ts := k.ok("get", "widget", "first", "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}")
				if ts == "" {
					return fmt.Errorf("widget not yet terminating")
				}
				return nil
			})
			k.ok("patch", "widget", "first", "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
			eventually(t, 30*time.Second, func() error {
				r := k.run("get", "crd", "widgets."+group)
				if r.code == 0 {
					return fmt.Errorf("CRD still there: %s", r.stdout)
				}
				return nil
			})
		})
	})
}

// TestKubectlBadCRDs checks that invalid CRDs get upstream's 422. A
// version's schema is reported under spec.validation when every version
// has the same one: upstream validates the internal form, into which the
// v1 conversion hoists it.
func TestKubectlBadCRDs(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--storage=memory")
	forEachKubectl(t, func(t *testing.T, kv kubectl) {
		k := kv.on(t, s)
		cases := []struct {
			name, doc, want string
		}{
			{"name must be plural.group", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.wrong.example.com}
spec:
  group: bad.example.com
  scope: Namespaced
  names: {plural: gizmos, kind: Gizmo}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`, `metadata.name: Invalid value: "gizmos.wrong.example.com": must be spec.names.plural+"."+spec.group`},
			{"non-structural schema", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.bad.example.com}
spec:
  group: bad.example.com
  scope: Namespaced
  names: {plural: gadgets, kind: Gadget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {}}}}}]
`, `spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields`},
			{"exactly one storage version", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: doodads.bad.example.com}
spec:
  group: bad.example.com
  scope: Namespaced
  names: {plural: doodads, kind: Doodad}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
  - {name: v2, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
`, `must have exactly one version marked as storage version`},
		}
		for _, c := range cases {
			r := k.runIn(c.doc, nil, "create", "-f", "-")
			if r.code == 0 || !strings.Contains(r.stderr, "is invalid") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s: want 422 with %q, got %s", c.name, c.want, r)
			}
		}
	})
}
