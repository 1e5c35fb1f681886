package runner

import apierrors "k8s.io/apimachinery/pkg/api/errors"

// IgnoreGoneOrStale drops a NotFound (the object is gone) or a Conflict (a
// newer version is on its way through the informer, which queues the key
// again): neither is worth a retry of a sync that wrote from its cache.
func IgnoreGoneOrStale(err error) error {
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
