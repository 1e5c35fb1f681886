package runner

import "k8s.io/client-go/tools/cache"

// Unwrap returns an informer event's object as T, looking inside the
// tombstone (cache.DeletedFinalStateUnknown) that a delete the informer
// missed leaves; ok is false for anything else.
func Unwrap[T any](obj any) (T, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	v, ok := obj.(T)
	return v, ok
}
