package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/tokenizer"
)

// tokenizeCommand prints the token ids of a prompt:
//
//	imagegen tokenize --model DIR_OR_NAME [--component tokenizer|tokenizer_2|tokenizer_3] [--max-length N] [--tokens] [--] TEXT
//
// The last line of stdout is one JSON array of ids; with --tokens the line
// before it is the JSON array of token strings.
func tokenizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "tokenize",
		Usage:     "print the token ids of TEXT as one JSON array (the last line of stdout)",
		ArgsUsage: "[--] TEXT",
		Description: "Without --max-length the ids carry the special tokens and no padding, like tokenizer(text).input_ids;\n" +
			"with --max-length N they are truncated and padded to N. Flags go before TEXT; put -- before a TEXT that starts with '-'.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "checkpoint `DIR_OR_NAME` (a folder or a models.yaml name)", Required: true},
			&cli.StringFlag{Name: "component", Value: "tokenizer", Usage: "tokenizer subfolder: tokenizer, tokenizer_2 or tokenizer_3"},
			&cli.IntFlag{Name: "max-length", Usage: "pad and truncate to `N` ids"},
			&cli.BoolFlag{Name: "tokens", Usage: "also print the token strings (the line before the ids)"},
		},
		Action: func(c *cli.Context) error {
			text, err := tokenizeText(c.Args().Slice())
			if err != nil {
				return err
			}
			root, _, err := resolveModel(c, c.String("model"))
			if err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
			dir, err := tokenizerFolder(root, c.String("component"), c.IsSet("component"))
			if err != nil {
				return err
			}
			tok, err := tokenizer.Load(dir)
			if err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
			var ids []int
			if c.IsSet("max-length") {
				n := c.Int("max-length")
				if n <= 0 {
					return fmt.Errorf("tokenize: --max-length must be positive, got %d", n)
				}
				ids = tok.EncodePadded(text, n)
			} else {
				ids = tok.Encode(text)
			}
			return writeTokenized(os.Stdout, tok, ids, c.Bool("tokens"))
		},
	}
}

// tokenizeText takes TEXT from the arguments left after the flags. The
// flag parser stops at the first argument that is not a flag, so a flag
// written after TEXT arrives here and is refused rather than tokenized.
func tokenizeText(args []string) (string, error) {
	switch {
	case len(args) == 0:
		return "", errors.New(`tokenize: missing TEXT (pass "" for an empty text)`)
	case len(args) == 1:
		return args[0], nil
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			return "", fmt.Errorf("tokenize: %q after TEXT: flags must come before TEXT (use -- before a TEXT that starts with '-')", a)
		}
	}
	return "", fmt.Errorf("tokenize: TEXT must be one argument, got %d (quote the prompt)", len(args))
}

// tokenizerFolder picks the tokenizer folder of a checkpoint. A folder that
// is itself a tokenizer is used as it is unless --component was given.
func tokenizerFolder(root, component string, explicit bool) (string, error) {
	if filepath.Base(component) != component || component == "." || component == ".." {
		return "", fmt.Errorf("tokenize: --component %q is not a subfolder name", component)
	}
	dir := filepath.Join(root, component)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir, nil
	}
	if !explicit && isTokenizerFolder(root) {
		return root, nil
	}
	var have []string
	if matches, _ := filepath.Glob(filepath.Join(root, "tokenizer*")); len(matches) > 0 {
		for _, m := range matches {
			have = append(have, filepath.Base(m))
		}
	}
	if len(have) == 0 {
		return "", fmt.Errorf("tokenize: %s has no %s folder and no tokenizer folders", root, component)
	}
	return "", fmt.Errorf("tokenize: %s has no %s folder (it has %s)", root, component, strings.Join(have, ", "))
}

func isTokenizerFolder(dir string) bool {
	for _, f := range []string{"tokenizer.json", "vocab.json", "spiece.model"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// writeTokenized prints the token strings (when asked) and then the ids,
// each as one compact JSON line.
func writeTokenized(w io.Writer, tok tokenizer.Tokenizer, ids []int, tokens bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep "<|endoftext|>" readable
	if tokens {
		if err := enc.Encode(tok.Tokens(ids)); err != nil {
			return err
		}
	}
	if ids == nil {
		ids = []int{}
	}
	return enc.Encode(ids)
}
