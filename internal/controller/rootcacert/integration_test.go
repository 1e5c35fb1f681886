package rootcacert_test

import (
	"context"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/terminus-project/terminus/internal/apptest"
	"github.com/terminus-project/terminus/internal/controller/rootcacert"
	"github.com/terminus-project/terminus/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestRootCAConfigMap(t *testing.T) {
	srv := apptest.Start(t, apptest.Options{})
	client := srv.Clientset(t)
	ctx := context.Background()
	ca := srv.Config.TLSClientConfig.CAData
	if len(ca) == 0 {
		ca = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	}

	f := informers.NewSharedInformerFactory(client, 0)
	c, err := rootcacert.New(rootcacert.Config{Client: client, Informers: f, RootCA: ca})
	if err != nil {
		t.Fatal(err)
	}
	apptest.Run(t, c, f)

	const name = "ca-test"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms := client.CoreV1().ConfigMaps(name)
	want := map[string]string{rootcacert.DataKey: string(ca)}
	published := func(uidNot string) func() (bool, error) {
		return func() (bool, error) {
			cm, err := cms.Get(ctx, rootcacert.ConfigMapName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return string(cm.UID) != uidNot && maps.Equal(cm.Data, want) &&
				cm.Annotations[rootcacert.DescriptionAnnotation] == rootcacert.Description, nil
		}
	}
	apptest.Eventually(t, "a new namespace gets kube-root-ca.crt", published(""))
	cm, err := cms.Get(ctx, rootcacert.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	cm.Data[rootcacert.DataKey] = "tampered"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "changed data is reset", published(""))

	if err := cms.Delete(ctx, rootcacert.ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "a deleted kube-root-ca.crt comes back", published(string(cm.UID)))
}
