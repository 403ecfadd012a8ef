// Command imagegen runs image-generation models exported to ONNX on ONNX
// Runtime, and defines, trains and exports small models of its own.
//
// The command is a thin front end: each subcommand turns flags into calls of
// the library packages (pipeline, tokenizer, schedulers, hub, onnx_export).
package main

import (
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
			trainCommand(),
			evalCommand(),
			encodeCommand(),
			decodeCommand(),
			watermarkCommand(),
			serveCommand(),
			workerCommand(),
			cacheCommand(),
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
	return app.Run(interspersed(app, args, "generate", "encode", "decode"))
}

func main() {
	if err := run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "imagegen:", oneLine(err.Error()))
		os.Exit(1)
	}
}
