package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed lets a subcommand take flags after its positional arguments
// (`imagegen generate "a cat" -o cat.png`): urfave/cli stops parsing flags
// at the first positional argument, so the arguments after the subcommand
// name are reordered to put flags first. "--" still ends the flags.
func interspersed(app *cli.App, args []string, names ...string) []string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			cmd := app.Command(a)
			if cmd == nil || !contains(names, cmd.Name) {
				return args
			}
			rest := reorder(args[i+1:], valueFlags(cmd))
			return append(append([]string{}, args[:i+1]...), rest...)
		}
		if !strings.Contains(a, "=") && takesValue(app.Flags, a) {
			i++ // skip a global flag's value
		}
	}
	return args
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func reorder(args []string, takes func(string) bool) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takes(a) && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		return flags
	}
	return append(append(flags, "--"), pos...)
}

func valueFlags(cmd *cli.Command) func(string) bool {
	return func(a string) bool { return takesValue(cmd.Flags, a) }
}

// takesValue reports whether the flag written as a (-x or --name) needs a
// value argument.
func takesValue(flags []cli.Flag, a string) bool {
	name := strings.TrimLeft(a, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
