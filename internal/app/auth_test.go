package app

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/terminus-project/terminus/internal/pki"
)

func TestAuthentication(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	dir := filepath.Dir(s.info.Kubeconfig)
	anonymous := rest.AnonymousClientConfig(s.config)

	t.Run("client certificate signed by the CA", func(t *testing.T) {
		cfg := rest.CopyConfig(anonymous)
		cfg.CertFile = filepath.Join(dir, pki.SubdirName, pki.AdminCertFile)
		cfg.KeyFile = filepath.Join(dir, pki.SubdirName, pki.AdminKeyFile)
		if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no credentials is 401", func(t *testing.T) {
		_, err := kubernetes.NewForConfigOrDie(anonymous).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			t.Fatalf("got %v, want 401", err)
		}
	})
	t.Run("a wrong token is 401", func(t *testing.T) {
		cfg := rest.CopyConfig(anonymous)
		cfg.BearerToken = "not-the-token"
		_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			t.Fatalf("got %v, want 401", err)
		}
	})
	t.Run("health and version are public", func(t *testing.T) {
		client, err := rest.HTTPClientFor(anonymous)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/healthz", "/livez", "/readyz", "/readyz/etcd", "/version"} {
			resp, err := client.Get(s.info.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
		resp, err := client.Get(s.info.URL + "/readyz?verbose")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "[+]ping ok\n[+]etcd ok\n[+]gc-monitors ok\n[+]watch-cache-sync ok\nreadyz check passed\n"
		if string(body) != want {
			t.Fatalf("/readyz?verbose = %q, want %q", body, want)
		}
		resp, err = client.Get(s.info.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/metrics without credentials: %d, want 401", resp.StatusCode)
		}
	})
}
