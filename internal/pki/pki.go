// Package pki creates and maintains the credentials terminus needs to serve
// HTTPS on first start: a private certificate authority, a serving
// certificate signed by it, an admin client certificate, and an admin bearer
// token. Everything lives under <data-dir>/pki so that a restarted server
// keeps the identity that previously written kubeconfigs trust.
//
// Keys are ECDSA P-256: it is accepted by Go's crypto/tls, kubectl, curl and
// every TLS stack we care about, and keeps handshakes cheap. Ed25519 would
// be smaller still, but browsers and some TLS libraries still reject
// Ed25519 certificates.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside <data-dir>/pki.
const (
	SubdirName      = "pki"
	CACertFile      = "ca.crt"
	CAKeyFile       = "ca.key"
	ServingCertFile = "serving.crt"
	ServingKeyFile  = "serving.key"
	AdminCertFile   = "admin.crt"
	AdminKeyFile    = "admin.key"
	AdminTokenFile  = "admin-token"
)

// Identity baked into the admin client certificate. system:masters is the
// group Kubernetes authorizers treat as cluster-admin, so a terminus admin
// certificate means the same thing to tooling as a kubeadm one.
const (
	AdminCommonName   = "terminus-admin"
	AdminOrganization = "system:masters"
)

// Validity periods. The CA is long-lived because rotating it invalidates
// every kubeconfig handed out; leaf certificates are short enough that a
// leaked one ages out, and they are renewed automatically on start.
const (
	caValidity    = 10 * 365 * 24 * time.Hour
	leafValidity  = 365 * 24 * time.Hour
	renewBefore   = 30 * 24 * time.Hour
	backdate      = time.Hour // tolerate modest clock skew between client and server
	tokenBytes    = 32
	dirPerm       = 0o700
	secretPerm    = 0o600
	caCommonName  = "terminus-ca"
	servingCNName = "terminus"
)

// Options tunes Ensure.
type Options struct {
	// ExtraSANs are additional names the serving certificate must cover,
	// e.g. the host of --bind-address or a public DNS name. Entries that
	// parse as IP addresses become IP SANs, everything else a DNS SAN.
	// Unspecified addresses (0.0.0.0, ::) and empty strings are ignored:
	// a client can never dial them, so they are no use in a certificate.
	// 127.0.0.1, ::1 and localhost are always included.
	ExtraSANs []string

	// Now overrides the clock, for tests. Nil means time.Now.
	Now func() time.Time
}

// Bundle is the loaded set of credentials.
type Bundle struct {
	// Dir is the directory holding the files (<data-dir>/pki).
	Dir string

	// CAPEM is the PEM-encoded CA certificate, for kubeconfigs and clients.
	CAPEM []byte
	// CACert is the parsed CA certificate.
	CACert *x509.Certificate
	// CAPool contains only CACert. It is used both to verify client
	// certificates and by clients that should trust this server.
	CAPool *x509.CertPool

	// AdminToken is the bearer token that authenticates as the admin user.
	AdminToken string

	// ServingCert is the server's certificate chain and key.
	ServingCert tls.Certificate
	// AdminCert is the admin client certificate chain and key.
	AdminCert tls.Certificate
	// AdminCertPEM and AdminKeyPEM are the PEM forms of AdminCert, for
	// writing client-certificate kubeconfigs.
	AdminCertPEM []byte
	AdminKeyPEM  []byte

	// Generated lists the files written by this Ensure call (base names),
	// so the caller can log what happened on start.
	Generated []string
}

