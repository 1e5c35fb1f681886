package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestServeOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*ServeOptions)
		wantErr string
	}{
		{"defaults are valid", func(*ServeOptions) {}, ""},
		{"port 0 picks a free port", func(o *ServeOptions) { o.SecurePort = 0 }, ""},
		{"memory storage", func(o *ServeOptions) { o.Storage = "memory" }, ""},
		{"empty data dir", func(o *ServeOptions) { o.DataDir = "" }, "--data-dir must not be empty"},
		{"bind address must be an IP", func(o *ServeOptions) { o.BindAddress = "localhost" }, `--bind-address "localhost" is not an IP address`},
		{"port range", func(o *ServeOptions) { o.SecurePort = 70000 }, "--secure-port 70000 is out of range"},
		{"unknown storage", func(o *ServeOptions) { o.Storage = "sqlite" }, `--storage "sqlite": must be etcd or memory`},
		{"etcd servers need etcd storage", func(o *ServeOptions) {
			o.Storage = "memory"
			o.EtcdServers = []string{"http://127.0.0.1:2379"}
		}, "--etcd-servers needs --storage=etcd"},
		{"log level", func(o *ServeOptions) { o.LogLevel = "loud" }, `--log-level "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewServeOptions()
			tt.mutate(o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(t.Context(), []string{"version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "Kubernetes API "+KubernetesVersion) {
		t.Fatalf("version output %q", out.String())
	}
}

func TestUnknownFlagFails(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(t.Context(), []string{"serve", "--no-such-flag"}, &out, &errOut); code == 0 {
		t.Fatal("unknown flag accepted")
	}
}
