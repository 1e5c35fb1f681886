// Package fieldsel implements field selectors for the built-in resources:
// the selectable field set of each object (upstream's registry
// GetAttrs/ToSelectableFields in k8s.io/kubernetes pkg/registry/*/strategy.go)
// and the check of which labels a resource accepts (upstream's field-label
// conversion functions, pkg/apis/*/v1/conversion.go, or
// runtime.DefaultMetaV1FieldSelectorConversion for types without one).
//
// Deliberate difference (spec I6): metadata.name and metadata.namespace are
// accepted on every resource, including namespaces and nodes whose upstream
// conversion functions reject metadata.namespace; for cluster-scoped objects
// metadata.namespace is "".
package fieldsel

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Fields returns every selectable field of obj. It allocates one small map
// and does no reflection for the built-in types, since it runs for every
// object of every filtered list and watch event.
func Fields(obj runtime.Object) fields.Set {
	switch o := obj.(type) {
	case *corev1.Pod:
		s := make(fields.Set, 11)
		meta2(s, o.Name, o.Namespace)
		s["spec.nodeName"] = o.Spec.NodeName
		s["spec.restartPolicy"] = string(o.Spec.RestartPolicy)
		s["spec.schedulerName"] = o.Spec.SchedulerName
		s["spec.serviceAccountName"] = o.Spec.ServiceAccountName
		// Upstream keeps hostNetwork in the internal security context and
		// reports false when unset.
		s["spec.hostNetwork"] = strconv.FormatBool(o.Spec.HostNetwork)
		s["status.phase"] = string(o.Status.Phase)
		// status.podIP is podIPs[0]; status.podIPs is accepted by the
		// conversion but not in the set, so it only matches "".
		podIP := ""
		if len(o.Status.PodIPs) > 0 {
			podIP = o.Status.PodIPs[0].IP
		} else {
			podIP = o.Status.PodIP
		}
		s["status.podIP"] = podIP
		s["status.nominatedNodeName"] = o.Status.NominatedNodeName
		return s
	case *corev1.Event:
		s := make(fields.Set, 13)
		meta2(s, o.Name, o.Namespace)
		source := o.Source.Component
		if source == "" {
			source = o.ReportingController
		}
		s["involvedObject.kind"] = o.InvolvedObject.Kind
		s["involvedObject.namespace"] = o.InvolvedObject.Namespace
		s["involvedObject.name"] = o.InvolvedObject.Name
		s["involvedObject.uid"] = string(o.InvolvedObject.UID)
		s["involvedObject.apiVersion"] = o.InvolvedObject.APIVersion
		s["involvedObject.resourceVersion"] = o.InvolvedObject.ResourceVersion
		s["involvedObject.fieldPath"] = o.InvolvedObject.FieldPath
		s["reason"] = o.Reason
		s["reportingComponent"] = o.ReportingController // core/v1 name
		s["source"] = source
		s["type"] = o.Type
		return s
	case *eventsv1.Event:
		s := make(fields.Set, 13)
		meta2(s, o.Name, o.Namespace)
		source := o.DeprecatedSource.Component
		if source == "" {
			source = o.ReportingController
		}
		s["regarding.kind"] = o.Regarding.Kind
		s["regarding.namespace"] = o.Regarding.Namespace
		s["regarding.name"] = o.Regarding.Name
		s["regarding.uid"] = string(o.Regarding.UID)
		s["regarding.apiVersion"] = o.Regarding.APIVersion
		s["regarding.resourceVersion"] = o.Regarding.ResourceVersion
		s["regarding.fieldPath"] = o.Regarding.FieldPath
		s["reason"] = o.Reason
		s["reportingController"] = o.ReportingController
		s["source"] = source
		s["type"] = o.Type
		return s
	case *corev1.Secret:
		s := make(fields.Set, 3)
		meta2(s, o.Name, o.Namespace)
		s["type"] = string(o.Type)
		return s
	case *corev1.Namespace:
		s := make(fields.Set, 3)
		meta2(s, o.Name, "")
		s["status.phase"] = string(o.Status.Phase)
		return s
	case *corev1.Node:
		s := make(fields.Set, 3)
		meta2(s, o.Name, "")
		s["spec.unschedulable"] = strconv.FormatBool(o.Spec.Unschedulable)
		return s
	case *corev1.Service:
		s := make(fields.Set, 4)
		meta2(s, o.Name, o.Namespace)
		s["spec.clusterIP"] = o.Spec.ClusterIP
		s["spec.type"] = string(o.Spec.Type)
		return s
	case *corev1.ReplicationController:
		s := make(fields.Set, 3)
		meta2(s, o.Name, o.Namespace)
		s["status.replicas"] = strconv.Itoa(int(o.Status.Replicas))
		return s
	case *appsv1.ReplicaSet:
		s := make(fields.Set, 3)
		meta2(s, o.Name, o.Namespace)
		s["status.replicas"] = strconv.Itoa(int(o.Status.Replicas))
		return s
	case *batchv1.Job:
		s := make(fields.Set, 3)
		meta2(s, o.Name, o.Namespace)
		s["status.successful"] = strconv.Itoa(int(o.Status.Succeeded))
		return s
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return fields.Set{}
	}
	s := make(fields.Set, 2)
	meta2(s, m.GetName(), m.GetNamespace())
	return s
}

