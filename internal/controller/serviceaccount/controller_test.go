package serviceaccount

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func ns(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
	if phase == corev1.NamespaceTerminating {
		now := metav1.Now()
		n.DeletionTimestamp = &now
	}
	return n
}

func terminatingErr(ns string) error {
	err := apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, DefaultName,
		errEnsure("unable to create new content in namespace "+ns+" because it is being terminated"))
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause, Message: "namespace " + ns + " is being terminated", Field: "metadata.namespace"}}
	return err
}

type errEnsure string

func (e errEnsure) Error() string { return string(e) }

func TestSync(t *testing.T) {
	tests := []struct {
		name       string
		ns         *corev1.Namespace
		existing   bool
		createErr  error
		wantErr    bool
		wantCreate bool
	}{
		{name: "an Active namespace without default gets one", ns: ns("a", corev1.NamespaceActive), wantCreate: true},
		{name: "an existing default is left alone", ns: ns("a", corev1.NamespaceActive), existing: true},
		{name: "E5 a terminating namespace is skipped", ns: ns("a", corev1.NamespaceTerminating)},
		{name: "a namespace the cache does not know is skipped"},
		{name: "E5 NamespaceTerminating on create is not retried", ns: ns("a", corev1.NamespaceActive),
			createErr: terminatingErr("a"), wantCreate: true},
		{name: "AlreadyExists on create is fine", ns: ns("a", corev1.NamespaceActive),
			createErr: apierrors.NewAlreadyExists(schema.GroupResource{Resource: "serviceaccounts"}, DefaultName), wantCreate: true},
		{name: "other create errors are retried", ns: ns("a", corev1.NamespaceActive),
			createErr: apierrors.NewInternalError(errEnsure("boom")), wantCreate: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := kubefake.NewClientset()
			if tt.createErr != nil {
				client.PrependReactor("create", "serviceaccounts", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, tt.createErr
				})
			}
			f := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: f})
			if err != nil {
				t.Fatal(err)
			}
			if tt.ns != nil {
				if err := f.Core().V1().Namespaces().Informer().GetIndexer().Add(tt.ns); err != nil {
					t.Fatal(err)
				}
			}
			if tt.existing {
				sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: "a"}}
				if err := f.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(sa); err != nil {
					t.Fatal(err)
				}
			}
			err = c.sync(context.Background(), "a")
			if (err != nil) != tt.wantErr {
				t.Fatalf("sync = %v, want error %v", err, tt.wantErr)
			}
			var created []string
			for _, a := range client.Actions() {
				if a.GetVerb() == "create" && a.GetResource().Resource == "serviceaccounts" {
					sa := a.(clienttesting.CreateAction).GetObject().(*corev1.ServiceAccount)
					created = append(created, a.GetNamespace()+"/"+sa.Name)
				}
			}
			if got := len(created) > 0; got != tt.wantCreate {
				t.Fatalf("created %v, want a create: %v", created, tt.wantCreate)
			}
			if tt.wantCreate && created[0] != "a/default" {
				t.Errorf("created %v, want a/default", created)
			}
		})
	}
}
