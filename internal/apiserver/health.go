package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// healthHandler serves /healthz, /livez or /readyz with upstream's shape:
// "ok" when every check passes, 500 with the failing checks otherwise,
// "[+]name ok" lines with ?verbose, one check at /<path>/<name>, and
// ?exclude=<name> to skip checks.
func (s *Server) healthHandler(path string, checks []HealthCheck) http.Handler {
	all := append([]HealthCheck{{Name: "ping", Check: nil}}, checks...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/"+path), "/")
		selected := all
		if sub != "" {
			selected = nil
			for _, c := range all {
				if c.Name == sub {
					selected = []HealthCheck{c}
				}
			}
			if selected == nil {
				http.NotFound(w, r)
				return
			}
		}
		excluded := map[string]bool{}
		for _, e := range r.URL.Query()["exclude"] {
			excluded[e] = true
		}
		var buf bytes.Buffer
		failed := []string{}
		for _, c := range selected {
			if excluded[c.Name] {
				fmt.Fprintf(&buf, "[+]%s excluded: ok\n", c.Name)
				continue
			}
			if c.Check != nil {
				if err := c.Check(r.Context()); err != nil {
					failed = append(failed, c.Name)
					fmt.Fprintf(&buf, "[-]%s failed: reason withheld\n", c.Name)
					s.log.Debug("health check failed", "path", path, "check", c.Name, "err", err)
					continue
				}
			}
			fmt.Fprintf(&buf, "[+]%s ok\n", c.Name)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if len(failed) > 0 {
			sort.Strings(failed)
			fmt.Fprintf(&buf, "%s check failed\n", path)
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(buf.Bytes())
			return
		}
		if _, verbose := r.URL.Query()["verbose"]; verbose {
			fmt.Fprintf(&buf, "%s check passed\n", path)
			_, _ = w.Write(buf.Bytes())
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(s.cfg.Version, "", "  ")
	if err != nil {
		s.writeError(w, r, internalError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
