package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The pod subresources that reach the node's agent (log, exec, attach,
// portforward) share upstream's rules of pkg/registry/core/pod/strategy.go
// (LogLocation, streamLocation, PortForwardLocation): which container, and
// whether the pod has a node at all. The HTTP side lives in the apiserver.

// PodContainer is upstream's validateContainer: an empty name means the
// pod's only container; with several the caller must choose one of the
// pod's containers (init, regular and ephemeral, in that order); a name
// the pod does not have is 400.
func PodContainer(pod *corev1.Pod, container string) (string, error) {
	if container == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		default:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, podContainerNames(pod)))
		}
	}
	for _, name := range podContainerNames(pod) {
		if name == container {
			return container, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod.Name))
}

// podContainerNames lists the names in upstream's VisitContainers order.
func podContainerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	return names
}

// NoHostAssigned is the 400 of exec, attach and portforward on a pod that
// is not bound to a node yet (pods/log answers 204 instead).
func NoHostAssigned(name string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
}

// ValidatePodLogOptions is upstream's ValidatePodLogOptions with the
// PodLogsQuerySplitStreams gate off (alpha, the default): stream may not
// be set. Errors are reported as PodLogOptions "<pod>" is invalid (422).
func ValidatePodLogOptions(name string, opts *corev1.PodLogOptions) error {
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, "must be greater than or equal to 0"))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	if opts.Stream != nil {
		errs = append(errs, field.Forbidden(field.NewPath("stream"), "may not be specified"))
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("PodLogOptions").GroupKind(), name, errs)
}
