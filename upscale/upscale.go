package upscale

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/ort"
)

// ErrNotUpscaler is wrapped by Open's errors about models whose inputs
// or outputs are not an RGB upscaler's ([1, 3, H, W] → [1, 3, sH, sW]).
var ErrNotUpscaler = errors.New("not an RGB upscaler")

// ErrScale is wrapped by Open's errors about models whose output is not
// an integer multiple (the same along both axes) of their input. (A
// dynamic model whose later runs disagree with the probe fails the run
// with an error naming the shapes.)
var ErrScale = errors.New("output size is not an integer multiple of the input size")

// ErrOptions is wrapped by Upscale's errors about bad run options or
// pictures (an empty picture, a tile size a fixed-size model cannot take,
// an overlap as large as half a tile).
var ErrOptions = errors.New("bad upscale request")

// probeSide is the height and width of the picture a model with symbolic
// output dimensions first runs on, to read its scale.
const probeSide = 16

// modelFiles are where a model folder keeps its ONNX file, in the order
// tried; a folder with one .onnx file elsewhere works too.
var modelFiles = []string{"model.onnx", "onnx/model.onnx"}

// Upscaler is one loaded super-resolution model. It is safe for
// concurrent use; its runs are serialized by the session.
type Upscaler struct {
	sess *ort.Session
	path string
	// name is how errors name the model (Options.Name, else path).
	name   string
	input  string
	output string
	// fixedH and fixedW are the input's static height and width (0 where
	// symbolic): the tile size fixed-size exports must run at.
	fixedH, fixedW int
	scale          int
	// stage is set for a diffusion super-resolution stage (StageClass),
	// whose sess is its denoiser.
	stage *stage
}

// Options configure Open.
type Options struct {
	// Session configures ONNX Runtime.
	Session ort.Options
	// Name is how errors about pictures name the model (the reference a
	// user gave, such as builtin:sr); empty: its path.
	Name string
}

// Open loads the upscaler at path: an .onnx file, a folder holding
// model.onnx, onnx/model.onnx or a single .onnx file, or a diffusion
// stage's folder (model_index.json's _class_name StageClass). It checks
// the model's I/O and reads its scale, from the declared shapes or from a
// run on a small picture when they are symbolic (a stage's from its
// settings).
func Open(ctx context.Context, path string, o Options) (*Upscaler, error) {
	if cfg, ok, err := stageIndex(path); ok || err != nil {
		if err != nil {
			return nil, fmt.Errorf("upscale: %w", err)
		}
		u, err := openStage(path, cfg, o)
		if err != nil {
			return nil, err
		}
		u.name = cmp.Or(o.Name, u.path)
		return u, nil
	}
	model, err := findModel(path)
	if err != nil {
		return nil, err
	}
	sess, err := ort.Open(model, o.Session)
	if err != nil {
		return nil, fmt.Errorf("upscale: %w", err)
	}
	u := &Upscaler{sess: sess, path: model, name: cmp.Or(o.Name, model)}
	if err := u.readIO(ctx); err != nil {
		sess.Close()
		return nil, fmt.Errorf("upscale: %s: %w", model, err)
	}
	return u, nil
}

// Scale returns the upscaling factor.
func (u *Upscaler) Scale() int { return u.scale }

// FixedSize returns the input height and width a fixed-size export takes
// (its tile size; a diffusion stage's input size), or 0 for a symbolic
// axis.
func (u *Upscaler) FixedSize() (h, w int) { return u.fixedH, u.fixedW }

// Stage returns a diffusion stage's settings; ok is false for other
// upscalers.
func (u *Upscaler) Stage() (cfg StageConfig, ok bool) {
	if u.stage == nil {
		return StageConfig{}, false
	}
	return u.stage.cfg, true
}

// Path returns the model file (a diffusion stage's folder).
func (u *Upscaler) Path() string { return u.path }

// Close releases the session.
func (u *Upscaler) Close() error { return u.sess.Close() }

