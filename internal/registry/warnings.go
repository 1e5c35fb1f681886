package registry

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Warner collects the warnings a request produces; the apiserver sends
// each as a `Warning: 299 - "<text>"` header (spec J13).
type Warner interface {
	AddWarning(text string)
}

type warnerKey struct{}

// WithWarner returns a context whose registry calls report warnings to w.
func WithWarner(ctx context.Context, w Warner) context.Context {
	return context.WithValue(ctx, warnerKey{}, w)
}

func addWarning(ctx context.Context, text string) {
	if w, ok := ctx.Value(warnerKey{}).(Warner); ok {
		w.AddWarning(text)
	}
}

// dedupOwnerReferences removes exact duplicate owner references with
// upstream's warning (spec A10).
func dedupOwnerReferences(ctx context.Context, m metav1.Object) {
	refs := m.GetOwnerReferences()
	if len(refs) < 2 {
		return
	}
	seen := make(map[string]struct{}, len(refs))
	out := refs[:0:0]
	var dups []string
	for _, r := range refs {
		k := fmt.Sprintf("%+v", r)
		if _, ok := seen[k]; ok {
			dups = append(dups, string(r.UID))
			continue
		}
		seen[k] = struct{}{}
		out = append(out, r)
	}
	if len(dups) == 0 {
		return
	}
	m.SetOwnerReferences(out)
	addWarning(ctx, fmt.Sprintf(".metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: %v", strings.Join(dups, ", ")))
}
