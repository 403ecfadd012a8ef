package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// Pieces shared by imagegen's own families (VAE, VQ-VAE, ...): opening a
// component with its declared inputs checked, reading prompts as shapes
// attributes, and turning decoder output into a Result.

// ioSpec is a declared input or output a family expects: its name, element
// type and shape (-1 for any size, such as the batch).
type ioSpec struct {
	name  string
	dtype ort.DType
	shape []int64
}

// openComponent opens dir/component/model.onnx and checks that it declares
// the inputs and outputs want lists, so a checkpoint of the wrong shape
// fails at load with the file named instead of at the first run.
func openComponent(dir, component string, opts ort.Options, inputs, outputs []ioSpec) (*ort.Session, error) {
	path := filepath.Join(dir, component, "model.onnx")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: missing component %s (%s)", ErrNotCheckpoint, dir, component, path)
	}
	s, err := openSession(path, opts)
	if err != nil {
		return nil, fmt.Errorf("pipeline: load %s: %w", component, err)
	}
	check := func(kind string, declared []ort.IOInfo, want []ioSpec) error {
		for _, w := range want {
			var got *ort.IOInfo
			for i := range declared {
				if declared[i].Name == w.name {
					got = &declared[i]
				}
			}
			if got == nil {
				return fmt.Errorf("%w: %s: no %s %q (it declares %s)", ErrNotCheckpoint, path, kind, w.name, ioNames(declared))
			}
			if !shapeFits(got.Shape, w.shape) || !dtypeFits(got.DType, w.dtype) {
				return fmt.Errorf("%w: %s: %s %s is %s %v, want %s %v", ErrNotCheckpoint, path, kind, w.name, got.DType, got.Shape, w.dtype, w.shape)
			}
		}
		return nil
	}
	if err := check("input", s.Inputs(), inputs); err != nil {
		s.Close()
		return nil, err
	}
	if err := check("output", s.Outputs(), outputs); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// dtypeFits reports whether a declared element type can carry the wanted
// one: the session converts between float precisions, and int32 indices
// carry int64 ones.
func dtypeFits(declared, want ort.DType) bool {
	switch want {
	case ort.Float32:
		return declared.Float()
	case ort.Int64:
		return declared == ort.Int64 || declared == ort.Int32
	}
	return declared == want
}

// shapeFits reports whether a declared shape matches a wanted one: the
// same rank, and equal sizes wherever both are known.
func shapeFits(declared, want []int64) bool {
	if len(declared) != len(want) {
		return false
	}
	for i := range want {
		if want[i] >= 0 && declared[i] >= 0 && declared[i] != want[i] {
			return false
		}
	}
	return true
}

func ioNames(list []ort.IOInfo) string {
	var n []string
	for _, v := range list {
		n = append(n, v.Name)
	}
	return strings.Join(n, ", ")
}

// attributeConditions reads each prompt as the shapes attributes it says
// (package shapes' Condition): the conditioning of imagegen's own families
// other than the default model. A prompt outside the shapes phrasings is a
// bad request that says what the model understands.
func attributeConditions(prompts []string, perPrompt int) ([]float32, error) {
	out := make([]float32, 0, len(prompts)*perPrompt*shapes.ConditionSize)
	for _, p := range prompts {
		c, err := shapes.Condition(p)
		if err != nil {
			return nil, badRequest("prompt %q: this model reads prompts in the shapes vocabulary only (e.g. \"a red circle at the top left on a blue background\"): %v", p, err)
		}
		for range perPrompt {
			out = append(out, c...)
		}
	}
	return out, nil
}

// imagesResult turns decoder output, NCHW in [-1, 1], into a Result's
// NHWC images in [0, 1].
func imagesResult(chw []float32, n, h, w int) (*Result, error) {
	images := make([]float32, len(chw))
	if _, err := imageio.Postprocess(images, chw, []int{n, 3, h, w}); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &Result{Images: images, N: n, H: h, W: w}, nil
}

// checkOnePass refuses the request fields of iterative samplers, which a
// one-pass decoder has no use for.
func checkOnePass(r Request, family string) error {
	switch {
	case r.Scheduler != "" || len(r.SchedulerOpts) > 0:
		return badRequest("the %s family decodes in one pass: it has no scheduler", family)
	case r.Steps > 1:
		return badRequest("the %s family decodes in one pass: steps do not apply (got %d)", family, r.Steps)
	case r.Guidance != nil:
		return badRequest("the %s family has no guidance scale", family)
	case r.InitImage != nil || r.Mask != nil:
		return badRequest("the %s family has no img2img or inpainting", family)
	case r.NegativePrompt != "" || r.Prompt2 != "" || r.NegativePrompt2 != "":
		return badRequest("the %s family reads one prompt; negative and second prompts do not apply", family)
	case r.Watermark != "":
		return badRequest("the %s family has no watermark option (got %q)", family, r.Watermark)
	case r.NumImages < 0:
		return badRequest("number of images must be positive, got %d", r.NumImages)
	case len(r.Seeds) > 0:
		return badRequest("the %s family has no per-prompt seeds", family)
	case r.Truncation != 0:
		return badRequest("the %s family has no truncation (a GAN option)", family)
	}
	return nil
}

// checkFixedSize refuses a size other than the model's only one.
func checkFixedSize(r Request, size int) error {
	if (r.Height != 0 && r.Height != size) || (r.Width != 0 && r.Width != size) {
		return badRequest("size %dx%d: this model only makes %dx%d pictures", r.Width, r.Height, size, size)
	}
	return nil
}

// conditionalDecode runs a one-pass decoder of imagegen's families (the
// VAE's decoder, the flow's inverse, the GAN's generator): n latents of
// latentDim values under input latentName and their conditions of
// condSize values → an n-picture Result of size×size, with the latents
// kept and one model call counted.
func conditionalDecode(ctx context.Context, sess *ort.Session, what, latentName string, z, cond []float32, n, latentDim, condSize, size int, fam Family) (*Result, error) {
	out := map[string]*ort.Tensor{"sample": {}}
	in := map[string]ort.Tensor{
		latentName:  {Shape: []int64{int64(n), int64(latentDim)}, F32: z},
		"condition": {Shape: []int64{int64(n), int64(condSize)}, F32: cond},
	}
	if err := sess.Run(ctx, in, out); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", what, err)
	}
	res, err := imagesResult(out["sample"].F32, n, size, size)
	if err != nil {
		return nil, err
	}
	res.Latents, res.LatentShape = append([]float32(nil), z...), []int64{int64(n), int64(latentDim)}
	res.ModelFamily, res.DenoiserCalls = fam, 1
	return res, nil
}
