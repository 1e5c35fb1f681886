package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/terminus-project/terminus/internal/app"
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
		{"node name must be a DNS subdomain", func(o *ServeOptions) { o.NodeName = "My_Node" }, `--node-name "My_Node"`},
		{"no node name without an agent", func(o *ServeOptions) { o.NodeAgent, o.NodeName = false, "" }, ""},
		{"node ip", func(o *ServeOptions) { o.NodeIP = "node" }, `--node-ip "node" is not an IP address`},
		{"max pods", func(o *ServeOptions) { o.MaxPods = -1 }, "--max-pods must not be negative"},
		{"kubelet port range", func(o *ServeOptions) { o.KubeletPort = -1 }, "--kubelet-port -1 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewServeOptions()
			o.NodeName = "node-1" // the host name may be anything
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

func TestServeAgentConfig(t *testing.T) {
	o := NewServeOptions()
	o.NodeName = "n1"
	agentConfig := func() *app.AgentConfig {
		t.Helper()
		ac, err := o.agentConfig()
		if err != nil {
			t.Fatal(err)
		}
		return ac
	}
	if ip := agentConfig().NodeIP.String(); ip != "127.0.0.1" {
		t.Errorf("serve on loopback: node IP %s, want 127.0.0.1", ip)
	}
	o.NodeIP = "10.1.2.3"
	if ip := agentConfig().NodeIP.String(); ip != "10.1.2.3" {
		t.Errorf("--node-ip: node IP %s", ip)
	}
	if gc := agentConfig().GC; gc == nil || gc.Images.HighThresholdPercent != 85 || gc.Containers.MaxPerPodContainer != 1 {
		t.Errorf("GC defaults: %+v", gc)
	}
	o.NodeAgent = false
	if agentConfig() != nil {
		t.Error("--node-agent=false still configures an agent")
	}
}

func TestAgentOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*AgentOptions)
		wantErr string
	}{
		{"valid", func(*AgentOptions) {}, ""},
		{"kubeconfig required", func(o *AgentOptions) { o.Kubeconfig = "" }, "--kubeconfig is required"},
		{"node name", func(o *AgentOptions) { o.NodeName = "" }, "--node-name must not be empty"},
		{"node ip", func(o *AgentOptions) { o.NodeIP = "x" }, `--node-ip "x" is not an IP address`},
		{"address", func(o *AgentOptions) { o.Address = "" }, `--address "" is not an IP address`},
		{"port", func(o *AgentOptions) { o.Port = 65536 }, "--port 65536 is out of range"},
		{"max pods", func(o *AgentOptions) { o.MaxPods = -1 }, "--max-pods must not be negative"},
		{"taint with value", func(o *AgentOptions) { o.Taints = []string{"dedicated=infra:NoSchedule"} }, ""},
		{"taint without effect", func(o *AgentOptions) { o.Taints = []string{"dedicated=infra"} }, "want key[=value]:Effect"},
		{"taint effect", func(o *AgentOptions) { o.Taints = []string{"k:Sometimes"} }, "effect must be NoSchedule, PreferNoSchedule or NoExecute"},
		{"taint key", func(o *AgentOptions) { o.Taints = []string{"bad key:NoSchedule"} }, `"bad key:NoSchedule"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewAgentOptions()
			o.Kubeconfig, o.NodeName = "kubeconfig", "node-1"
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
	taints, err := parseTaints([]string{"dedicated=infra:NoSchedule", "gpu:NoExecute"})
	if err != nil || len(taints) != 2 || taints[0].Key != "dedicated" || taints[0].Value != "infra" || taints[1].Value != "" || taints[1].Effect != "NoExecute" {
		t.Errorf("parseTaints: %+v, %v", taints, err)
	}
}
