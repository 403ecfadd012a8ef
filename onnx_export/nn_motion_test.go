package onnxexport_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// tinyMotionUNet is a two-level UNet small enough to run in a test.
func tinyMotionUNet() (onnxexport.UNetConfig, onnxexport.MotionConfig) {
	return onnxexport.UNetConfig{
			InChannels: 4, OutChannels: 4, SampleSize: 8, BlockOutChannels: []int64{16, 32},
			DownBlockTypes: []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D},
			UpBlockTypes:   []string{onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D},
			LayersPerBlock: 1, AttentionHeads: []int64{2}, CrossAttentionDim: 16, NormGroups: 8, NormEps: 1e-5,
			TextTimeHeads: 4, PositionEmbedding: true,
		},
		onnxexport.MotionConfig{Heads: 2, MaxFrames: 16, TextDim: 16, TextHeads: 4}
}

// motionGraphs returns the motion UNet and the image UNet of cfg with the
// same spatial weights (the image UNet's), as the training script loads
// them; with perturb, the motion modules' zero output projections get
// values, so that frames mix.
func motionGraphs(t *testing.T, perturb bool) (motion, image *onnxexport.Builder) {
	t.Helper()
	cfg, m := tinyMotionUNet()
	image = onnxexport.NewUNetGraph(cfg, 7)
	motion = onnxexport.NewUNetMotionGraph(cfg, m, 11)
	w := map[string]*onnxexport.Tensor{}
	for _, p := range image.Params() {
		w[p.Name] = p.Tensor
	}
	all := map[string]*onnxexport.Tensor{}
	nMotion := 0
	for _, p := range motion.Params() {
		all[p.Name] = p.Tensor
		if onnxexport.IsMotionParam(p.Name) {
			nMotion++
			if perturb && strings.Contains(p.Name, "proj_out") {
				all[p.Name] = onnxexport.NewFloat32(p.Tensor.Shape, ramp(int(p.Tensor.NumElements()), 0.3))
			}
			continue
		}
		v, ok := w[p.Name]
		if !ok {
			t.Fatalf("motion UNet parameter %s is not the image UNet's", p.Name)
		}
		all[p.Name] = v
	}
	if want := len(motion.Params()) - len(image.Params()); nMotion != want {
		t.Fatalf("%d motion parameters, want the %d the image UNet lacks", nMotion, want)
	}
	if err := motion.LoadParams(all); err != nil {
		t.Fatal(err)
	}
	return motion, image
}

// runMotion runs the motion UNet on a clip [B,4,F,8,8] and the image UNet
// on its B·F frames with each clip's prompt repeated, returning both
// outputs in the clip layout.
func runMotion(t *testing.T, motion, image *onnxexport.Builder, clip []float32, B, F int) (got, perFrame []float32) {
	t.Helper()
	const c, s, seq, d = 4, 8, 5, 16
	hw := s * s
	text := ramp(B*seq*d, 1)
	ts := ort.Tensor{F32: []float32{500}}
	out := runGraph(t, motion, map[string]ort.Tensor{
		"sample":                {Shape: []int64{int64(B), c, int64(F), s, s}, F32: clip},
		"timestep":              ts,
		"encoder_hidden_states": {Shape: []int64{int64(B), seq, d}, F32: text},
	}, "out_sample")
	frames := make([]float32, len(clip))
	texts := make([]float32, B*F*seq*d)
	for b := range B {
		for f := range F {
			for ch := range c {
				copy(frames[((b*F+f)*c+ch)*hw:][:hw], clip[((b*c+ch)*F+f)*hw:][:hw])
			}
			copy(texts[(b*F+f)*seq*d:][:seq*d], text[b*seq*d:][:seq*d])
		}
	}
	ref := runGraph(t, image, map[string]ort.Tensor{
		"sample":                {Shape: []int64{int64(B * F), c, s, s}, F32: frames},
		"timestep":              ts,
		"encoder_hidden_states": {Shape: []int64{int64(B * F), seq, d}, F32: texts},
	}, "out_sample")["out_sample"].F32
	perFrame = make([]float32, len(ref))
	for b := range B {
		for f := range F {
			for ch := range c {
				copy(perFrame[((b*c+ch)*F+f)*hw:][:hw], ref[((b*F+f)*c+ch)*hw:][:hw])
			}
		}
	}
	return out["out_sample"].F32, perFrame
}

