package app

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/terminus-project/terminus/internal/registry"
)

// systemNamespaces are created at start, as kube-apiserver's bootstrap
// controller creates them.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates what a fresh cluster has before any client acts.
func bootstrap(ctx context.Context, reg *registry.Registry) error {
	nsStore, ok := reg.Store(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if !ok {
		return nil
	}
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := nsStore.Create(ctx, "", ns, registry.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	return createDefaultService(ctx, reg)
}

// createDefaultService creates default/kubernetes, the Service every
// cluster has for its API server (kube-apiserver's bootstrap controller),
// so that `kubectl get all` on a fresh terminus looks as on Kubernetes.
func createDefaultService(ctx context.Context, reg *registry.Registry) error {
	svcStore, ok := reg.Store(corev1.SchemeGroupVersion.WithResource("services"))
	if !ok {
		return nil
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "kubernetes",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"},
		},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.0.1",
			ClusterIPs: []string{"10.96.0.1"},
			Ports:      []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(6443)}},
		},
	}
	if _, err := svcStore.Create(ctx, metav1.NamespaceDefault, svc, registry.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the default/kubernetes service: %w", err)
	}
	return nil
}
