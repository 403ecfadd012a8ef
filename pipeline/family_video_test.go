package pipeline_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/pipeline"
)

// loadSVD opens a tiny SVD checkpoint written for the test.
func loadSVD(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	dir := t.TempDir()
	if err := familytest.WriteSVD(dir, 3); err != nil {
		t.Fatal(err)
	}
	return familytest.LoadDir(t, dir)
}

func floatp(v float64) *float64 { return &v }
func intp(v int) *int           { return &v }

// svdRequest is a short SVD run on a 32×32 first frame.
func svdRequest() pipeline.Request {
	return pipeline.Request{InitImage: gradient(familytest.VideoSize, familytest.VideoSize), Steps: 3, Seed: 11}
}

func maxAbsDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
	}
	return worst
}

func TestSVDClip(t *testing.T) {
	p := loadSVD(t)
	if p.Family() != pipeline.FamilySVD {
		t.Fatalf("family %s, want %s", p.Family(), pipeline.FamilySVD)
	}
	ctx := context.Background()
	res, err := p.Generate(ctx, svdRequest())
	if err != nil {
		t.Fatal(err)
	}
	F, S := familytest.SVDFrames, familytest.VideoSize
	if res.N != 1 || res.Frames != F || res.H != S || res.W != S || len(res.Images) != F*S*S*3 {
		t.Fatalf("got N=%d frames=%d %dx%d (%d values), want 1 clip of %d %dx%d frames", res.N, res.Frames, res.W, res.H, len(res.Images), F, S, S)
	}
	if res.FPS != 7 || res.Steps != 3 || res.Guidance != 3 || res.DenoiserCalls != 3 {
		t.Errorf("fps %g steps %d guidance %g calls %d, want SVD's defaults 7, 3 (asked), 3, 3", res.FPS, res.Steps, res.Guidance, res.DenoiserCalls)
	}
	wantShape := []int64{1, int64(F), 4, int64(S / 2), int64(S / 2)}
	if len(res.LatentShape) != 5 || res.LatentShape[1] != wantShape[1] || res.LatentShape[2] != 4 {
		t.Errorf("latent shape %v, want %v", res.LatentShape, wantShape)
	}
	frame := S * S * 3
	if maxAbsDiff(res.Images[:frame], res.Images[(F-1)*frame:]) == 0 {
		t.Error("first and last frames are identical; the per-frame guidance should make them differ")
	}

	again, err := p.Generate(ctx, svdRequest())
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(res.Images, again.Images); d != 0 {
		t.Errorf("same seed: frames differ by up to %g", d)
	}
	// Every conditioning value reaches the UNet: changing one changes the clip.
	changes := map[string]func(r *pipeline.Request){
		"seed":          func(r *pipeline.Request) { r.Seed = 12 },
		"motion bucket": func(r *pipeline.Request) { r.MotionBucket = intp(40) },
		"fps":           func(r *pipeline.Request) { r.FPS = 12 },
		"noise aug":     func(r *pipeline.Request) { r.NoiseAug = floatp(0.3) },
		"min guidance":  func(r *pipeline.Request) { r.MinGuidance = floatp(2) },
		"first frame":   func(r *pipeline.Request) { r.InitImage = halfMask(familytest.VideoSize, familytest.VideoSize) },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			req := svdRequest()
			change(&req)
			other, err := p.Generate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if maxAbsDiff(res.Images, other.Images) < 1e-4 {
				t.Errorf("changing the %s left the clip unchanged", name)
			}
		})
	}
}

// Decoding in chunks gives the frames of a whole decode: each chunk is
// told its own frame count (the stand-in decoder scales by num_frames /
// batch, so a wrong count would show).
func TestSVDChunkedDecode(t *testing.T) {
	p := loadSVD(t)
	ctx := context.Background()
	whole, err := p.Generate(ctx, svdRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 3} {
		req := svdRequest()
		req.DecodeChunk = chunk
		res, err := p.Generate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(whole.Images, res.Images); d > 1e-6 {
			t.Errorf("chunk %d: frames differ from the whole decode by up to %g", chunk, d)
		}
	}
}

