// Package controller is the widget operator's reconciler and the manager
// set-up shared by cmd/widget-operator and the tests.
//
// For every Widget the reconciler keeps the finalizer example.com/cleanup,
// server-side applies a ConfigMap "<widget>-config" holding spec.data and
// owned by the Widget (controller ownerReference, blockOwnerDeletion), and
// writes status (ready, configMap, observedGeneration) through the status
// subresource. When a Widget is being deleted it deletes the ConfigMap,
// waits until the ConfigMap is gone and only then removes the finalizer.
package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	examplev1 "github.com/terminus-project/terminus/test/operator/api/v1"
)

const (
	// Finalizer is put on every live Widget; it is removed once the
	// Widget's ConfigMap is gone.
	Finalizer = "example.com/cleanup"
	// FieldManager is the field manager of every write the operator makes.
	FieldManager = "widget-operator"
	// deletionPoll is how soon a deleting Widget is looked at again while its
	// ConfigMap still exists.
	deletionPoll = 200 * time.Millisecond
)

// ConfigMapName is the name of the ConfigMap the operator keeps for widget.
func ConfigMapName(widget string) string { return widget + "-config" }

// WidgetReconciler reconciles Widgets.
type WidgetReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads straight from the API server (no cache).
	APIReader client.Reader
	Scheme    *runtime.Scheme
}

// Reconcile implements reconcile.Reconciler.
func (r *WidgetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)

	w := &examplev1.Widget{}
	if err := r.Client.Get(ctx, req.NamespacedName, w); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if !w.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, w)
	}

	if !controllerutil.ContainsFinalizer(w, Finalizer) {
		controllerutil.AddFinalizer(w, Finalizer)
		if err := r.Client.Update(ctx, w); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		logger.Info("added finalizer")
	}

	cmName := ConfigMapName(w.Name)
	gvk := examplev1.GroupVersion.WithKind("Widget")
	cm := corev1ac.ConfigMap(cmName, w.Namespace).
		WithLabels(map[string]string{"example.com/widget": w.Name}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(gvk.GroupVersion().String()).
			WithKind(gvk.Kind).
			WithName(w.Name).
			WithUID(w.UID).
			WithController(true).
			WithBlockOwnerDeletion(true)).
		WithData(w.Spec.Data)
	if err := r.Client.Apply(ctx, cm, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return ctrl.Result{}, fmt.Errorf("applying ConfigMap %s: %w", cmName, err)
	}

	want := examplev1.WidgetStatus{Ready: true, ConfigMap: cmName, ObservedGeneration: w.Generation}
	if w.Status != want {
		w.Status = want
		if err := r.Client.Status().Update(ctx, w, client.FieldOwner(FieldManager)); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating status: %w", err)
		}
		logger.Info("status updated", "observedGeneration", w.Generation)
	}
	return ctrl.Result{}, nil
}

// finalize deletes the Widget's ConfigMap, waits for it to be gone and then
// removes the finalizer.
func (r *WidgetReconciler) finalize(ctx context.Context, w *examplev1.Widget) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(w, Finalizer) {
		return ctrl.Result{}, nil
	}
	key := types.NamespacedName{Namespace: w.Namespace, Name: ConfigMapName(w.Name)}
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, key, cm)
	switch {
	case apierrors.IsNotFound(err):
		// Gone: the finalizer can go.
	case err != nil:
		return ctrl.Result{}, err
	default:
		if cm.DeletionTimestamp.IsZero() {
			uid := cm.UID
			err := r.Client.Delete(ctx, cm, client.Preconditions{UID: &uid},
				client.PropagationPolicy(metav1.DeletePropagationBackground))
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return ctrl.Result{}, fmt.Errorf("deleting ConfigMap %s: %w", key.Name, err)
			}
			log.FromContext(ctx).Info("deleted ConfigMap", "configMap", key.Name)
		}
		return ctrl.Result{RequeueAfter: deletionPoll}, nil
	}

	controllerutil.RemoveFinalizer(w, Finalizer)
	if err := r.Client.Update(ctx, w); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("removing finalizer: %w", err))
	}
	log.FromContext(ctx).Info("removed finalizer")
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with mgr: it watches Widgets and
// the ConfigMaps they control.
func (r *WidgetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("widget").
		For(&examplev1.Widget{}).
		Owns(&corev1.ConfigMap{}).
		Complete(r)
}