// TLSConfig returns a fresh server-side TLS configuration. Client
// certificates are optional (bearer tokens must keep working) but, when
// presented, must chain to the terminus CA; the server then reads the user
// from the leaf's CN and groups from its O fields.
//
// NextProtos advertises h2 so watches multiplex over one connection even if
// the caller wraps a listener with tls.NewListener instead of using
// http.Server.ServeTLS (which would add it on its own).
func (b *Bundle) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{b.ServingCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    b.CAPool,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// Ensure loads the credentials under dir/pki, generating whatever is
// missing. dir is the server's data directory.
//
// Rules, chosen so that restarts never silently break existing clients:
//   - ca.crt is the commit point for the CA: if it is absent a new CA is
//     generated (and all leaves are re-issued). If ca.crt exists but ca.key
//     does not, or they do not match, Ensure fails instead of replacing a CA
//     that clients may still trust.
//   - the admin token is generated once and never rotated here.
//   - the serving certificate is re-issued if it is missing, unreadable, not
//     signed by the CA, does not cover the requested SANs, or expires within
//     30 days. The admin client certificate follows the same rules minus SANs.
func Ensure(dir string, opts Options) (*Bundle, error) {
	if dir == "" {
		return nil, errors.New("pki: data directory is empty")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	pkiDir := filepath.Join(dir, SubdirName)
	if err := os.MkdirAll(pkiDir, dirPerm); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", pkiDir, err)
	}
	b := &Bundle{Dir: pkiDir}

	caCert, caKey, caPEM, err := ensureCA(b, now())
	if err != nil {
		return nil, err
	}
	b.CACert, b.CAPEM = caCert, caPEM
	b.CAPool = x509.NewCertPool()
	b.CAPool.AddCert(caCert)

	if b.AdminToken, err = ensureToken(b); err != nil {
		return nil, err
	}

	dnsNames, ips := servingSANs(opts.ExtraSANs)
	servingTmpl := func() *x509.Certificate {
		return &x509.Certificate{
			Subject:     pkix.Name{CommonName: servingCNName},
			DNSNames:    dnsNames,
			IPAddresses: ips,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
	}
	servingOK := func(c *x509.Certificate) bool { return coversSANs(c, dnsNames, ips) }
	b.ServingCert, _, _, err = ensureLeaf(b, ServingCertFile, ServingKeyFile, caCert, caKey, now(), servingTmpl, servingOK)
	if err != nil {
		return nil, err
	}

	adminTmpl := func() *x509.Certificate {
		return &x509.Certificate{
			Subject:     pkix.Name{CommonName: AdminCommonName, Organization: []string{AdminOrganization}},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
	}
	adminOK := func(c *x509.Certificate) bool {
		return c.Subject.CommonName == AdminCommonName && len(c.Subject.Organization) == 1 &&
			c.Subject.Organization[0] == AdminOrganization
	}
	b.AdminCert, b.AdminCertPEM, b.AdminKeyPEM, err = ensureLeaf(b, AdminCertFile, AdminKeyFile, caCert, caKey, now(), adminTmpl, adminOK)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ensureCA loads or creates the CA key pair.
func ensureCA(b *Bundle, now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	certPath := filepath.Join(b.Dir, CACertFile)
	keyPath := filepath.Join(b.Dir, CAKeyFile)

	certPEM, err := os.ReadFile(certPath)
	switch {
	case err == nil:
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("pki: %s exists but its key cannot be read (refusing to replace a CA clients may trust; remove %s to start over): %w", certPath, certPath, err)
		}
		cert, key, err := parsePair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("pki: load CA from %s: %w", b.Dir, err)
		}
		if !cert.IsCA {
			return nil, nil, nil, fmt.Errorf("pki: %s is not a CA certificate", certPath)
		}
		if now.After(cert.NotAfter) {
			return nil, nil, nil, fmt.Errorf("pki: CA %s expired at %s; remove %s to generate a new one", certPath, cert.NotAfter.Format(time.RFC3339), b.Dir)
		}
		if err := tightenPerm(keyPath); err != nil {
			return nil, nil, nil, err
		}
		return cert, key, certPEM, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, nil, nil, fmt.Errorf("pki: read %s: %w", certPath, err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: self-sign CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: parse new CA: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// Key first, certificate last: ca.crt appearing is what marks the CA
	// as complete, so a crash in between just regenerates next time.
	if err := writeSecret(b, CAKeyFile, keyPEM); err != nil {
		return nil, nil, nil, err
	}
	if err := writeSecret(b, CACertFile, certPEM); err != nil {
		return nil, nil, nil, err
	}
	// Leaves signed by a previous CA are useless now; removing them makes
	// ensureLeaf re-issue unconditionally rather than relying on a
	// signature check alone.
	for _, f := range []string{ServingCertFile, ServingKeyFile, AdminCertFile, AdminKeyFile} {
		if err := os.Remove(filepath.Join(b.Dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("pki: remove stale %s: %w", f, err)
		}
	}
	return cert, key, certPEM, nil
}

// ensureToken loads or creates the admin bearer token.
func ensureToken(b *Bundle) (string, error) {
	path := filepath.Join(b.Dir, AdminTokenFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return "", fmt.Errorf("pki: %s is empty; remove it to generate a new token", path)
		}
		if err := tightenPerm(path); err != nil {
			return "", err
		}
		return tok, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return "", fmt.Errorf("pki: read %s: %w", path, err)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("pki: generate token: %w", err)
	}
	// Hex keeps the token free of characters that need quoting in shells,
	// HTTP headers or YAML.
	tok := hex.EncodeToString(raw)
	if err := writeSecret(b, AdminTokenFile, []byte(tok+"\n")); err != nil {
		return "", err
	}
	return tok, nil
}

// ensureLeaf loads the leaf certificate in certFile/keyFile if it is still
// usable (signed by ca, not expiring within renewBefore, accepted by ok),
// and otherwise issues a new one from tmpl.
func ensureLeaf(b *Bundle, certFile, keyFile string, ca *x509.Certificate, caKey crypto.Signer, now time.Time,
	tmpl func() *x509.Certificate, ok func(*x509.Certificate) bool) (tls.Certificate, []byte, []byte, error) {
	certPath := filepath.Join(b.Dir, certFile)
	keyPath := filepath.Join(b.Dir, keyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if certErr == nil && keyErr == nil {
		if cert, _, err := parsePair(certPEM, keyPEM); err == nil &&
			cert.CheckSignatureFrom(ca) == nil &&
			now.Add(renewBefore).Before(cert.NotAfter) &&
			!now.Before(cert.NotBefore) &&
			ok(cert) {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				return tls.Certificate{}, nil, nil, fmt.Errorf("pki: load %s: %w", certPath, err)
			}
			if err := tightenPerm(keyPath); err != nil {
				return tls.Certificate{}, nil, nil, err
			}
			return pair, certPEM, keyPEM, nil
		}
	} else {
		// Anything other than "missing" (permissions, I/O) is worth
		// surfacing rather than papering over with a new certificate.
		for _, e := range []error{certErr, keyErr} {
			if e != nil && !errors.Is(e, fs.ErrNotExist) {
				return tls.Certificate{}, nil, nil, fmt.Errorf("pki: read leaf certificate: %w", e)
			}
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("pki: generate key for %s: %w", certFile, err)
	}
	t := tmpl()
	t.NotBefore = now.Add(-backdate)
	t.NotAfter = now.Add(leafValidity)
	if t.NotAfter.After(ca.NotAfter) {
		t.NotAfter = ca.NotAfter // a leaf outliving its CA would fail verification anyway
	}
	t.BasicConstraintsValid = true
	if t.SerialNumber, err = randomSerial(); err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, t, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("pki: sign %s: %w", certFile, err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeSecret(b, keyFile, keyPEM); err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	if err := writeSecret(b, certFile, certPEM); err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("pki: load new %s: %w", certFile, err)
	}
	return pair, certPEM, keyPEM, nil
}

// servingSANs returns the DNS names and IPs the serving certificate must
// cover: the loopback defaults plus extras, deduplicated, in stable order.
func servingSANs(extra []string) ([]string, []net.IP) {
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, s := range extra {
		s = strings.TrimSpace(s)
		// Accept "[::1]" as people copy it out of URLs.
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if s == "" {
			continue
		}
		if ip := net.ParseIP(s); ip != nil {
			if ip.IsUnspecified() {
				continue
			}
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if !containsIP(ips, ip) {
				ips = append(ips, ip)
			}
			continue
		}
		s = strings.ToLower(s)
		if !containsString(dnsNames, s) {
			dnsNames = append(dnsNames, s)
		}
	}
	return dnsNames, ips
}

// coversSANs reports whether c lists every wanted name and IP. Extra SANs
// in c are fine: dropping an --bind-address must not force re-issuing.
func coversSANs(c *x509.Certificate, dnsNames []string, ips []net.IP) bool {
	for _, d := range dnsNames {
		found := false
		for _, have := range c.DNSNames {
			if strings.EqualFold(have, d) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, ip := range ips {
		if !containsIP(c.IPAddresses, ip) {
			return false
		}
	}
	return true
}

func containsIP(list []net.IP, ip net.IP) bool {
	for _, have := range list {
		if have.Equal(ip) {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, have := range list {
		if have == s {
			return true
		}
	}
	return false
}

// parsePair decodes a PEM certificate and its PEM private key and checks
// they belong together.
func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, errors.New("no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("no private key PEM block")
	}
	var key any
	switch kb.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		return nil, nil, fmt.Errorf("unsupported private key PEM type %q", kb.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("private key type %T cannot sign", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, errors.New("private key does not match certificate")
	}
	return cert, signer, nil
}

// encodeKey PEM-encodes key as PKCS#8, which every consumer (Go, OpenSSL,
// kubectl) reads regardless of algorithm.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func randomSerial() (*big.Int, error) {
	// 128 random bits: far beyond the 64 bits of entropy the CA/B baseline
	// asks for, and unique without keeping a serial counter on disk.
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pki: generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // serials must be positive
}

// writeSecret atomically writes name under b.Dir with 0600 permissions and
// records it in b.Generated.
func writeSecret(b *Bundle, name string, data []byte) error {
	if err := atomicWrite(filepath.Join(b.Dir, name), data, secretPerm); err != nil {
		return err
	}
	b.Generated = append(b.Generated, name)
	return nil
}

// tightenPerm resets a reused secret file to 0600 in case it was copied
// around with looser permissions.
func tightenPerm(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pki: stat %s: %w", path, err)
	}
	if fi.Mode().Perm()&^secretPerm != 0 {
		if err := os.Chmod(path, secretPerm); err != nil {
			return fmt.Errorf("pki: restrict permissions of %s: %w", path, err)
		}
	}
	return nil
}

// atomicWrite writes data to path via a temporary file in the same
// directory and a rename, so readers (and a crash) never observe a partial
// file. The temp file is created 0600 before any byte is written, so
// secrets are never briefly world-readable.
func atomicWrite(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	// Persist the rename itself; best effort because not every platform
	// can fsync a directory.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
