package serviceaccount_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/serviceaccount"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestDefaultServiceAccount(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()

	reg := prometheus.NewRegistry()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := serviceaccount.New(serviceaccount.Config{Client: client, Informers: f, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)
	syncs := func() float64 { return apptest.Counter(t, reg, "terminus_serviceaccount_controller_syncs_total") }

	const name = "sa-test"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sas := client.CoreV1().ServiceAccounts(name)
	var first *corev1.ServiceAccount
	apptest.Eventually(t, "a new namespace gets the default service account", func() (bool, error) {
		sa, err := sas.Get(ctx, serviceaccount.DefaultName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		first = sa
		return err == nil, err
	})
	if err := sas.Delete(ctx, serviceaccount.DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "the deleted default service account comes back", func() (bool, error) {
		sa, err := sas.Get(ctx, serviceaccount.DefaultName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && sa.UID != first.UID, err
	})

	// No namespace controller runs, so a deleted namespace stays
	// Terminating; its default service account must not come back.
	if err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "the namespace sync after the delete", func() (bool, error) {
		ns, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return err == nil && ns.Status.Phase == corev1.NamespaceTerminating, err
	})
	before := syncs()
	if err := sas.Delete(ctx, serviceaccount.DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "the controller looks at the namespace again", func() (bool, error) {
		return syncs() > before, nil
	})
	if _, err := sas.Get(ctx, serviceaccount.DefaultName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("E5 the default service account came back in a terminating namespace: %v", err)
	}
}
