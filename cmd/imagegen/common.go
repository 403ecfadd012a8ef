package main

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// globalFlags are accepted before any subcommand and read by all of them.
func globalFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "ort-lib", Usage: "path to libonnxruntime (default: $IMAGEGEN_ORT_LIB, $ONNXRUNTIME_SHARED_LIBRARY_PATH, the cache, then download)", EnvVars: nil},
		&cli.StringSliceFlag{Name: "models", Usage: "extra models.yaml `FILE` (read after ./models.yaml and ~/.config/imagegen/models.yaml)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bars or notices"},
	}, graphCacheFlags()...)
}

// oneLine folds an error message onto a single line for stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// isTerminal reports whether f is an interactive terminal; progress bars are
// shown only there.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// showProgress says whether progress bars should be drawn on stderr.
func showProgress(c *cli.Context) bool {
	return !c.Bool("quiet") && isTerminal(os.Stderr)
}

// printJSON writes v as indented JSON on stdout.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
