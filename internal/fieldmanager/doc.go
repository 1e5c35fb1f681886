// Package fieldmanager tracks field ownership (metadata.managedFields) and
// performs server-side apply for one resource on one subresource, the way
// kube-apiserver's handlers do, on top of
// k8s.io/apimachinery/pkg/util/managedfields alone.
//
// k8s.io/apiserver's fieldmanager package is deliberately not used: it
// would pull in about 95 packages for an admission wrapper terminus does
// not need (see shared/notes/openapi-and-ssa.md). What the handlers add
// around managedfields is reproduced here instead: decoding the apply
// patch, the error statuses, the default manager name from the
// User-Agent, the fieldManager validation, and never failing a non-apply
// write because ownership could not be computed.
//
// Two things differ from calling managedfields directly:
//   - Timestamps of managedFields entries come from an injected clock
//     (DESIGN decision 4). managedfields stamps time.Now() internally and
//     offers no hook, so the entries it has just stamped are found after
//     the call and re-stamped; see fixTimes.
//   - Built-in types are served in one external version with no internal
//     types, so the hub version is the kind's own version and conversions
//     are the identity.
//
// resourceVersion, generation and the other system fields stay with the
// caller, as do admission and validation of the result.
package fieldmanager
