package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/terminus-project/terminus/internal/storage/embedded"
)

// newEtcdCommand runs one etcd member from this binary, so that an etcd
// cluster for `serve --etcd-servers` needs nothing else installed. The
// flags mirror etcd's own.
func newEtcdCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		cfg            embedded.Config
		clientURLs     string
		peerURLs       string
		initialCluster string
		logLevel       string
	)
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run one member of an etcd cluster (for serve --etcd-servers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.DataDir == "" || clientURLs == "" {
				return fmt.Errorf("--data-dir and --listen-client-urls are required")
			}
			level, err := parseLevel(logLevel)
			if err != nil {
				return err
			}
			cfg.Logger = newLogger(stderr, level)
			cfg.ClientURLs = splitList(clientURLs)
			cfg.PeerURLs = splitList(peerURLs)
			cfg.InitialCluster = initialCluster
			srv, err := embedded.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "etcd member %s is serving clients at %s\n", cfg.Name, clientURLs)
			select {
			case <-cmd.Context().Done():
			case err = <-srv.Err():
			}
			if cerr := srv.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.DataDir, "data-dir", "", "member data directory")
	fs.StringVar(&cfg.Name, "name", "terminus", "member name, unique in the cluster")
	fs.StringVar(&clientURLs, "listen-client-urls", "", "client URLs to listen on and advertise, e.g. http://127.0.0.1:2379")
	fs.StringVar(&peerURLs, "listen-peer-urls", "", "peer URLs to listen on and advertise, e.g. http://127.0.0.1:2380 (needed for a cluster)")
	fs.StringVar(&initialCluster, "initial-cluster", "", "founding members, name=peerURL,... (empty: this member alone)")
	fs.UintVar(&cfg.TickMs, "heartbeat-interval", 100, "raft heartbeat interval in ms")
	fs.UintVar(&cfg.ElectionMs, "election-timeout", 1000, "raft election timeout in ms")
	fs.StringVar(&logLevel, "log-level", "error", "log level: debug, info, warn or error")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