func TestSVDTwoClips(t *testing.T) {
	p := loadSVD(t)
	req := svdRequest()
	req.NumImages = 2
	res, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	per := res.Frames * res.H * res.W * 3
	if res.N != 2 || len(res.Images) != 2*per {
		t.Fatalf("got %d clips (%d values), want 2 of %d", res.N, len(res.Images), per)
	}
	if maxAbsDiff(res.Images[:per], res.Images[per:]) == 0 {
		t.Error("the two clips are identical; each should get its own noise")
	}
}

func TestVideoBadRequests(t *testing.T) {
	p := loadSVD(t)
	tests := []struct {
		name   string
		change func(r *pipeline.Request)
		want   string
	}{
		{"no init image", func(r *pipeline.Request) { r.InitImage = nil }, "init image"},
		{"init image of another size", func(r *pipeline.Request) { r.InitImage = gradient(48, 32); r.Width, r.Height = 32, 32 }, "init image is 48x32"},
		{"too many frames", func(r *pipeline.Request) { r.Frames = familytest.SVDFrames + 2 }, "exactly 4 frames"},
		{"a prompt", func(r *pipeline.Request) { r.Prompts = []string{"a cat"} }, "no prompt"},
		{"negative fps", func(r *pipeline.Request) { r.FPS = -1 }, "fps"},
		{"negative chunk", func(r *pipeline.Request) { r.DecodeChunk = -2 }, "decode chunk"},
		{"negative motion", func(r *pipeline.Request) { r.MotionBucket = intp(-1) }, "motion bucket"},
		{"mask", func(r *pipeline.Request) { r.Mask = halfMask(32, 32) }, "inpainting"},
		{"size the export cannot make", func(r *pipeline.Request) { r.InitImage = gradient(64, 64) }, "only makes 32x32 clips"},
		{"guidance rescale", func(r *pipeline.Request) { r.GuidanceRescale = 0.5 }, "guidance rescale"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := svdRequest()
			tc.change(&req)
			_, err := p.Generate(context.Background(), req)
			if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadRequest mentioning %q", err, tc.want)
			}
		})
	}
}

// Families without frames refuse the video fields.
func TestPictureFamilyRefusesFrames(t *testing.T) {
	p := familytest.Load(t, familytest.WriteGAN)
	_, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red circle"}, Frames: 8})
	if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), "frames") {
		t.Fatalf("got %v, want ErrBadRequest about frames", err)
	}
}

func loadAnimateDiff(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	sd := conformance.Dir(t, "sd1-tiny")
	dir := t.TempDir()
	if err := familytest.WriteAnimateDiff(dir, sd, 5); err != nil {
		t.Fatal(err)
	}
	return familytest.LoadDir(t, dir)
}

func TestAnimateDiffClip(t *testing.T) {
	p := loadAnimateDiff(t)
	if p.Family() != pipeline.FamilyAnimateDiff {
		t.Fatalf("family %s, want %s", p.Family(), pipeline.FamilyAnimateDiff)
	}
	ctx := context.Background()
	req := pipeline.Request{Prompts: []string{"a red ball"}, Frames: 5, Steps: 3, Seed: 2}
	res, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 1 || res.Frames != 5 || res.H != 32 || res.W != 32 || res.FPS != 8 {
		t.Fatalf("got N=%d frames=%d %dx%d fps %g, want 1 clip of 5 32x32 frames at 8 fps", res.N, res.Frames, res.W, res.H, res.FPS)
	}
	if s := res.LatentShape; len(s) != 5 || s[1] != 4 || s[2] != 5 {
		t.Errorf("latent shape %v, want [1, 4, 5, 16, 16] (AnimateDiff's [B, C, F, h, w])", s)
	}
	again, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(res.Images, again.Images); d != 0 {
		t.Errorf("same seed: frames differ by up to %g", d)
	}
	req.DecodeChunk = 2
	chunked, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(res.Images, chunked.Images); d > 1e-6 {
		t.Errorf("decode chunk 2: frames differ from the whole decode by up to %g", d)
	}
	req.DecodeChunk = 0
	req.Prompts = []string{"a blue cube"}
	other, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if maxAbsDiff(res.Images, other.Images) < 1e-4 {
		t.Error("another prompt left the clip unchanged")
	}

	def, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red ball"}, Steps: 1})
	if err != nil {
		t.Fatal(err)
	}
	if def.Frames != familytest.AnimateDiffMaxFrames {
		t.Errorf("default frames %d, want the motion module's limit %d (below diffusers' 16)", def.Frames, familytest.AnimateDiffMaxFrames)
	}
	for name, bad := range map[string]pipeline.Request{
		"too many frames": {Prompts: []string{"x"}, Frames: familytest.AnimateDiffMaxFrames + 1},
		"init image":      {Prompts: []string{"x"}, InitImage: gradient(32, 32)},
		"svd option":      {Prompts: []string{"x"}, MotionBucket: intp(10)},
	} {
		if _, err := p.Generate(ctx, bad); !errors.Is(err, pipeline.ErrBadRequest) {
			t.Errorf("%s: got %v, want ErrBadRequest", name, err)
		}
	}
}

