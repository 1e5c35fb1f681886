package agent

import (
	"bytes"
	"crypto/x509"
	"net"
	"testing"
)

func TestEnsureServingCert(t *testing.T) {
	dir := t.TempDir()
	ip := net.ParseIP("10.0.0.7")
	first, err := ensureServingCert(dir, "node-a", ip)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(first.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"node-a", "10.0.0.7", "127.0.0.1", "localhost"} {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Errorf("certificate does not cover %s: %v", host, err)
		}
	}

	// A restart with the same identity keeps the certificate.
	again, err := ensureServingCert(dir, "node-a", ip)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Certificate[0], first.Certificate[0]) {
		t.Error("same node and IP: the certificate was replaced")
	}

	// A new node IP needs a certificate that covers it.
	moved, err := ensureServingCert(dir, "node-a", net.ParseIP("10.0.0.8"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(moved.Certificate[0], first.Certificate[0]) {
		t.Fatal("new node IP: the old certificate was kept")
	}
	leaf, _ = x509.ParseCertificate(moved.Certificate[0])
	if err := leaf.VerifyHostname("10.0.0.8"); err != nil {
		t.Errorf("new certificate: %v", err)
	}
}
