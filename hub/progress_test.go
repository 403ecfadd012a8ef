package hub

import (
	"bytes"
	"strings"
	"testing"
)

func TestBarSetLines(t *testing.T) {
	var out bytes.Buffer
	set := newBarSet(&out)
	a := set.add("unet/model.onnx", 1000)
	b := set.add("vae_decoder/model.onnx", -1)
	a.set(500, false)
	b.set(10, false)
	a.set(1000, true)
	b.set(20, true)
	s := out.String()
	if got := strings.Count(s, "\n"); got != 2 {
		t.Errorf("%d newlines, want 2 (one reserved line per bar)", got)
	}
	// Bar 0 is two lines above the cursor, bar 1 (a spinner: its size is
	// unknown) one line.
	for _, want := range []string{"\x1b[2A\r\x1b[Kunet/model.onnx", "\x1b[1A\r\x1b[K| vae_decoder/model.onnx"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%q", want, s)
		}
	}
	var none *barSet
	none.add("x", 1).set(1, true) // a nil set draws nothing and does not panic
}

func TestONNXOnly(t *testing.T) {
	f := Filter(ONNXOnly())
	for name, want := range map[string]bool{
		"unet/model.onnx": true, "unet/model.onnx_data": true, "model_index.json": true,
		"unet/diffusion_pytorch_model.safetensors": false, "text_encoder/pytorch_model.bin": false,
	} {
		if got := f.Match(name); got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
}
