package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/ortlib"
)

func setupCommand() *cli.Command {
	return &cli.Command{
		Name:  "setup",
		Usage: "install ONNX Runtime " + ortlib.Version + " into the user cache, or report the library already found",
		Description: "Finds the ONNX Runtime library (--ort-lib, $" + ortlib.EnvLib + ", $" + ortlib.EnvSharedLibraryPath +
			", then the cache) and, when there is none, installs ONNX Runtime " + ortlib.Version +
			" into the cache: from the npm package onnxruntime-node through the npm client, else from the official release archive" +
			" (or the mirror in $" + ortlib.EnvURL + "). Prints the library's path on stdout. Other commands do the same on first use." +
			"\n\nExamples:\n   imagegen setup\n   imagegen setup --force\n   imagegen --ort-lib /opt/onnxruntime/lib/libonnxruntime.so.1 setup",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "download and install again even if a library is found"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
			defer stop()
			opts := ortOptions(c)
			var (
				path string
				err  error
			)
			if c.Bool("force") {
				path, err = ortlib.Install(ctx, opts)
			} else {
				if _, lerr := ortlib.Locate(opts); lerr == nil && opts.Logf != nil {
					opts.Logf("ONNX Runtime library already present; use --force to reinstall it into the cache")
				}
				path, err = ortlib.Ensure(ctx, opts)
			}
			if err != nil {
				return err
			}
			fmt.Println(path)
			return nil
		},
	}
}

// ortOptions turns the global flags into ONNX Runtime provisioning options:
// --ort-lib, progress bars on stderr only when it is a terminal, and notices
// on stderr unless --quiet.
func ortOptions(c *cli.Context) ortlib.Options {
	opts := ortlib.Options{Path: c.String("ort-lib")}
	if showProgress(c) {
		opts.Progress = os.Stderr
	}
	if !c.Bool("quiet") {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "imagegen: "+format+"\n", args...)
		}
	}
	return opts
}
