package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KubeletConfig says how the server reaches the node agents (kubelets) for
// pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy, as
// kube-apiserver's --kubelet-* flags do. The agent is found from its Node
// object: the first of status.addresses in PreferredAddressTypes order, on
// status.daemonEndpoints.kubeletEndpoint.port (Port when that is 0), over
// HTTPS.
type KubeletConfig struct {
	// Transport carries requests to an agent. It must be an
	// *http.Transport speaking HTTP/1.1 (connection upgrades for exec,
	// attach and portforward do not exist in HTTP/2); NewKubeletTransports
	// builds one. Nil: NewKubeletTransports(KubeletTLS{}).
	Transport http.RoundTripper
	// InsecureTransport is used when a pods/log request sets
	// insecureSkipTLSVerifyBackend=true: it presents the same client
	// certificate but does not verify the agent. Nil: Transport.
	InsecureTransport http.RoundTripper
	// PreferredAddressTypes orders the node's addresses; nil means
	// DefaultPreferredAddressTypes.
	PreferredAddressTypes []corev1.NodeAddressType
	// Port is used when the Node reports no kubelet port (upstream: 10250).
	Port int32
	// proxyableHost is nodes/proxy's check of the agent's address; nil is
	// upstream's (only global unicast addresses). Tests replace it.
	proxyableHost func(ctx context.Context, host string) error
}

// DefaultPreferredAddressTypes is kubeadm's choice for
// --kubelet-preferred-address-types (InternalIP, ExternalIP, Hostname),
// which kind and most clusters run with: an agent is reached on the IP it
// reports rather than on a hostname that may not resolve to where it
// listens. Bare kube-apiserver's default puts Hostname first (Hostname,
// InternalDNS, InternalIP, ExternalDNS, ExternalIP).
var DefaultPreferredAddressTypes = []corev1.NodeAddressType{
	corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName,
	corev1.NodeInternalDNS, corev1.NodeExternalDNS,
}

// DefaultKubeletPort is the kubelet's default HTTPS port.
const DefaultKubeletPort = 10250

// KubeletTLS is the TLS side of the server's connection to agents.
type KubeletTLS struct {
	// ClientCert is presented to agents (kube-apiserver's
	// --kubelet-client-certificate and --kubelet-client-key); nil
	// presents none.
	ClientCert *tls.Certificate
	// RootCAs verifies the agents' serving certificates
	// (--kubelet-certificate-authority). Nil skips verification, as
	// kube-apiserver does without that flag.
	RootCAs *x509.CertPool
}

// NewKubeletTransports returns the transport for agents and the one for
// insecureSkipTLSVerifyBackend log requests. Both speak HTTP/1.1 only and
// ignore proxy environment variables: agents are reached directly.
func NewKubeletTransports(t KubeletTLS) (secure, insecure *http.Transport) {
	mk := func(skipVerify bool) *http.Transport {
		// Without a CA the agent is not verified: kube-apiserver's
		// behaviour without --kubelet-certificate-authority.
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: t.RootCAs, InsecureSkipVerify: skipVerify || t.RootCAs == nil}
		if t.ClientCert != nil {
			cfg.Certificates = []tls.Certificate{*t.ClientCert}
		}
		return &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       cfg,
			TLSHandshakeTimeout:   10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   25,
			ExpectContinueTimeout: time.Second,
		}
	}
	return mk(false), mk(true)
}

// withKubeletDefaults fills in the KubeletConfig defaults.
func withKubeletDefaults(c KubeletConfig) KubeletConfig {
	if c.Transport == nil {
		secure, insecure := NewKubeletTransports(KubeletTLS{})
		c.Transport = secure
		if c.InsecureTransport == nil {
			c.InsecureTransport = insecure
		}
	}
	if c.InsecureTransport == nil {
		c.InsecureTransport = c.Transport
	}
	if len(c.PreferredAddressTypes) == 0 {
		c.PreferredAddressTypes = DefaultPreferredAddressTypes
	}
	if c.Port == 0 {
		c.Port = DefaultKubeletPort
	}
	if c.proxyableHost == nil {
		c.proxyableHost = globalUnicastHost
	}
	return c
}

// kubeletEndpoint is where one node's agent listens.
type kubeletEndpoint struct {
	host string
	port string
}

func (e kubeletEndpoint) hostPort() string { return net.JoinHostPort(e.host, e.port) }

var nodesGVR = corev1.SchemeGroupVersion.WithResource("nodes")

// kubeletEndpointFor reads the Node and picks the agent's address, as
// upstream's NodeConnectionInfoGetter does. A missing Node is a 404 named
// after the requested resource (gr): upstream's node store qualifies its
// errors with the request's resource, so pods/log of a pod whose node is
// gone answers `pods "<node>" not found`. A Node without a preferred
// address is upstream's reasonless 500.
func (s *Server) kubeletEndpointFor(ctx context.Context, gr schema.GroupResource, nodeName string) (kubeletEndpoint, error) {
	store, ok := s.reg.Store(nodesGVR)
	if !ok {
		return kubeletEndpoint{}, internalError(fmt.Errorf("nodes are not served"))
	}
	obj, err := store.Get(ctx, "", nodeName, "")
	if apierrors.IsNotFound(err) {
		return kubeletEndpoint{}, apierrors.NewNotFound(gr, nodeName)
	}
	if err != nil {
		return kubeletEndpoint{}, err
	}
	node := obj.(*corev1.Node)
	host, err := preferredNodeAddress(node, s.cfg.Kubelet.PreferredAddressTypes)
	if err != nil {
		return kubeletEndpoint{}, reasonless(err)
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		port = s.cfg.Kubelet.Port
	}
	return kubeletEndpoint{host: host, port: strconv.Itoa(int(port))}, nil
}

// preferredNodeAddress is upstream's GetPreferredNodeAddress, with its
// error text.
func preferredNodeAddress(node *corev1.Node, preferred []corev1.NodeAddressType) (string, error) {
	for _, t := range preferred {
		for _, a := range node.Status.Addresses {
			if a.Type == t {
				return a.Address, nil
			}
		}
	}
	return "", fmt.Errorf("no preferred addresses found; known addresses: %v", node.Status.Addresses)
}

// globalUnicastHost is nodes/proxy's isProxyableHostname: every address the
// host resolves to must be global unicast (no loopback, link-local or
// unspecified addresses), so the proxy cannot be aimed at the server's own
// host.
func globalUnicastHost(ctx context.Context, host string) error {
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return fmt.Errorf("no addresses for hostname")
	}
	for _, a := range addrs {
		if !a.IP.IsGlobalUnicast() {
			return fmt.Errorf("address not allowed")
		}
	}
	return nil
}
