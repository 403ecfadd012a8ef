package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

// TestPromptSyntaxA1111 checks the AUTOMATIC1111 prompt syntax end to end:
// a prompt without syntax gives diffusers' bytes (so the conformance
// references still hold), emphasis changes the picture, and long prompts
// and BREAK run in several chunks.
func TestPromptSyntaxA1111(t *testing.T) {
	testort.Init(t)
	for _, ck := range []struct{ checkpoint, ref string }{{"sd1-tiny", "sd1/euler"}, {"sdxl-tiny", "sdxl/euler"}} {
		t.Run(ck.checkpoint, func(t *testing.T) {
			var c refCase
			conformance.Case(t, ck.ref, &c)
			p, err := pipeline.Load(context.Background(), conformance.Dir(t, ck.checkpoint), pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			run := func(prompt, syntax string) []float32 {
				t.Helper()
				r := c.request(t)
				r.Prompts, r.PromptSyntax = []string{prompt}, syntax
				res, err := p.Generate(context.Background(), r)
				if err != nil {
					t.Fatal(err)
				}
				return res.Images
			}
			base := c.request(t).Prompts[0]
			literal := run(base, pipeline.PromptLiteral)
			compare(t, "plain prompt, a1111 vs literal", run(base, pipeline.PromptA1111), literal, 0, 0)
			compare(t, "literal vs reference", literal, c.Image.Float32(), 5e-3, 1e-3)
			if equal(run("("+base+":1.4)", pipeline.PromptA1111), literal) {
				t.Error("emphasis left the picture unchanged")
			}
			long := strings.Repeat(base+", ", 12) // over 75 tokens: two or more chunks
			if img := run(long, pipeline.PromptA1111); len(img) != len(literal) {
				t.Errorf("long prompt: %d values, want %d", len(img), len(literal))
			}
			if equal(run(base+" BREAK "+base, pipeline.PromptA1111), literal) {
				t.Error("BREAK left the picture unchanged")
			}
		})
	}
	p, err := pipeline.Load(context.Background(), conformance.Dir(t, "sd3-tiny"), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Generate(context.Background(), pipeline.Request{Prompts: []string{"(a cat)"}, PromptSyntax: pipeline.PromptA1111, Steps: 1})
	if !errors.Is(err, pipeline.ErrBadRequest) {
		t.Errorf("SD3 with the a1111 syntax: got %v, want ErrBadRequest", err)
	}
}

// TestClipSkip: 1 is the default, 2 picks another layer where the export
// has hidden_states outputs (SDXL), and an export without them is refused
// with a clear error (the SD 1 conformance encoder).
func TestClipSkip(t *testing.T) {
	testort.Init(t)
	var c refCase
	conformance.Case(t, "sdxl/euler", &c)
	p, err := pipeline.Load(context.Background(), conformance.Dir(t, "sdxl-tiny"), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	run := func(skip int) []float32 {
		r := c.request(t)
		r.ClipSkip = skip
		res, err := p.Generate(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return res.Images
	}
	def := run(0)
	compare(t, "clip skip 1", run(1), def, 0, 0)
	if equal(run(2), def) {
		t.Error("clip skip 2 left the picture unchanged")
	}
	sd1 := loadSD1(t)
	_, err = sd1.Generate(context.Background(), pipeline.Request{Prompts: []string{"a cat"}, ClipSkip: 2, Steps: 1})
	if err == nil || !strings.Contains(err.Error(), "hidden_states") {
		t.Errorf("SD 1 export without hidden states: got %v, want an error naming hidden_states", err)
	}
	if _, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a cat"}, ClipSkip: -1}); !errors.Is(err, pipeline.ErrBadRequest) {
		t.Errorf("clip skip -1: got %v, want ErrBadRequest", err)
	}
}
