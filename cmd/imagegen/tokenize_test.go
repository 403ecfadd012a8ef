package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
)

// runCLI runs the imagegen app with args and returns its stdout.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	runErr := run(append([]string{"imagegen"}, args...))
	os.Stdout = saved
	w.Close()
	var out bytes.Buffer
	if _, err := io.Copy(&out, r); err != nil {
		t.Fatal(err)
	}
	return out.String(), runErr
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestTokenizeCommand(t *testing.T) {
	sd1 := conformance.Dir(t, "sd1-tiny")
	sdxl := conformance.Dir(t, "sdxl-tiny")
	sd3 := conformance.Dir(t, "sd3-tiny")
	tests := []struct {
		name    string
		args    []string
		want    string // last line of stdout
		wantErr string
	}{
		{"ids", []string{"--model", sd1, "A painting of a squirrel eating a burger"}, "[785,320,580,752,320,655,710,320,652,786]", ""},
		{"padded", []string{"--model", sdxl, "--component", "tokenizer_2", "--max-length", "6", "a"}, "[785,320,786,0,0,0]", ""},
		{"truncated", []string{"--model", sd3, "--component", "tokenizer_3", "--max-length", "3", "a red circle above"}, "[4,12,1]", ""},
		{"empty text", []string{"--model", sd3, "--component", "tokenizer_3", ""}, "[1]", ""},
		{"dash text after --", []string{"--model", sd1, "--", "-a"}, "[785,268,320,786]", ""},
		{"tokenizer folder itself", []string{"--model", filepath.Join(sd1, "tokenizer"), "a"}, "[785,320,786]", ""},
		{"flag after text", []string{"--model", sd1, "a cat", "--max-length", "5"}, "", "flags must come before TEXT"},
		{"two texts", []string{"--model", sd1, "a", "cat"}, "", "one argument"},
		{"missing text", []string{"--model", sd1}, "", "missing TEXT"},
		{"bad max length", []string{"--model", sd1, "--max-length", "0", "a"}, "", "must be positive"},
		{"missing component", []string{"--model", sd1, "--component", "tokenizer_3", "a"}, "", "has no tokenizer_3 folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, append([]string{"tokenize"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := lastLine(out); got != tt.want {
				t.Errorf("last line = %s, want %s", got, tt.want)
			}
		})
	}
	out, err := runCLI(t, "tokenize", "--model", sd1, "--tokens", "a")
	if err != nil || !strings.HasPrefix(out, `["<|startoftext|>","a</w>","<|endoftext|>"]`+"\n") {
		t.Errorf("--tokens output = %q, %v", out, err)
	}
}

// TestUsageErrors checks that a bad flag gives one error line that points
// at the help, and prints nothing on stdout.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "-q"}, "flag provided but not defined: -q (see imagegen generate --help)"},
		{[]string{"eval", "-n", "many"}, "(see imagegen eval --help)"},
		{[]string{"--bogus", "models"}, "flag provided but not defined: -bogus (see imagegen --help)"},
	} {
		out, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("%q: printed %q on stdout", tc.args, out)
		}
	}
}
