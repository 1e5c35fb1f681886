package pki

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names used inside generated kubeconfigs.
const (
	KubeconfigCluster = "terminus"
	KubeconfigUser    = "admin"
	KubeconfigContext = "terminus"
)

// WriteKubeconfig writes a standalone kubeconfig for the admin user to path:
// cluster "terminus" (server URL plus the CA inlined as
// certificate-authority-data, so the file works when copied elsewhere),
// user "admin" authenticating with the bearer token, and context
// "terminus" selected as current.
//
// The file is replaced atomically (temp file + rename) with 0600
// permissions: it contains the admin token, and a client polling for it
// (e.g. `terminus bench --scenario ready`) must never read half a file. An
// existing file at path is overwritten, not merged, so do not point this
// at a shared ~/.kube/config.
func WriteKubeconfig(path, server string, b *Bundle) error {
	if path == "" {
		return errors.New("pki: kubeconfig path is empty")
	}
	if server == "" {
		return errors.New("pki: kubeconfig server URL is empty")
	}
	if b == nil || len(b.CAPEM) == 0 || b.AdminToken == "" {
		return errors.New("pki: kubeconfig needs a bundle with a CA and admin token")
	}
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = server
	cluster.CertificateAuthorityData = append([]byte(nil), b.CAPEM...)
	cfg.Clusters[KubeconfigCluster] = cluster

	user := clientcmdapi.NewAuthInfo()
	user.Token = b.AdminToken
	cfg.AuthInfos[KubeconfigUser] = user

	ctx := clientcmdapi.NewContext()
	ctx.Cluster = KubeconfigCluster
	ctx.AuthInfo = KubeconfigUser
	cfg.Contexts[KubeconfigContext] = ctx
	cfg.CurrentContext = KubeconfigContext

	// clientcmd.Write produces exactly what clientcmd.WriteToFile would;
	// we do the file handling ourselves to get the atomic rename.
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("pki: serialize kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return fmt.Errorf("pki: create kubeconfig directory: %w", err)
	}
	if err := atomicWrite(path, data, secretPerm); err != nil {
		return fmt.Errorf("pki: write kubeconfig: %w", err)
	}
	return nil
}
