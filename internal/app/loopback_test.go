package app

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The built-in controllers reach the server in memory (DESIGN section 1):
// while they work, the only TCP connections the server holds are the ones
// this test dialled itself.
func TestControllersUseTheInMemoryLoopback(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("needs /proc/net/tcp to count connections")
	}
	s := startServerWith(t, []string{"*"})
	u, err := url.Parse(s.info.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())

	var dialled atomic.Int64
	cfg := rest.CopyConfig(s.config)
	d := &net.Dialer{}
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "loop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The serviceaccount and root CA controllers answer the new
	// namespace: they watch and write through their client.
	waitFor(t, "default ServiceAccount and kube-root-ca.crt", func() bool {
		_, err1 := client.CoreV1().ServiceAccounts("loop").Get(ctx, "default", metav1.GetOptions{})
		_, err2 := client.CoreV1().ConfigMaps("loop").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err1 == nil && err2 == nil
	})
	conns, err := acceptedConnections(port)
	if err != nil {
		t.Fatal(err)
	}
	if int64(conns) > dialled.Load() {
		t.Fatalf("server holds %d TCP connections, this test dialled %d: the controllers use TCP", conns, dialled.Load())
	}
}

// acceptedConnections counts established TCP connections whose local port
// is port, from /proc/net/tcp and tcp6.
func acceptedConnections(port int) (int, error) {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return 0, err
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 01 is ESTABLISHED.
			if len(fields) < 4 || fields[3] != "01" {
				continue
			}
			if strings.HasSuffix(fields[1], fmt.Sprintf(":%04X", port)) {
				n++
			}
		}
		file.Close()
		if err := sc.Err(); err != nil {
			return 0, err
		}
	}
	return n, nil
}
