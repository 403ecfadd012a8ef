package main

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// componentConfig is generator/config.json.
type componentConfig struct {
	LatentDim     int64  `json:"latent_dim"`
	ConditionSize int    `json:"condition_size"`
	SampleSize    int    `json:"sample_size"`
	Truncation    string `json:"truncation"`
	// DefaultTruncation is the pipeline's ψ when a request sets none.
	DefaultTruncation float64 `json:"default_truncation"`
	Parameters        int64   `json:"parameters"`
}

// export writes the generator with weights w to out (replaced as a whole,
// through a temporary folder): model_index.json and generator/ with
// model.onnx (float16 initializers) and config.json.
func export(out string, cfg config, w map[string]*onnxexport.Tensor, psi float64) error {
	tmp := filepath.Clean(out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	b := generatorGraph(cfg)
	if err := b.LoadParams(w); err != nil {
		return err
	}
	b.SetMetadata("imagegen.arch", "cgan-shapes")
	b.SetMetadata("imagegen.component", "generator")
	b.SetMetadata("imagegen.trained_by", "scripts/train_gan")
	m, err := b.Build(onnxexport.WithFloat16Weights())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "generator"), 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(tmp, "generator", "model.onnx"), m); err != nil {
		return err
	}
	cc := componentConfig{LatentDim: cfg.Latent, ConditionSize: shapes.ConditionSize, SampleSize: imageSize,
		Truncation: "scale", DefaultTruncation: psi, Parameters: b.NumParams()}
	if err := jsonfile.Write(filepath.Join(tmp, "generator", "config.json"), cc); err != nil {
		return err
	}
	idx := map[string]any{
		"_class_name": "ImagegenGANPipeline", "_imagegen_family": "gan", "conditioning": "shapes-attributes",
		"generator":         []string{"imagegen", "ConditionalGenerator"},
		"imagegen_defaults": map[string]int{"height": imageSize, "width": imageSize},
	}
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), idx); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// evaluate scores the generator exported to o.out: the checker on one
// sample of each held-out prompt, the time per picture, and the mode
// collapse monitor.
func evaluate(ctx context.Context, o options) error {
	m, err := openExported(o.out, o.threads)
	if err != nil {
		return err
	}
	defer m.close()
	prompts := shapes.HeldOutPrompts(o.evalPrompts)
	rep, imgs, per, err := checkSamples(ctx, m, prompts, o.truncation)
	if err != nil {
		return err
	}
	fmt.Printf("samples of %d held-out prompts (seeds 0-%d, ψ %g): %v\n", len(prompts), len(prompts)-1, o.truncation, rep)
	fmt.Printf("time per picture: %s (%d ONNX Runtime threads, batch 1)\n", per.Round(10*time.Microsecond), o.threads)
	var spreadImgs []*image.NRGBA
	div, err := diversity(ctx, m, collapsePrompt, 20, o.truncation, &spreadImgs)
	if err != nil {
		return err
	}
	fmt.Println(div)
	if o.collapseGrid != "" {
		if err := writeGrid(o.collapseGrid, spreadImgs, 10); err != nil {
			return err
		}
	}
	if o.samples != "" {
		return writeGrid(o.samples, imgs[:min(48, len(imgs))], 8)
	}
	return nil
}

// writeGrid writes pictures in rows of cols, scaled 3x with a 3-pixel
// gap, to a PNG file.
func writeGrid(path string, imgs []*image.NRGBA, cols int) error {
	const k, gap = 3, 3
	side := imageSize*k + gap
	rows := (len(imgs) + cols - 1) / cols
	out := image.NewNRGBA(image.Rect(0, 0, cols*side+gap, rows*side+gap))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	for i, img := range imgs {
		x0, y0 := gap+(i%cols)*side, gap+(i/cols)*side
		for y := range imageSize * k {
			for x := range imageSize * k {
				out.Set(x0+x, y0+y, img.At(x/k, y/k))
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, out); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
