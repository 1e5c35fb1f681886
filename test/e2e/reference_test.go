package e2e

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/terminus-project/terminus/test/scenario"
)

// referenceKubeconfigEnv names the kubeconfig of an external cluster (real
// Kubernetes, e.g. /work/shared/reference) for the differential run.
const referenceKubeconfigEnv = "TERMINUS_REFERENCE_KUBECONFIG"

// referenceCluster adapts an external cluster to scenario.Cluster. Its
// namespaces carry a per-run prefix (the cluster keeps its data between
// runs), wait for the default ServiceAccount (the ServiceAccount admission
// plugin rejects pods until it exists) and are deleted afterwards.
type referenceCluster struct {
	cfg    *rest.Config
	cs     kubernetes.Interface
	prefix string
	seq    atomic.Int64
}

func (c *referenceCluster) Config() *rest.Config { return rest.CopyConfig(c.cfg) }

func (c *referenceCluster) Namespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", c.prefix, c.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := c.cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Logf("deleting namespace %s: %v", name, err)
		}
	})
	for {
		_, err := c.cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		if !apierrors.IsNotFound(err) || ctx.Err() != nil {
			t.Fatalf("waiting for the default ServiceAccount of %s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestScenariosWithControllersReference runs scenario.WithControllers
// against the external cluster named by $TERMINUS_REFERENCE_KUBECONFIG,
// so that the scenarios themselves are checked against real Kubernetes:
//
//	(cd /work/shared/reference && ./start.sh)
//	TERMINUS_REFERENCE_KUBECONFIG=$HOME/.reference/kubeconfig \
//	  go test ./test/e2e -run TestScenariosWithControllersReference -v
//	(cd /work/shared/reference && ./stop.sh)
func TestScenariosWithControllersReference(t *testing.T) {
	path := os.Getenv(referenceKubeconfigEnv)
	if path == "" {
		t.Skipf("set %s to the kubeconfig of a real cluster to run the scenarios against it", referenceKubeconfigEnv)
	}
	t.Parallel()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &referenceCluster{cfg: cfg, cs: cs, prefix: fmt.Sprintf("ref%d", time.Now().Unix()%1000000)}
	scenario.RunSet(t, c, scenario.WithControllers())
}
