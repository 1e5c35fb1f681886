package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/terminus-project/terminus/internal/app"
)

// ServeOptions are `terminus serve`'s flags, named as kube-apiserver names
// them.
type ServeOptions struct {
	DataDir     string
	BindAddress string
	SecurePort  int
	EtcdServers []string
	Storage     string
	LogLevel    string
	Profiling   bool
	Controllers []string
	// NamespaceDeletionDelay: docs/decisions/0003.
	NamespaceDeletionDelay time.Duration
	// The in-process node agent (issue 6).
	NodeAgent    bool
	NodeName     string
	NodeIP       string
	KubeletPort  int
	AgentRootDir string
	MaxPods      int
	// GC is the in-process agent's garbage collection (spec H).
	GC *gcOptions
}

// NewServeOptions returns the defaults.
func NewServeOptions() *ServeOptions {
	return &ServeOptions{
		DataDir:     "./.terminus",
		BindAddress: "127.0.0.1",
		SecurePort:  6443,
		Storage:     app.StorageEtcd,
		LogLevel:    "warn",
		Profiling:   true,
		NodeAgent:   true,
		NodeName:    defaultNodeName(),
		GC:          newGCOptions(),
	}
}

// AddFlags registers the flags.
func (o *ServeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "directory for certificates, the admin kubeconfig and embedded etcd's data")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "IP address to serve on")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "HTTPS port; 0 picks a free port")
	fs.StringSliceVar(&o.EtcdServers, "etcd-servers", o.EtcdServers, "external etcd endpoints (comma separated); empty runs embedded etcd in the data dir")
	fs.StringVar(&o.Storage, "storage", o.Storage, "storage backend: etcd or memory (memory keeps nothing across restarts)")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "serve profiles at /debug/pprof (authenticated)")
	fs.StringSliceVar(&o.Controllers, "controllers", []string{"*"}, "controllers to run: '*' all, 'name' one, '-name' all but one (names: "+strings.Join(app.ControllerNames, ", ")+")")
	fs.DurationVar(&o.NamespaceDeletionDelay, "namespace-deletion-delay", 0, "how long the namespace controller waits before emptying a terminating namespace (upstream: 5s)")
	fs.BoolVar(&o.NodeAgent, "node-agent", o.NodeAgent, "run a node agent in this process, so pods are scheduled and run here")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "the in-process agent's Node name (default: the host name)")
	fs.StringVar(&o.NodeIP, "node-ip", o.NodeIP, "the in-process agent's node IP (default: 127.0.0.1 when --bind-address is loopback, else the default route's interface address)")
	fs.IntVar(&o.KubeletPort, "kubelet-port", o.KubeletPort, "the in-process agent's kubelet API port; 0 picks a free one")
	fs.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "the in-process agent's pods capacity (0: 110)")
	fs.StringVar(&o.AgentRootDir, "agent-root-dir", o.AgentRootDir, "the in-process agent's directory for pod files (default: <data-dir>/agent)")
	o.GC.addFlags(fs, "agent-config")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log level: debug, info, warn or error")
}

// Validate checks the flags.
func (o *ServeOptions) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	errs = append(errs, checkIP("--bind-address", o.BindAddress))
	errs = append(errs, checkPort("--secure-port", o.SecurePort))
	switch o.Storage {
	case app.StorageEtcd:
	case app.StorageMemory:
		if len(o.EtcdServers) > 0 {
			errs = append(errs, errors.New("--etcd-servers needs --storage=etcd"))
		}
	default:
		errs = append(errs, fmt.Errorf("--storage %q: must be etcd or memory", o.Storage))
	}
	if err := app.ValidateControllers(o.Controllers); err != nil {
		errs = append(errs, fmt.Errorf("--controllers: %w", err))
	}
	if o.NamespaceDeletionDelay < 0 {
		errs = append(errs, errors.New("--namespace-deletion-delay must not be negative"))
	}
	if o.NodeAgent {
		errs = append(errs, validateNodeName(o.NodeName))
		if o.NodeIP != "" {
			errs = append(errs, checkIP("--node-ip", o.NodeIP))
		}
		errs = append(errs, checkPort("--kubelet-port", o.KubeletPort))
		if o.MaxPods < 0 {
			errs = append(errs, errors.New("--max-pods must not be negative"))
		}
		if _, _, err := o.GC.config(); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: must be debug, info, warn or error", s)
	}
	return l, nil
}

func newServeCommand(stdout, stderr io.Writer) *cobra.Command {
	o := NewServeOptions()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server on embedded etcd (or external etcd, or memory)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			level, _ := parseLevel(o.LogLevel)
			logger := newLogger(stderr, level)
			// client-go logs through klog; route it to the same logger.
			klog.SetSlogLogger(logger)
			cfg := app.Config{
				DataDir: o.DataDir, BindAddress: o.BindAddress, SecurePort: o.SecurePort,
				EtcdServers: o.EtcdServers, Storage: o.Storage, Profiling: o.Profiling,
				Controllers: o.Controllers, NamespaceDeletionDelay: o.NamespaceDeletionDelay,
				Version: versionInfo(), Logger: logger,
			}
			var err error
			if cfg.Agent, err = o.agentConfig(); err != nil {
				return err
			}
			return app.Run(cmd.Context(), cfg, func(info app.Info) {
				fmt.Fprintf(stdout, "terminus is serving at %s\nkubeconfig: %s\n  export KUBECONFIG=%s\n",
					info.URL, info.Kubeconfig, strings.ReplaceAll(info.Kubeconfig, " ", `\ `))
			})
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// agentConfig is the in-process agent's configuration, nil without one. A
// server on loopback makes a node on loopback: a local cluster whose pods
// and kubelet API are not reachable from elsewhere.
func (o *ServeOptions) agentConfig() (*app.AgentConfig, error) {
	if !o.NodeAgent {
		return nil, nil
	}
	ip := net.ParseIP(o.NodeIP)
	if ip == nil {
		if bind := net.ParseIP(o.BindAddress); bind != nil && bind.IsLoopback() {
			ip = bind
		} else {
			ip = hostIP()
		}
	}
	gc, file, err := o.GC.config()
	if err != nil {
		return nil, err
	}
	if file.ShutdownGracePeriod > 0 {
		// The in-process agent stops with the server it talks to, so
		// there is no API left to write the pods' statuses to.
		return nil, errors.New("--agent-config: shutdownGracePeriod applies to terminus agent only")
	}
	return &app.AgentConfig{NodeName: o.NodeName, NodeIP: ip, Port: o.KubeletPort, RootDir: o.AgentRootDir, MaxPods: o.GC.maxPods(o.MaxPods, file), GC: gc, PullImages: o.GC.PullImages}, nil
}
