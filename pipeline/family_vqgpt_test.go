package pipeline_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/pipeline"
)

func TestVQGPTFamilyGenerate(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVQGPT)
	if p.Family() != pipeline.FamilyVQGPT {
		t.Fatalf("family %s, want vqgpt", p.Family())
	}
	ctx := context.Background()
	const tokens = familytest.CodeGrid * familytest.CodeGrid
	var progress []int
	var partial []pipeline.PartialPicture
	req := pipeline.Request{Prompts: []string{"a red circle", "a blue star at the top left"}, Seed: 5,
		Progress:     func(s pipeline.StepInfo) { progress = append(progress, s.Step) },
		PartialEvery: 16, Partial: func(pp pipeline.PartialPicture) { partial = append(partial, pp) }}
	res, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 2 || res.H != 32 || res.W != 32 || len(res.Images) != 2*32*32*3 {
		t.Fatalf("got %d pictures of %dx%d (%d values)", res.N, res.W, res.H, len(res.Images))
	}
	if res.Guidance != 3 || res.DenoiserCalls != tokens || len(res.Timings.Steps) != tokens {
		t.Errorf("guidance %v, %d transformer calls, %d step times; want the folder's 3 and %d", res.Guidance, res.DenoiserCalls, len(res.Timings.Steps), tokens)
	}
	if len(res.Latents) != 2*tokens {
		t.Fatalf("%d codes, want %d", len(res.Latents), 2*tokens)
	}
	for i, c := range res.Latents {
		if c < 0 || c >= familytest.CodebookSize || c != float32(int(c)) {
			t.Fatalf("code %d is %v", i, c)
		}
	}
	if len(progress) != tokens || progress[0] != 1 || progress[tokens-1] != tokens {
		t.Errorf("progress reported %d times (%v ...), want once per token", len(progress), progress[:min(3, len(progress))])
	}
	if len(partial) != tokens/16 {
		t.Fatalf("%d partial pictures, want %d", len(partial), tokens/16)
	}
	// After 16 of 64 tokens the lower 6 code rows (from pixel row 8 down)
	// are blank, mid grey; the finished picture equals the last partial.
	first := partial[0]
	if first.Tokens != 16 || first.Total != tokens {
		t.Errorf("first partial at %d of %d tokens", first.Tokens, first.Total)
	}
	for _, v := range first.Result.Images[8*32*3 : 32*32*3] {
		if v != 0.5 {
			t.Fatalf("blank part of a partial picture holds %v, want 0.5", v)
		}
	}
	last := partial[len(partial)-1].Result.Images
	for i := range res.Images {
		if res.Images[i] != last[i] {
			t.Fatalf("value %d: the last partial picture differs from the result", i)
		}
	}

	// The seed fixes the codes; another seed changes them.
	req.Progress, req.Partial = nil, nil
	again, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Latents {
		if again.Latents[i] != res.Latents[i] {
			t.Fatalf("code %d differs between runs with the same seed", i)
		}
	}
	req.Seed = 6
	other, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range res.Latents {
		if other.Latents[i] == res.Latents[i] {
			same++
		}
	}
	if same == len(res.Latents) {
		t.Error("seeds 5 and 6 gave the same codes")
	}
	// Without guidance one stream runs; top-k 1 makes sampling greedy, so
	// the seed no longer matters.
	one, topK := 1.0, 1
	g1, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Guidance: &one, TopK: topK, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Guidance: &one, TopK: topK, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range g1.Latents {
		if g1.Latents[i] != g2.Latents[i] {
			t.Fatalf("greedy sampling: code %d depends on the seed", i)
		}
	}
}

func TestVQGPTFamilyBadRequests(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVQGPT)
	ctx := context.Background()
	f := func(v float64) *float64 { return &v }
	tests := map[string]pipeline.Request{
		"temperature NaN":   {Temperature: math.NaN()}, // 0 is the model's own
		"temperature < 0":   {Temperature: -0.5},
		"top-p 0":           {TopP: f(0)},
		"top-p above 1":     {TopP: f(1.2)},
		"top-k < 0":         {TopK: -1},
		"steps":             {Steps: 20},
		"scheduler":         {Scheduler: "DDIM"},
		"size":              {Height: 64, Width: 64},
		"guidance NaN":      {Guidance: f(math.NaN())},
		"partial every < 0": {PartialEvery: -1},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			r.Prompts = []string{"a red circle"}
			if _, err := p.Generate(ctx, r); !errors.Is(err, pipeline.ErrBadRequest) {
				t.Errorf("got %v, want ErrBadRequest", err)
			}
		})
	}
}
