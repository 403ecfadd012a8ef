// Command imagegen runs image-generation models exported to ONNX on ONNX
// Runtime, and defines, trains and exports small models of its own.
//
// The command is a thin front end: each subcommand turns flags into calls of
// the library packages (pipeline, tokenizer, schedulers, hub, onnx_export).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newApp() *cli.App {
	app := &cli.App{
		Name:    "imagegen",
		Usage:   "run image-generation models exported to ONNX on ONNX Runtime (CPU or CUDA)",
		Version: version,
		Flags:   globalFlags(),
		// Each subcommand lives in its own file; add new ones here.
		Commands: []*cli.Command{
			setupCommand(),
			doctorCommand(),
			modelsCommand(),
			tokenizeCommand(),
			generateCommand(),
			pullCommand(),
			inspectCommand(),
			exportCommand(),
			convertCommand(),
			quantizeCommand(),
			trainCommand(),
			evalCommand(),
			encodeCommand(),
			decodeCommand(),
			watermarkCommand(),
			provenanceCommand(),
			detectCommand(),
			serveCommand(),
			workerCommand(),
			cacheCommand(),
			upscaleCommand(),
		},
		HideHelpCommand: true,
		// Prompts and scheduler options contain commas; never split them.
		DisableSliceFlagSeparator: true,
		ExitErrHandler:            func(*cli.Context, error) {},
		OnUsageError:              usageError(""),
	}
	for _, c := range app.Commands {
		if c.OnUsageError == nil {
			c.OnUsageError = usageError(c.Name)
		}
	}
	return app
}

// usageError turns a flag error into one line that points at the help,
// instead of urfave's default of printing the whole help on stdout (where
// it would mix with --json output) before the error.
func usageError(command string) cli.OnUsageErrorFunc {
	help := "imagegen --help"
	if command != "" {
		help = "imagegen " + command + " --help"
	}
	return func(_ *cli.Context, err error, _ bool) error {
		return fmt.Errorf("%w (see %s)", err, help)
	}
}

// run runs the command line args (args[0] is the program name), letting
// the commands that take files or a prompt have flags after them.
func run(args []string) error {
	app := newApp()
	return app.Run(interspersed(app, args, "generate", "encode", "decode", "provenance", "detect", "upscale", "quantize"))
}

func main() {
	if err := run(os.Args); err != nil {
		if msg := oneLine(err.Error()); msg != "" {
			fmt.Fprintln(os.Stderr, "imagegen:", msg)
		}
		os.Exit(exitStatus(err))
	}
}

// exitStatus is the process status for a command's error: 1, unless the
// command chose another (detect: 1 = detected, 2 = error; provenance:
// 1 = no or an invalid manifest, 2 = error). An error whose
// message is empty only carries a status.
func exitStatus(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// exitCodeError makes main exit with code after printing err (nothing
// when err is nil: the command has already said what it found, as detect
// and provenance do for their "detected" and "no manifest" statuses).
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// ExitCode makes exitCodeError a cli.ExitCoder, which main honours.
func (e *exitCodeError) ExitCode() int { return e.code }
