package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/clock"

	"github.com/terminus-project/terminus/internal/agent/images"
	"github.com/terminus-project/terminus/internal/agent/process"
)

// defaultImageRoot is serve's in-process agent's root directory with the
// default --data-dir: `terminus image` works on its store unless told
// otherwise.
const defaultImageRoot = ".terminus/agent"

// imageStoreDir is where an agent rooted at root keeps its images.
func imageStoreDir(root string) string { return filepath.Join(root, "images") }

type imageOptions struct {
	RootDir string
}

func newImageCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &imageOptions{RootDir: defaultImageRoot}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage a node agent's local image store",
		Long: `image works on the local image store of a node agent (an OCI image layout under
<root-dir>/images): the images its pods run from. The agent may be running meanwhile.`,
	}
	cmd.PersistentFlags().StringVar(&o.RootDir, "root-dir", o.RootDir, "the agent's root directory (serve: <data-dir>/agent; terminus agent: its --root-dir)")
	open := func() (*images.Store, error) {
		return images.Open(imageStoreDir(o.RootDir), images.Options{Clock: clock.RealClock{}, Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	}
	cmd.AddCommand(newImageImportCommand(stdout, open), newImageBuildCommand(stdout, open),
		newImageListCommand(stdout, open), newImageRemoveCommand(stdout, open), newImagePullCommand(stdout, open))
	return cmd
}

func newImageImportCommand(stdout io.Writer, open func() (*images.Store, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Import the images of an OCI archive or a `docker save` tarball (- for stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			in := io.Reader(cmd.InOrStdin())
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer func() { _ = f.Close() }()
				in = f
			}
			imported, err := s.Import(cmd.Context(), in)
			if err != nil {
				return err
			}
			for _, img := range imported {
				fmt.Fprintf(stdout, "imported %s %s\n", shortID(img.ID), imageNames(img))
			}
			return nil
		},
	}
}

type imageBuildOptions struct {
	FromDir, Tag, WorkDir, StopSignal string
	Entrypoint, Cmd                   string
	Env                               []string
}

func newImageBuildCommand(stdout io.Writer, open func() (*images.Store, error)) *cobra.Command {
	o := &imageBuildOptions{}
	cmd := &cobra.Command{
		Use:   "build --from-dir DIR --tag NAME[:TAG]",
		Short: "Build an image of one layer from a directory",
		Long: `build makes an image whose one layer is DIR's contents. --entrypoint and --cmd take a
JSON array, as a Dockerfile's exec form (["/app/run", "--port", "80"]), or words separated by
spaces.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := o.spec()
			if err != nil {
				return err
			}
			s, err := open()
			if err != nil {
				return err
			}
			img, err := s.Build(cmd.Context(), spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "built %s %s\n", shortID(img.ID), imageNames(img))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.FromDir, "from-dir", "", "directory whose contents become the image's layer (required)")
	f.StringVar(&o.Tag, "tag", "", "the image's name, NAME[:TAG] (required)")
	f.StringVar(&o.Entrypoint, "entrypoint", "", "the image's ENTRYPOINT")
	f.StringVar(&o.Cmd, "cmd", "", "the image's CMD")
	f.StringArrayVar(&o.Env, "env", nil, "an ENV variable, KEY=VALUE (repeatable)")
	f.StringVar(&o.WorkDir, "workdir", "", "the image's WORKDIR")
	f.StringVar(&o.StopSignal, "stop-signal", "", "the image's STOPSIGNAL, e.g. SIGQUIT")
	return cmd
}

func (o *imageBuildOptions) spec() (images.BuildSpec, error) {
	var errs []error
	if o.FromDir == "" {
		errs = append(errs, errors.New("--from-dir is required"))
	} else if fi, err := os.Stat(o.FromDir); err != nil {
		errs = append(errs, fmt.Errorf("--from-dir: %w", err))
	} else if !fi.IsDir() {
		errs = append(errs, fmt.Errorf("--from-dir %s: not a directory", o.FromDir))
	}
	if o.Tag == "" {
		errs = append(errs, errors.New("--tag is required"))
	} else if _, err := images.Normalize(o.Tag); err != nil {
		errs = append(errs, fmt.Errorf("--tag %q: %w", o.Tag, err))
	}
	entrypoint, err := argvFlag("--entrypoint", o.Entrypoint)
	errs = append(errs, err)
	cmd, err := argvFlag("--cmd", o.Cmd)
	errs = append(errs, err)
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("--env %q: want KEY=VALUE", kv))
		}
	}
	if o.StopSignal != "" {
		if _, err := process.ParseSignal(o.StopSignal); err != nil {
			errs = append(errs, fmt.Errorf("--stop-signal: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return images.BuildSpec{}, err
	}
	return images.BuildSpec{Dir: o.FromDir, Tag: o.Tag, Config: images.Config{
		Entrypoint: entrypoint, Cmd: cmd, Env: o.Env, WorkingDir: o.WorkDir, StopSignal: o.StopSignal,
	}}, nil
}

// argvFlag reads an --entrypoint or --cmd value: a JSON array of strings
// or words separated by spaces.
func argvFlag(name, v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "[") {
		return strings.Fields(v), nil
	}
	var argv []string
	if err := json.Unmarshal([]byte(v), &argv); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of strings: %w", name, err)
	}
	return argv, nil
}

func newImageListCommand(stdout io.Writer, open func() (*images.Store, error)) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the images: name, id, size, last used, in use",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			inUse, err := s.InUse()
			if err != nil {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tIMAGE ID\tSIZE\tLAST USED\tIN USE")
			for _, img := range list {
				used := "never"
				if !img.LastUsed.IsZero() {
					used = duration.HumanDuration(now.Sub(img.LastUsed)) + " ago"
				}
				in := "no"
				if n := len(inUse[img.ID]); n > 0 {
					in = fmt.Sprintf("yes (%d)", n)
				}
				names := img.RepoTags
				if len(names) == 0 {
					names = []string{"<none>"}
				}
				for _, name := range names {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, shortID(img.ID), humanSize(img.Size), used, in)
				}
			}
			return tw.Flush()
		},
	}
}

func newImageRemoveCommand(stdout io.Writer, open func() (*images.Store, error)) *cobra.Command {
	return &cobra.Command{
		Use:     "rm IMAGE...",
		Aliases: []string{"remove", "rmi"},
		Short:   "Remove images (by name, id or id prefix) not in use by a container",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				img, err := s.Remove(ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(stdout, "removed %s %s\n", shortID(img.ID), imageNames(img))
			}
			return errors.Join(errs...)
		},
	}
}

func newImagePullCommand(stdout io.Writer, open func() (*images.Store, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "pull IMAGE",
		Short: "Pull an image from its registry into the store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			img, err := s.Pull(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "pulled %s %s\n", shortID(img.ID), imageNames(img))
			return nil
		},
	}
}

// shortID is the first 12 hex digits of an image id, as crictl shows it.
func shortID(id string) string {
	h := strings.TrimPrefix(id, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

func imageNames(img images.Image) string {
	if len(img.RepoTags) == 0 {
		return "<none>"
	}
	return strings.Join(img.RepoTags, " ")
}

// humanSize prints a byte count in binary units, as crictl images does.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.3g%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