// An export taking the text embedding once per frame (diffusers ≥ 0.30)
// makes the same clip as one taking it once per clip.
func TestAnimateDiffTextPerFrame(t *testing.T) {
	sd := conformance.Dir(t, "sd1-tiny")
	perClip, perFrame := t.TempDir(), t.TempDir()
	if err := familytest.WriteAnimateDiff(perClip, sd, 5); err != nil {
		t.Fatal(err)
	}
	if err := familytest.WriteAnimateDiffTextPerFrame(perFrame, sd, 5); err != nil {
		t.Fatal(err)
	}
	req := pipeline.Request{Prompts: []string{"a red ball", "a blue cube"}, Frames: 3, Steps: 2, Seed: 4}
	a, err := familytest.LoadDir(t, perClip).Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := familytest.LoadDir(t, perFrame).Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(a.Images, b.Images); d > 1e-5 {
		t.Errorf("per-frame text export differs from the per-clip one by up to %g", d)
	}
}

// BenchmarkSVDTinyGenerate times a whole 4-step, 4-frame clip of the tiny
// SVD stand-in: the pipeline's own overhead around near-free models.
func BenchmarkSVDTinyGenerate(b *testing.B) {
	dir := b.TempDir()
	if err := familytest.WriteSVD(dir, 3); err != nil {
		b.Fatal(err)
	}
	p := familytest.LoadDir(b, dir)
	req := pipeline.Request{InitImage: gradient(familytest.VideoSize, familytest.VideoSize), Steps: 4, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Generate(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// The UNet gets added_time_ids (fps−1, motion bucket, noise aug) on every
// row, and the unconditional rows' image embedding is zeros.
func TestSVDUNetConditioning(t *testing.T) {
	p := loadSVD(t)
	req := svdRequest()
	req.NumImages, req.FPS, req.MotionBucket, req.NoiseAug = 2, 9, intp(40), floatp(0.1)
	in, err := pipeline.SVDUNetInputs(p, req)
	if err != nil {
		t.Fatal(err)
	}
	ids := in["added_time_ids"]
	if len(ids.Shape) != 2 || ids.Shape[0] != 4 || ids.Shape[1] != 3 {
		t.Fatalf("added_time_ids shape %v, want [4, 3] (2 clips, guided)", ids.Shape)
	}
	for r := range 4 {
		got := ids.F32[3*r : 3*r+3]
		if got[0] != 8 || got[1] != 40 || got[2] != float32(0.1) {
			t.Errorf("added_time_ids row %d = %v, want [8 40 0.1]", r, got)
		}
	}
	ehs := in["encoder_hidden_states"]
	d := int(ehs.Shape[2])
	if len(ehs.Shape) != 3 || ehs.Shape[0] != 4 || ehs.Shape[1] != 1 || d != familytest.SVDEmbedDim {
		t.Fatalf("encoder_hidden_states shape %v, want [4, 1, %d]", ehs.Shape, familytest.SVDEmbedDim)
	}
	for r := range 4 {
		row := ehs.F32[r*d : (r+1)*d]
		zero := true
		for _, v := range row {
			zero = zero && v == 0
		}
		if zero != (r < 2) {
			t.Errorf("encoder_hidden_states row %d all zero: %v, want %v (unconditional rows first)", r, zero, r < 2)
		}
	}
	if d := maxAbsDiff(ehs.F32[2*d:3*d], ehs.F32[3*d:4*d]); d != 0 {
		t.Errorf("the two clips' image embeddings differ by %g; both come from the one first frame", d)
	}
}
