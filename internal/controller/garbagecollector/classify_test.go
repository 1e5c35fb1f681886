package garbagecollector

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestClassifyReferences is D4's classification across D3, D5, D6 and
// D12–D16.
func TestClassifyReferences(t *testing.T) {
	live := obj(cmGVK, "ns", "live", "live-uid")
	other := obj(cmGVK, "other", "elsewhere", "elsewhere-uid")
	fg := terminating(obj(cmGVK, "ns", "fg", "fg-uid"), metav1.FinalizerDeleteDependents)
	orphaning := terminating(obj(cmGVK, "ns", "orph", "orph-uid"), metav1.FinalizerOrphanDependents)
	held := terminating(obj(cmGVK, "ns", "held", "held-uid"), "example.com/hold")
	nsObj := obj(nsGVK, "", "ns", "ns-uid")
	fgNS := terminating(obj(nsGVK, "", "fgns", "fgns-uid"), metav1.FinalizerDeleteDependents)

	cm := func(name, uid string) metav1.OwnerReference { return ownerRef(cmGVK, name, uid, false) }
	ns := func(name, uid string) metav1.OwnerReference { return ownerRef(nsGVK, name, uid, false) }

	type want struct{ Solid, Dangling, Waiting []string }
	for _, tc := range []struct {
		name    string
		itemNS  string // "" for a cluster-scoped item
		refs    []metav1.OwnerReference
		want    want
		wantErr func(error) bool
	}{
		{name: "D4 existing owner is solid", itemNS: "ns", refs: []metav1.OwnerReference{cm("live", "live-uid")}, want: want{Solid: []string{"live"}}},
		{name: "D3 absent owner is dangling", itemNS: "ns", refs: []metav1.OwnerReference{cm("gone", "gone-uid")}, want: want{Dangling: []string{"gone"}}},
		{name: "D5 same name, other uid is dangling", itemNS: "ns", refs: []metav1.OwnerReference{cm("live", "not-live-uid")}, want: want{Dangling: []string{"live"}}},
		{name: "D4 foreground owner is waiting", itemNS: "ns", refs: []metav1.OwnerReference{cm("fg", "fg-uid")}, want: want{Waiting: []string{"fg"}}},
		{name: "D4 orphaning owner is solid", itemNS: "ns", refs: []metav1.OwnerReference{cm("orph", "orph-uid")}, want: want{Solid: []string{"orph"}}},
		{name: "D4 owner held by another finalizer is solid", itemNS: "ns", refs: []metav1.OwnerReference{cm("held", "held-uid")}, want: want{Solid: []string{"held"}}},
		{name: "D6 solid and dangling together", itemNS: "ns", refs: []metav1.OwnerReference{cm("live", "live-uid"), cm("gone", "gone-uid"), cm("fg", "fg-uid")},
			want: want{Solid: []string{"live"}, Dangling: []string{"gone"}, Waiting: []string{"fg"}}},
		{name: "D12 owner in another namespace is dangling", itemNS: "ns", refs: []metav1.OwnerReference{cm("elsewhere", "elsewhere-uid")}, want: want{Dangling: []string{"elsewhere"}}},
		{name: "D13 cluster-scoped item, namespaced owner kind: unresolvable", itemNS: "", refs: []metav1.OwnerReference{cm("live", "live-uid")},
			wantErr: func(err error) bool { return errors.Is(err, errNamespacedOwnerOfClusterScopedObject) }},
		{name: "D14 namespaced item, cluster-scoped owner is solid", itemNS: "ns", refs: []metav1.OwnerReference{ns("ns", "ns-uid")}, want: want{Solid: []string{"ns"}}},
		{name: "D14 namespaced item, absent cluster-scoped owner is dangling", itemNS: "ns", refs: []metav1.OwnerReference{ns("nons", "nons-uid")}, want: want{Dangling: []string{"nons"}}},
		{name: "D14 cluster-scoped owner in foreground is waiting", itemNS: "ns", refs: []metav1.OwnerReference{ns("fgns", "fgns-uid")}, want: want{Waiting: []string{"fgns"}}},
		{name: "D14 cluster-scoped item, cluster-scoped owner is solid", itemNS: "", refs: []metav1.OwnerReference{ns("ns", "ns-uid")}, want: want{Solid: []string{"ns"}}},
		{name: "D15 same uid, other name is dangling", itemNS: "ns", refs: []metav1.OwnerReference{cm("not-live", "live-uid")}, want: want{Dangling: []string{"not-live"}}},
		{name: "D15 same uid, other kind is dangling", itemNS: "ns", refs: []metav1.OwnerReference{ownerRef(widgetGVK, "live", "live-uid", false)}, want: want{Dangling: []string{"live"}}},
		{name: "D16 unknown kind is an error", itemNS: "ns", refs: []metav1.OwnerReference{{APIVersion: "x.example.com/v1", Kind: "X", Name: "x", UID: "x"}},
			wantErr: func(err error) bool { var r *restMappingError; return errors.As(err, &r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStepEnv(t, live, other, fg, orphaning, held, nsObj, fgNS)
			item := &node{identity: objectReference{
				OwnerReference: metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "item", UID: types.UID("item-uid")},
				Namespace:      tc.itemNS,
			}}
			solid, dangling, waiting, err := e.c.classifyReferences(e.ctx, item, tc.refs)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "classification", tc.want, want{names(solid), names(dangling), names(waiting)})
		})
	}
}

func names(refs []metav1.OwnerReference) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Name)
	}
	return out
}