// TestUNetMotionStartsAsImageModel checks AnimateDiff's starting point:
// with the motion modules' output projections at zero, the motion UNet
// is the image UNet applied frame by frame, element by element.
func TestUNetMotionStartsAsImageModel(t *testing.T) {
	for _, frames := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(frames, " frames"), func(t *testing.T) {
			motion, image := motionGraphs(t, false)
			const B = 2
			clip := ramp(B*4*frames*64, 1)
			got, want := runMotion(t, motion, image, clip, B, frames)
			if len(got) != len(want) {
				t.Fatalf("got %d values, want %d", len(got), len(want))
			}
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-4 {
					t.Fatalf("value %d: got %v, want %v (the image UNet's)", i, got[i], want[i])
				}
			}
		})
	}
}

// TestUNetMotionMixesFrames checks that trained (non-zero) motion modules
// make a frame's prediction depend on the other frames, and on nothing
// of another clip in the batch.
func TestUNetMotionMixesFrames(t *testing.T) {
	motion, image := motionGraphs(t, true)
	const B, F, per = 2, 4, 4 * 4 * 64 // per: one clip
	clip := ramp(B*per, 1)
	base, _ := runMotion(t, motion, image, clip, B, F)
	// Change frame 0 of clip 0 only.
	changed := append([]float32(nil), clip...)
	for ch := range 4 {
		for k := range 64 {
			changed[(ch*F+0)*64+k] += 0.5
		}
	}
	got, _ := runMotion(t, motion, image, changed, B, F)
	diff := func(clip, frame int) float64 {
		m := 0.0
		for ch := range 4 {
			for k := range 64 {
				i := clip*per + (ch*F+frame)*64 + k
				m = max(m, math.Abs(float64(got[i]-base[i])))
			}
		}
		return m
	}
	if d := diff(0, 3); d < 1e-4 {
		t.Errorf("frame 3 of the changed clip moved by %g: the motion modules do not mix frames", d)
	}
	for f := range F {
		if d := diff(1, f); d > 1e-5 {
			t.Errorf("frame %d of the other clip moved by %g", f, d)
		}
	}
}

func TestMotionConfigValidate(t *testing.T) {
	cfg, good := tinyMotionUNet()
	for _, tc := range []struct {
		name string
		edit func(m *onnxexport.MotionConfig)
	}{
		{"no heads", func(m *onnxexport.MotionConfig) { m.Heads = 0 }},
		{"heads not dividing channels", func(m *onnxexport.MotionConfig) { m.Heads = 3 }},
		{"one frame", func(m *onnxexport.MotionConfig) { m.MaxFrames = 1 }},
		{"text heads not dividing", func(m *onnxexport.MotionConfig) { m.TextHeads = 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			tc.edit(&m)
			if err := m.Validate(cfg); !errors.Is(err, onnxexport.ErrArgument) {
				t.Errorf("got %v, want ErrArgument", err)
			}
			b := onnxexport.NewUNetMotionGraph(cfg, m, 1)
			if !errors.Is(b.Err(), onnxexport.ErrArgument) {
				t.Errorf("builder error %v, want ErrArgument", b.Err())
			}
		})
	}
	if err := good.Validate(cfg); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestIsMotionParam(t *testing.T) {
	for name, want := range map[string]bool{
		"down_blocks.1.motion_modules.0.attn.to_q.weight": true,
		"motion_text.pool.q_proj.weight":                  true,
		"mid_block.motion_modules.0.proj_out.bias":        true,
		"down_blocks.1.attentions.0.proj_in.weight":       false,
		"add_embedding.proj.weight":                       false,
		"my_motion_modules_x.weight":                      false,
	} {
		if got := onnxexport.IsMotionParam(name); got != want {
			t.Errorf("IsMotionParam(%q) = %v, want %v", name, got, want)
		}
	}
}
