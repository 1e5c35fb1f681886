package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the injected clock for every test; objects are created relative
// to it so ages are deterministic.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func microAgo(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(now.Add(-d)) }

func objMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(10 * time.Minute)}
}

func ptr[T any](v T) *T { return &v }

// rowCells looks up the printer for gr, renders obj and checks the row has
// exactly one cell per column (the server always prints the wide row).
func rowCells(t *testing.T, gr schema.GroupResource, obj runtime.Object) []interface{} {
	t.Helper()
	p, ok := For(gr)
	if !ok {
		t.Fatalf("no printer for %v", gr)
	}
	cells, err := p.Cells(obj, now)
	if err != nil {
		t.Fatalf("Cells: %v", err)
	}
	if len(cells) != len(p.Columns) {
		t.Fatalf("%v: %d cells for %d columns: %#v", gr, len(cells), len(p.Columns), cells)
	}
	return cells
}

type rowCase struct {
	name string
	obj  runtime.Object
	want []interface{}
}

func runRowCases(t *testing.T, gr schema.GroupResource, cases []rowCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rowCells(t, gr, tc.obj)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("cells mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
