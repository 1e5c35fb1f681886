// Package printers produces the server-side Table columns and cells that
// `kubectl get` prints (Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
//
// kubectl renders whatever Table the server returns, so the columns, the
// cell values and the status strings (Terminating, CrashLoopBackOff, 1/2,
// "5 (3m ago)", ...) must be computed here exactly as upstream does in
// k8s.io/kubernetes pkg/printers/internalversion/printers.go. This package is
// an independent re-implementation of those printers over the versioned
// k8s.io/api types (terminus stores versioned objects and has no internal
// API types). Spec rule A12 (shared/spec/lifecycle.md) makes the
// Terminating/Unknown/phase display a hard requirement.
//
// Upstream's server-side TableConvertor always generates tables with
// GenerateOptions{Wide: true}: every row carries the cells of all columns,
// including those with Priority 1, and kubectl hides the Priority 1 columns
// unless -o wide is given. Cells here therefore always returns the full row,
// and wide-only formatting (for example the unclipped load-balancer list of a
// Service) is applied unconditionally.
//
// Time is injected: every age is computed against the now passed to Cells,
// never the wall clock, so the output is deterministic and testable.
//
// The apiserver builds the metav1.Table (rows, row objects, list metadata);
// this package only supplies column definitions and cells.
package printers

import (
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Printer renders one resource's rows.
type Printer struct {
	// Columns are the Table column definitions, default columns first and
	// the Priority 1 (kubectl -o wide) columns interleaved as upstream
	// orders them. Callers must not modify the slice.
	Columns []metav1.TableColumnDefinition
	// Cells returns one row's cells for obj (a typed k8s.io/api object,
	// e.g. *corev1.Pod), in column order. It always returns one cell per
	// column (the wide row), like upstream's server-side convertor.
	Cells func(obj runtime.Object, now time.Time) ([]interface{}, error)
	// Conditions optionally returns the row conditions upstream attaches to
	// a row (only pods have them: Completed=True for Succeeded and Failed
	// pods). Nil means the rows of this resource carry no conditions.
	Conditions func(obj runtime.Object) []metav1.TableRowCondition
}

// Set is an immutable lookup table of printers, keyed by group/resource.
type Set struct {
	printers map[schema.GroupResource]Printer
}

// New builds the printers for every resource this package knows. Build it
// once and share it: lookups are map reads and the Set is never mutated
// after construction, so it is safe for concurrent use.
func New() *Set {
	s := &Set{printers: map[schema.GroupResource]Printer{}}
	addCore(s)
	addPod(s)
	addEvents(s)
	addApps(s)
	addBatch(s)
	addOther(s)
	addScale(s)
	return s
}

// For returns the printer for a group/resource (e.g.
// {Group: "apps", Resource: "deployments"}), false if none.
func (s *Set) For(gr schema.GroupResource) (Printer, bool) {
	p, ok := s.printers[gr]
	return p, ok
}

// GroupResources lists the group/resources that have a printer, for
// wiring and tests. The order is unspecified.
func (s *Set) GroupResources() []schema.GroupResource {
	out := make([]schema.GroupResource, 0, len(s.printers))
	for gr := range s.printers {
		out = append(out, gr)
	}
	return out
}

func (s *Set) add(p Printer, grs ...schema.GroupResource) {
	for _, gr := range grs {
		if _, dup := s.printers[gr]; dup {
			panic(fmt.Sprintf("printers: duplicate printer for %s", gr))
		}
		s.printers[gr] = p
	}
}

// shared is the process-wide Set behind the package-level For; it is built
// on first use and never modified afterwards.
var shared = sync.OnceValue(New)

// For returns the printer for a group/resource (e.g.
// {Group: "apps", Resource: "deployments"}), false if none. It uses a Set
// built once per process.
func For(gr schema.GroupResource) (Printer, bool) {
	return shared().For(gr)
}

// Default is the printer for resources without one. It mirrors upstream's
// rest.NewDefaultTableConvertor (k8s.io/apiserver/pkg/registry/rest):
// columns "Name" (format name) and "Created At" (type date), the latter
// holding the creation timestamp in UTC RFC 3339, not an age; now is
// therefore unused.
func Default() Printer {
	doc := metav1.ObjectMeta{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: doc["name"]},
			{Name: "Created At", Type: "date", Description: doc["creationTimestamp"]},
		},
		Cells: func(obj runtime.Object, _ time.Time) ([]interface{}, error) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, fmt.Errorf("printers: default: %w", err)
			}
			return []interface{}{m.GetName(), m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339)}, nil
		},
	}
}

// cellsOf adapts a typed cell function to Printer.Cells, rejecting objects
// of the wrong type (the registry must pass the typed object it stores).
func cellsOf[T any](resource string, fn func(obj *T, now time.Time) []interface{}) func(runtime.Object, time.Time) ([]interface{}, error) {
	return func(obj runtime.Object, now time.Time) ([]interface{}, error) {
		o, ok := any(obj).(*T)
		if !ok || o == nil {
			return nil, fmt.Errorf("printers: %s: unexpected object type %T", resource, obj)
		}
		return fn(o, now), nil
	}
}

// Column helpers. Descriptions are taken from the same SwaggerDoc entries
// upstream uses, so the Table's column descriptions match byte for byte.

func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
}

func col(name, typ, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc}
}

func wideCol(name, typ, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Priority: 1, Description: desc}
}

func containersColumn(priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: priority, Description: "Names of each container in the template."}
}

func imagesColumn(priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: priority, Description: "Images referenced by each container in the template."}
}

// translateTimestampSince is upstream's age rendering, against an injected
// now: "<unknown>" for a zero timestamp, otherwise HumanDuration.
func translateTimestampSince(ts metav1.Time, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

// translateMicroTimestampSince is translateTimestampSince for MicroTime.
func translateMicroTimestampSince(ts metav1.MicroTime, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

// layoutContainerCells joins container names and images with commas, as
// upstream's wide Containers/Images columns do.
func layoutContainerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i := range containers {
		n[i] = containers[i].Name
		im[i] = containers[i].Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// formatLabelSelector is metav1.FormatLabelSelector ("<none>" when empty,
// "<error>" when invalid).
func formatLabelSelector(sel *metav1.LabelSelector) string {
	return metav1.FormatLabelSelector(sel)
}

func printBoolPtr(v *bool) string {
	if v == nil {
		return "<unset>"
	}
	if *v {
		return "True"
	}
	return "False"
}

func derefInt32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// listWithMoreString renders at most max items and a "+ N more..." suffix,
// "<unset>" for an empty list (upstream's EndpointSlice formatting).
func listWithMoreString(list []string, more bool, count, max int) string {
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	if ret == "" {
		ret = "<unset>"
	}
	return ret
}
