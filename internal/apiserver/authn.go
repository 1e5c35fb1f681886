package apiserver

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// TokenCertAuthenticator accepts the admin bearer token and client
// certificates verified by the TLS layer against the cluster CA
// (DESIGN decision 8). The TLS config must verify client certificates
// when given (tls.VerifyClientCertIfGiven).
type TokenCertAuthenticator struct {
	// AdminToken is the bearer token of the admin user.
	AdminToken string
}

// Authenticate implements Authenticator.
func (a TokenCertAuthenticator) Authenticate(r *http.Request) (string, []string, bool) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		return cert.Subject.CommonName, cert.Subject.Organization, true
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || a.AdminToken == "" {
		return "", nil, false
	}
	token = strings.TrimSpace(token)
	if subtle.ConstantTimeCompare([]byte(token), []byte(a.AdminToken)) == 1 {
		return "admin", []string{"system:masters", "system:authenticated"}, true
	}
	return "", nil, false
}
