package hub

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*.json", "model_index.json", true},
		{"*.json", "unet/config.json", true},
		{"unet/*", "unet/model.onnx", true},
		{"unet/*", "unet/sub/model.onnx", true},
		{"unet/*", "vae/model.onnx", false},
		{"**/*.onnx", "unet/model.onnx", true},
		{"**/*.onnx", "model.onnx", false},
		{"unet/", "unet/a/b", true},
		{"unet/", "unet", false},
		{"model.onnx", "unet/model.onnx", false},
		{"?net/*", "unet/x", true},
		{"[uv]*/*.onnx", "vae/model.onnx", true},
		{"[!uv]*/*.onnx", "vae/model.onnx", false},
		{"[^uv]*/*.onnx", "text/model.onnx", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[]]x", "]x", true},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.name, func(t *testing.T) {
			got, err := globMatch(tt.pattern, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		f    Filter
		name string
		want bool
	}{
		{Filter{}, "anything", true},
		{Filter{Include: []string{"*.json"}}, "a.onnx", false},
		{Filter{Include: []string{"*.json", "*.onnx"}}, "a.onnx", true},
		{Filter{Exclude: []string{"*.onnx"}}, "a.onnx", false},
		{Filter{Include: []string{"unet/*"}, Exclude: []string{"*_data"}}, "unet/model.onnx_data", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(tt.name); got != tt.want {
				t.Errorf("%+v.Match(%q) = %v, want %v", tt.f, tt.name, got, tt.want)
			}
		})
	}
	if err := (Filter{Include: []string{"ok"}, Exclude: []string{"x[ab"}}).Validate(); err == nil {
		t.Error("Validate accepted an unclosed [")
	}
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("unet/*.onnx", "unet/model.onnx")
	f.Add("[!a-c]*", "d")
	f.Add("**/x?", "a/b/xy")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got, err := globMatch(pattern, name)
		if err != nil {
			if got {
				t.Fatal("match reported with an error")
			}
			return
		}
		// A pattern free of special characters matches only itself.
		if !strings.ContainsAny(pattern, "*?[") && !strings.HasSuffix(pattern, "/") && got != (pattern == name) {
			t.Fatalf("literal %q vs %q: got %v", pattern, name, got)
		}
		// Every name matches itself when it has no special characters.
		if !strings.ContainsAny(name, "*?[") && !strings.HasSuffix(name, "/") {
			if ok, _ := globMatch(name, name); !ok {
				t.Fatalf("%q does not match itself", name)
			}
		}
	})
}

func BenchmarkGlobMatch(b *testing.B) {
	for b.Loop() {
		globMatch("**/*.onnx*", "text_encoder_2/some/deep/folder/model.onnx_data")
	}
}
