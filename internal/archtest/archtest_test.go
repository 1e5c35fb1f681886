package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/terminus-project/terminus"

// rule says that packages matching from must not depend on packages
// matching any of forbidden (prefix match on import paths).
type rule struct {
	name      string
	from      string
	forbidden []string
	// direct checks only the package's own imports: the apiserver reaches
	// storage through the registry, never by itself.
	direct bool
}

// ioPackages are the standard library's doors to the outside world. Pure
// packages may reach net/http only through k8s.io/apimachinery's error
// types (which name HTTP status codes), so I/O is checked on their own
// imports, and client-go and storage on everything they pull in.
var ioPackages = []string{"net", "net/http", "os", "os/exec", "io/fs", "syscall"}

var rules = []rule{ // positional: name, from, forbidden, direct
	{"pure deletion rules do no I/O", module + "/internal/lifecycle", ioPackages, true},
	{"pure deletion rules use no client or storage", module + "/internal/lifecycle",
		[]string{"k8s.io/client-go", module + "/internal/storage"}, false},
	{"the agent's stop plan does no I/O", module + "/internal/agent/grace", ioPackages, true},
	{"the agent's stop plan uses no client or storage", module + "/internal/agent/grace",
		[]string{"k8s.io/client-go", module + "/internal/storage"}, false},
	{"the process runtime knows nothing of the API", module + "/internal/agent/process",
		[]string{"k8s.io/client-go", module + "/internal/storage", module + "/internal/apiserver", module + "/internal/registry"}, false},
	{"the container GC policy does no I/O", module + "/internal/agent/containergc", ioPackages, true},
	{"the container GC policy uses no client or storage", module + "/internal/agent/containergc",
		[]string{"k8s.io/client-go", module + "/internal/storage"}, false},
	{"explain is pure", module + "/internal/explain", ioPackages, true},
	{"explain uses no client or storage", module + "/internal/explain",
		[]string{"k8s.io/client-go", module + "/internal/storage"}, false},
	{"cascade is pure", module + "/internal/cascade", ioPackages, true},
	{"cascade uses no client or storage", module + "/internal/cascade",
		[]string{"k8s.io/client-go", module + "/internal/storage"}, false},
	{"the apiserver never imports storage", module + "/internal/apiserver",
		[]string{module + "/internal/storage"}, true},
	{"controllers are API clients only", module + "/internal/controller",
		[]string{module + "/internal/apiserver", module + "/internal/registry", module + "/internal/storage"}, false},
	{"the agent is an API client only", module + "/internal/agent",
		[]string{module + "/internal/apiserver", module + "/internal/registry", module + "/internal/storage"}, false},
	{"nothing imports k8s.io/kubernetes", module + "/...",
		[]string{"k8s.io/kubernetes"}, false},
	{"e2e tests drive the binary, not internals", module + "/test/e2e",
		[]string{module + "/internal"}, false},
	{"scenarios drive the API, not internals", module + "/test/scenario",
		[]string{module + "/internal"}, false},
}

// onlyCLIImportsApp: app is the composition root; only cli (and later
// terminustest) may import it.
var appImporters = []string{module + "/internal/cli", module + "/internal/app", module + "/internal/apptest", module + "/terminustest", module + "/cmd/terminus"}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func TestImportRules(t *testing.T) {
	all := goList(t, module+"/...")
	for _, r := range rules {
		for _, pkg := range all {
			if !matches(pkg, r.from) {
				continue
			}
			deps := goList(t, "-deps", pkg)
			if r.direct {
				deps = goList(t, "-f", `{{join .Imports " "}}`, pkg)
			}
			for _, dep := range deps {
				for _, f := range r.forbidden {
					if dep == f || (!r.direct && strings.HasPrefix(dep, f+"/")) {
						t.Errorf("%s: %s depends on %s", r.name, pkg, dep)
					}
				}
			}
		}
	}
}

func TestOnlyCLIImportsApp(t *testing.T) {
	lines, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports ","}}`, module+"/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Split(imports, ",") {
			if imp != module+"/internal/app" {
				continue
			}
			allowed := false
			for _, a := range appImporters {
				if pkg == a {
					allowed = true
				}
			}
			if !allowed {
				t.Errorf("%s imports internal/app; only cli and terminustest may", pkg)
			}
		}
	}
}

func matches(pkg, pattern string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == p || strings.HasPrefix(pkg, p+"/")
	}
	return pkg == pattern || strings.HasPrefix(pkg, pattern+"/")
}
