package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/hub"
)

// pullCommand downloads a Hub repository into the huggingface_hub cache:
//
//	imagegen pull ORG/NAME[@REVISION] [--include GLOB ...] [--exclude GLOB ...] [--token T] [--offline]
//
// The last line of stdout is the local folder (the snapshot, joined with the
// subfolder of an hf:ORG/NAME/SUBFOLDER reference).
func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "download a Hugging Face Hub repository into its cache and print the local folder (the last line of stdout)",
		ArgsUsage: "ORG/NAME[@REVISION]",
		Description: "Files land in $HF_HUB_CACHE (default $HF_HOME/hub, ~/.cache/huggingface/hub) in huggingface_hub's layout,\n" +
			"so Python tools share them. Globs follow huggingface-cli: '*' crosses '/', so '*.json' matches at any depth\n" +
			"and 'unet/*' a whole folder. HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE=1 are honored.",
		Flags: pullFlags(),
		Action: func(c *cli.Context) error {
			opts, err := pullArgs(c)
			if err != nil {
				return fmt.Errorf("pull: %w", err)
			}
			client := hub.NewClientFromEnv()
			if opts.token != "" {
				client.Token = opts.token
			}
			client.Offline = client.Offline || opts.offline
			if showProgress(c) {
				client.ProgressBars = os.Stderr
			}
			snap, err := client.Pull(context.Background(), opts.ref, hub.PullOptions{Include: opts.include, Exclude: opts.exclude})
			if err != nil {
				return fmt.Errorf("pull %s: %w", opts.ref, err)
			}
			if opts.ref.Subfolder != "" {
				snap = filepath.Join(snap, filepath.FromSlash(opts.ref.Subfolder))
			}
			fmt.Fprintln(os.Stdout, snap)
			return nil
		},
	}
}

func pullFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "include", Usage: "pull only files matching `GLOB` (repeatable)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "skip files matching `GLOB` (repeatable)"},
		&cli.StringFlag{Name: "token", Usage: "Hub access `TOKEN` for private or gated repositories (default $HF_TOKEN)"},
		&cli.BoolFlag{Name: "offline", Usage: "do not use the network: print the cached snapshot or fail"},
	}
}

// pullOptions are the parsed arguments of imagegen pull.
type pullOptions struct {
	ref              hub.Ref
	include, exclude []string
	token            string
	offline          bool
}

// pullArgs reads the flags, including those written after the repository
// id, which the flag parser leaves among the arguments.
func pullArgs(c *cli.Context) (pullOptions, error) {
	o := pullOptions{
		include: c.StringSlice("include"),
		exclude: c.StringSlice("exclude"),
		token:   c.String("token"),
		offline: c.Bool("offline"),
	}
	var positional []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "offline" {
			if hasValue {
				return o, fmt.Errorf("--offline takes no value")
			}
			o.offline = true
			continue
		}
		if name != "include" && name != "exclude" && name != "token" {
			return o, fmt.Errorf("unknown flag %s", a)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return o, fmt.Errorf("flag %s needs a value", a)
			}
			i++
			value = args[i]
		}
		switch name {
		case "include":
			o.include = append(o.include, value)
		case "exclude":
			o.exclude = append(o.exclude, value)
		case "token":
			o.token = value
		}
	}
	if len(positional) != 1 {
		return o, errors.New("want one ORG/NAME[@REVISION] argument")
	}
	ref, err := hub.ParseRef(positional[0])
	if err != nil {
		return o, err
	}
	o.ref = ref
	return o, nil
}
