package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/hubtest"
	"github.com/imagegen/imagegen/internal/testort"
)

// TestGenerateFromHub pulls a checkpoint from a fake Hub through
// --model hf:... and checks the output equals the local folder's.
func TestGenerateFromHub(t *testing.T) {
	testort.Init(t)
	dir := conformance.Dir(t, "sd1-tiny")
	srv := hubtest.Serve(t, "test-org/sd1-tiny", dir)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "")
	tmp := t.TempDir()
	local, remote := filepath.Join(tmp, "local.npy"), filepath.Join(tmp, "hub.npy")
	args := []string{"--prompt", "a red circle", "--steps", "3", "--seed", "4", "--scheduler", "Euler a"}
	if _, err := runGenerateCLI(t, append([]string{"generate", "--model", dir, "-o", local}, args...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := runGenerateCLI(t, append([]string{"generate", "--model", "hf:test-org/sd1-tiny", "-o", remote}, args...)...); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(local)
	b, _ := os.ReadFile(remote)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("generate from hf: differs from the local folder")
	}
	// Offline, the cache alone serves the model.
	t.Setenv("HF_HUB_OFFLINE", "1")
	if _, err := runGenerateCLI(t, append([]string{"generate", "--model", "hf:test-org/sd1-tiny", "-o", remote}, args...)...); err != nil {
		t.Fatalf("offline from the cache: %v", err)
	}
	t.Setenv("HF_HUB_OFFLINE", "")
	_, err := runGenerateCLI(t, append([]string{"generate", "--model", "hf:test-org/no-such-repo", "-o", remote}, args...)...)
	if err == nil || !strings.Contains(err.Error(), "no-such-repo") {
		t.Fatalf("missing repo: got %v, want an error naming it", err)
	}
}