func meta2(s fields.Set, name, namespace string) {
	s["metadata.name"] = name
	s["metadata.namespace"] = namespace
}

// labelsFor lists the labels each resource accepts beyond metadata.name and
// metadata.namespace, and whether upstream rejects others with the
// custom-conversion message (true) or the default one (false).
func labelsFor(gr schema.GroupResource) (extra []string, custom bool) {
	switch gr {
	case schema.GroupResource{Resource: "pods"}:
		return []string{"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
			"spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName", "spec.host"}, true
	case schema.GroupResource{Resource: "events"}:
		return []string{"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
			"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
			"reason", "reportingComponent", "source", "type"}, true
	case schema.GroupResource{Group: "events.k8s.io", Resource: "events"}:
		return []string{"regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
			"regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
			"reason", "reportingController", "source", "type"}, true
	case schema.GroupResource{Resource: "secrets"}:
		return []string{"type"}, true
	case schema.GroupResource{Resource: "namespaces"}:
		return []string{"status.phase"}, true
	case schema.GroupResource{Resource: "nodes"}:
		return []string{"spec.unschedulable"}, true
	case schema.GroupResource{Resource: "services"}:
		return []string{"spec.clusterIP", "spec.type"}, true
	case schema.GroupResource{Resource: "replicationcontrollers"}:
		return []string{"status.replicas"}, true
	case schema.GroupResource{Group: "apps", Resource: "replicasets"}:
		// Selectable in the registry (status.replicas); accepted here so
		// that the field the registry publishes can be used.
		return []string{"status.replicas"}, true
	case schema.GroupResource{Group: "batch", Resource: "jobs"}:
		return []string{"status.successful"}, true
	}
	return nil, false
}

// Convert checks every requirement of sel against the labels gr accepts and
// returns the selector with upstream's label renames applied (pods:
// spec.host -> spec.nodeName). The error text is exactly upstream's; the
// apiserver turns it into a 400 BadRequest with that message.
func Convert(gr schema.GroupResource, sel fields.Selector) (fields.Selector, error) {
	if sel == nil || sel.Empty() {
		return sel, nil
	}
	extra, custom := labelsFor(gr)
	return sel.Transform(func(label, value string) (string, string, error) {
		if label == "metadata.name" || label == "metadata.namespace" {
			return label, value, nil
		}
		for _, l := range extra {
			if l == label {
				if gr.Resource == "pods" && gr.Group == "" && label == "spec.host" {
					// Backwards compatibility with old v1 clients.
					return "spec.nodeName", value, nil
				}
				return label, value, nil
			}
		}
		return "", "", unsupported(gr, label, custom)
	})
}

// Validate is Convert without the transformed selector.
func Validate(gr schema.GroupResource, sel fields.Selector) error {
	_, err := Convert(gr, sel)
	return err
}

func unsupported(gr schema.GroupResource, label string, custom bool) error {
	switch {
	case gr.Group == "batch" && gr.Resource == "jobs":
		return fmt.Errorf("field label %q not supported for batchv1.Job", label)
	case custom:
		return fmt.Errorf("field label not supported: %s", label)
	}
	return fmt.Errorf("%q is not a known field selector: only %q, %q", label, "metadata.name", "metadata.namespace")
}
