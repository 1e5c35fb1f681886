package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/klog/v2"

	"github.com/terminus-project/terminus/internal/agent"
)

// AgentOptions are `terminus agent`'s flags, named as the kubelet's.
type AgentOptions struct {
	Kubeconfig   string
	NodeName     string
	NodeIP       string
	Address      string
	Port         int
	RootDir      string
	ClientCAFile string
	NodeLabels   map[string]string
	Taints       []string
	MaxPods      int
	LogLevel     string
	// GC is the agent's garbage collection (spec H).
	GC *gcOptions
}

// NewAgentOptions returns the defaults.
func NewAgentOptions() *AgentOptions {
	return &AgentOptions{NodeName: defaultNodeName(), Address: "0.0.0.0", LogLevel: "warn", GC: newGCOptions()}
}

// AddFlags registers the flags.
func (o *AgentOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the terminus server to join (required)")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of the Node to register (default: the host name)")
	fs.StringVar(&o.NodeIP, "node-ip", o.NodeIP, "the node's InternalIP, where the server reaches the agent and the IP of its pods (default: the address of the default route's interface)")
	fs.StringVar(&o.Address, "address", o.Address, "IP address the kubelet API listens on")
	fs.IntVar(&o.Port, "port", o.Port, "kubelet API port; 0 picks a free one (the Node reports it)")
	fs.StringVar(&o.RootDir, "root-dir", o.RootDir, "directory for the pods' files and the serving certificate (default: ./.terminus-agent/<node-name>)")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "CA that signed the server's client certificate (default: the kubeconfig's certificate authority)")
	fs.StringToStringVar(&o.NodeLabels, "node-labels", o.NodeLabels, "labels to add to the Node, key=value,...")
	fs.StringSliceVar(&o.Taints, "register-with-taints", o.Taints, "taints to register the Node with, key=value:Effect,...")
	fs.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "pods capacity (0: 110)")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log level: debug, info, warn or error")
	o.GC.addFlags(fs, "config")
}

// Validate checks the flags.
func (o *AgentOptions) Validate() error {
	var errs []error
	if o.Kubeconfig == "" {
		errs = append(errs, errors.New("--kubeconfig is required"))
	}
	errs = append(errs, validateNodeName(o.NodeName))
	if o.NodeIP != "" {
		errs = append(errs, checkIP("--node-ip", o.NodeIP))
	}
	errs = append(errs, checkIP("--address", o.Address))
	errs = append(errs, checkPort("--port", o.Port))
	if o.MaxPods < 0 {
		errs = append(errs, errors.New("--max-pods must not be negative"))
	}
	if _, err := parseTaints(o.Taints); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := o.GC.config(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateNodeName(name string) error {
	if name == "" {
		return errors.New("--node-name must not be empty")
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("--node-name %q: %s", name, strings.Join(msgs, "; "))
	}
	return nil
}

// defaultNodeName is the host name lower-cased, as the kubelet's.
func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(h))
}

// hostIP is the address of the interface of the default route, as the
// kubelet chooses its node IP; loopback when the host has none.
func hostIP() net.IP {
	ip, err := utilnet.ChooseHostInterface()
	if err != nil {
		return net.IPv4(127, 0, 0, 1)
	}
	return ip
}

// parseTaints reads key[=value]:Effect, as --register-with-taints.
func parseTaints(specs []string) ([]corev1.Taint, error) {
	var taints []corev1.Taint
	for _, s := range specs {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("--register-with-taints %q: want key[=value]:Effect", s)
		}
		switch e := corev1.TaintEffect(effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("--register-with-taints %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
		}
		key, value, _ := strings.Cut(kv, "=")
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			return nil, fmt.Errorf("--register-with-taints %q: %s", s, strings.Join(msgs, "; "))
		}
		taints = append(taints, corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)})
	}
	return taints, nil
}

func newAgentCommand(stdout, stderr io.Writer) *cobra.Command {
	o := NewAgentOptions()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent: register a Node and run its pods as local processes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			level, _ := parseLevel(o.LogLevel)
			logger := newLogger(stderr, level)
			klog.SetSlogLogger(logger)
			restCfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
			if err != nil {
				return fmt.Errorf("--kubeconfig: %w", err)
			}
			restCfg.UserAgent = "terminus-agent/" + o.NodeName
			client, err := kubernetes.NewForConfig(restCfg)
			if err != nil {
				return err
			}
			cas, err := o.clientCAs(restCfg.TLSClientConfig.CAData, restCfg.TLSClientConfig.CAFile)
			if err != nil {
				return err
			}
			nodeIP := net.ParseIP(o.NodeIP)
			if nodeIP == nil {
				nodeIP = hostIP()
			}
			root := o.RootDir
			if root == "" {
				root = filepath.Join(".terminus-agent", o.NodeName)
			}
			taints, _ := parseTaints(o.Taints)
			gc, file, err := o.GC.config()
			if err != nil {
				return err
			}
			return agent.Run(cmd.Context(), agent.Config{
				Client: client, NodeName: o.NodeName, RootDir: root, NodeIP: nodeIP,
				Address: net.ParseIP(o.Address), Port: o.Port, ClientCAs: cas,
				Labels: o.NodeLabels, Taints: taints, MaxPods: o.GC.maxPods(o.MaxPods, file), GC: gc, PullImages: o.GC.PullImages,
				ShutdownGracePeriod: file.ShutdownGracePeriod, ShutdownGracePeriodCriticalPods: file.ShutdownGracePeriodCriticalPods,
				Version: versionInfo().GitVersion, Logger: logger,
			}, func(info agent.Info) {
				fmt.Fprintf(stdout, "node agent %s: kubelet API at %s, node IP %s, root %s\n", o.NodeName, info.KubeletAddr, nodeIP, root)
			})
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// clientCAs is --client-ca-file's pool, else the kubeconfig's CA: the
// terminus CA signs both the server's certificate and the client
// certificate it presents to agents.
func (o *AgentOptions) clientCAs(caData []byte, caFile string) (*x509.CertPool, error) {
	switch {
	case o.ClientCAFile != "":
		return certutil.NewPool(o.ClientCAFile)
	case len(caData) > 0:
		return certutil.NewPoolFromBytes(caData)
	case caFile != "":
		return certutil.NewPool(caFile)
	}
	return nil, errors.New("--client-ca-file is required when the kubeconfig has no certificate authority")
}

// checkIP and checkPort are the address flags' checks; nil when valid.
func checkIP(flag, value string) error {
	if net.ParseIP(value) == nil {
		return fmt.Errorf("%s %q is not an IP address", flag, value)
	}
	return nil
}

func checkPort(flag string, port int) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("%s %d is out of range 0-65535", flag, port)
	}
	return nil
}
