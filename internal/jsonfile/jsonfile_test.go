package jsonfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReadMap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "unet", "config.json")
	if err := Write(path, map[string]any{"sample_size": 16, "_class_name": "UNet2DConditionModel"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"_class_name\": \"UNet2DConditionModel\",\n  \"sample_size\": 16\n}\n"
	if string(raw) != want {
		t.Fatalf("file = %q, want %q", raw, want)
	}
	m, err := ReadMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if m["sample_size"] != 16.0 || m["_class_name"] != "UNet2DConditionModel" {
		t.Fatalf("ReadMap = %v", m)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMap(bad); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("ReadMap of bad JSON: %v, want an error naming the file", err)
	}
	if _, err := ReadMap(filepath.Join(dir, "missing.json")); !os.IsNotExist(err) {
		t.Fatalf("ReadMap of a missing file: %v, want not-exist", err)
	}
	if err := Write(filepath.Join(dir, "x.json"), func() {}); err == nil {
		t.Fatal("Write of a func: no error")
	}
}
