package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Files of the self-signed serving certificate, named as the kubelet's
// in <root-dir>/pki.
const (
	servingCertFile = "kubelet.crt"
	servingKeyFile  = "kubelet.key"
)

// renewWithin re-issues a certificate that expires sooner.
const renewWithin = 7 * 24 * time.Hour

// ensureServingCert loads the kubelet API's self-signed certificate from
// dir, making a new one if it is missing, unreadable, about to expire or
// not valid for nodeName and nodeIP. A kubelet without --tls-cert-file
// does the same; kube-apiserver does not verify it unless given
// --kubelet-certificate-authority, and neither does terminus serve.
func ensureServingCert(dir, nodeName string, nodeIP net.IP) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, servingCertFile), filepath.Join(dir, servingKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && usable(c, nodeName, nodeIP) {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: %w", err)
	}
	ips := []net.IP{nodeIP}
	if !nodeIP.IsLoopback() {
		ips = append(ips, net.IPv4(127, 0, 0, 1))
	}
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(nodeName, ips, []string{"localhost"})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: serving certificate: %w", err)
	}
	if err := keyutil.WriteKey(keyPath, keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: %w", err)
	}
	if err := cert.WriteCert(certPath, certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: serving certificate: %w", err)
	}
	return c, nil
}

func usable(c tls.Certificate, nodeName string, nodeIP net.IP) bool {
	if len(c.Certificate) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil || time.Until(leaf.NotAfter) < renewWithin {
		return false
	}
	return leaf.VerifyHostname(nodeName) == nil && leaf.VerifyHostname(nodeIP.String()) == nil
}
