package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKubectlExplain runs the real kubectl (when one is on PATH) against
// the documents, with just enough legacy discovery beside them for kubectl
// to map "pods" and "deployments" to their kinds: explain through v3 (the
// default) and through v2 (--output=plaintext-openapiv2).
func TestKubectlExplain(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not on PATH")
	}
	mux := http.NewServeMux()
	if _, err := Install(ServeMux(mux), testConfig(t)); err != nil {
		t.Fatal(err)
	}
	serveDiscovery(t, mux, testResources())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"explain", "pod.spec.containers"}, []string{"KIND:       Pod", "FIELD: containers <[]Container>", "image\t<string>"}},
		{[]string{"explain", "deployments.spec.strategy"}, []string{"GROUP:      apps", "rollingUpdate\t<RollingUpdateDeployment>"}},
		{[]string{"explain", "pod.spec.containers", "--output=plaintext-openapiv2"}, []string{"KIND:     Pod", "image\t<string>"}},
	} {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", t.TempDir()}, tc.args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("kubectl %s: output lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
}

// serveDiscovery serves legacy (unaggregated) discovery for resources;
// the real server's discovery lives elsewhere.
func serveDiscovery(t *testing.T, mux *http.ServeMux, resources []Resource) {
	t.Helper()
	lists := map[string]*metav1.APIResourceList{}
	groups := map[string]bool{}
	var groupList metav1.APIGroupList
	for _, r := range resources {
		gv := metav1.GroupVersion{Group: r.Group, Version: r.Version}.String()
		l, ok := lists[gv]
		if !ok {
			l = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
			lists[gv] = l
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.Resource, Namespaced: r.Namespaced, Kind: r.Kind, Verbs: r.Verbs})
		if r.Group != "" && !groups[r.Group] {
			groups[r.Group] = true
			v := metav1.GroupVersionForDiscovery{GroupVersion: gv, Version: r.Version}
			groupList.Groups = append(groupList.Groups, metav1.APIGroup{Name: r.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
		}
	}
	groupList.TypeMeta = metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}
	serveJSON := func(path string, v any) {
		body, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
	}
	serveJSON("/api", metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	serveJSON("/apis", groupList)
	for gv, l := range lists {
		if strings.Contains(gv, "/") {
			serveJSON("/apis/"+gv, l)
		} else {
			serveJSON("/api/"+gv, l)
		}
	}
}