func findModel(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("upscale: model: %w", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	for _, f := range modelFiles {
		p := filepath.Join(path, filepath.FromSlash(f))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	found, _ := filepath.Glob(filepath.Join(path, "*.onnx"))
	if len(found) == 1 {
		return found[0], nil
	}
	return "", fmt.Errorf("upscale: %s: no ONNX model (looked for %s, or a single .onnx file; found %d)",
		path, strings.Join(modelFiles, ", "), len(found))
}

// readIO checks the declared input and output and sets the scale.
func (u *Upscaler) readIO(ctx context.Context) error {
	ins, outs := u.sess.Inputs(), u.sess.Outputs()
	if len(ins) != 1 || len(outs) < 1 {
		return fmt.Errorf("%w: it has %d inputs and %d outputs, want one image input and an image output", ErrNotUpscaler, len(ins), len(outs))
	}
	in, out := ins[0], outs[0]
	u.input, u.output = in.Name, out.Name
	if err := checkImageIO("input", in); err != nil {
		return err
	}
	if err := checkImageIO("output", out); err != nil {
		return err
	}
	u.fixedH, u.fixedW = int(max(in.Shape[2], 0)), int(max(in.Shape[3], 0))
	if in.Shape[2] > 0 && in.Shape[3] > 0 && out.Shape[2] > 0 && out.Shape[3] > 0 {
		s, err := scaleOf(in.Shape[2], in.Shape[3], out.Shape[2], out.Shape[3], fmt.Sprintf("declared %s → %s", in, out))
		if err != nil {
			return err
		}
		u.scale = s
		return nil
	}
	return u.probe(ctx)
}

// checkImageIO checks that v is [1 or batch, 3, H, W]; a symbolic channel
// count is taken to be 3.
func checkImageIO(what string, v ort.IOInfo) error {
	if v.Rank() != 4 {
		return fmt.Errorf("%w: %s %s has rank %d, want [1, 3, H, W]", ErrNotUpscaler, what, v, v.Rank())
	}
	if v.Shape[0] > 1 {
		return fmt.Errorf("%w: %s %s has a batch of %d, want 1", ErrNotUpscaler, what, v, v.Shape[0])
	}
	if v.Shape[1] >= 0 && v.Shape[1] != 3 {
		return fmt.Errorf("%w: %s %s has %d channels, want 3 (RGB)", ErrNotUpscaler, what, v, v.Shape[1])
	}
	return nil
}

// scaleOf returns the integer factor from an inH×inW input to an
// outH×outW output; what names the shapes in the error.
func scaleOf(inH, inW, outH, outW int64, what string) (int, error) {
	if inH < 1 || inW < 1 || outH%inH != 0 || outW%inW != 0 || outH/inH != outW/inW || outH < inH {
		return 0, fmt.Errorf("%w: %s (height %d/%d, width %d/%d)", ErrScale, what, outH, inH, outW, inW)
	}
	return int(outH / inH), nil
}

// probe runs the model once on a grey picture of its fixed size (or
// probeSide where symbolic) and reads the scale from the output's shape.
func (u *Upscaler) probe(ctx context.Context) error {
	h, w := u.fixedH, u.fixedW
	if h == 0 {
		h = probeSide
	}
	if w == 0 {
		w = probeSide
	}
	x := make([]float32, 3*h*w)
	for i := range x {
		x[i] = 0.5
	}
	var out ort.Tensor
	feed := map[string]ort.Tensor{u.input: {Shape: []int64{1, 3, int64(h), int64(w)}, F32: x}}
	if err := u.sess.Run(ctx, feed, map[string]*ort.Tensor{u.output: &out}); err != nil {
		return fmt.Errorf("probe run on a %dx%d picture to read the scale: %w", w, h, err)
	}
	if len(out.Shape) != 4 || out.Shape[0] != 1 || out.Shape[1] != 3 {
		return fmt.Errorf("%w: a %dx%d picture gave output shape %v, want [1, 3, sH, sW]", ErrNotUpscaler, w, h, out.Shape)
	}
	s, err := scaleOf(int64(h), int64(w), out.Shape[2], out.Shape[3], fmt.Sprintf("probe run [1 3 %d %d] → %v", h, w, out.Shape))
	if err != nil {
		return err
	}
	u.scale = s
	return nil
}
