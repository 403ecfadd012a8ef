package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/shapes"
)

// gen runs a generator with ONNX Runtime, built from weights in memory
// (the monitor) or opened from an exported folder.
type gen struct {
	sess   *ort.Session
	latent int
}

// openWeights builds the generator graph with weights w (float32).
func openWeights(cfg config, w map[string]*onnxexport.Tensor, threads int) (*gen, error) {
	b := generatorGraph(cfg)
	if err := b.LoadParams(w); err != nil {
		return nil, err
	}
	m, err := b.Build()
	if err != nil {
		return nil, err
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	s, err := ort.OpenBytes(b.Name(), data, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, err
	}
	return &gen{sess: s, latent: int(cfg.Latent)}, nil
}

// openExported opens the generator of folder dir (as export writes it).
func openExported(dir string, threads int) (*gen, error) {
	var cc componentConfig
	raw, err := os.ReadFile(filepath.Join(dir, "generator", "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &cc); err != nil || cc.LatentDim <= 0 {
		return nil, fmt.Errorf("%s: generator config: want latent_dim > 0 (%v)", dir, err)
	}
	s, err := ort.Open(filepath.Join(dir, "generator", "model.onnx"), ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, err
	}
	return &gen{sess: s, latent: int(cc.LatentDim)}, nil
}

func (m *gen) close() { m.sess.Close() }

// noise returns the latent of one seed as the pipeline draws it (package
// rng's normals), scaled by the truncation ψ.
func (m *gen) noise(seed uint64, psi float64) []float32 {
	z := make([]float32, m.latent)
	rng.New(seed).Randn(z)
	for i := range z {
		z[i] *= float32(psi)
	}
	return z
}

// sample returns the generator's pictures [n,3,32,32] for n latents z
// [n,Z] and conditions c [n,70].
func (m *gen) sample(ctx context.Context, z, c []float32, n int) ([]float32, error) {
	out := map[string]*ort.Tensor{outputSample: {}}
	in := map[string]ort.Tensor{
		inputNoise:     {Shape: []int64{int64(n), int64(m.latent)}, F32: z},
		inputCondition: {Shape: []int64{int64(n), shapes.ConditionSize}, F32: c},
	}
	if err := m.sess.Run(ctx, in, out); err != nil {
		return nil, err
	}
	return out[outputSample].F32, nil
}

// checkSamples scores one sample per prompt (seed = the prompt's index)
// with the shapes checker, and returns the pictures and the mean time per
// picture (condition, generator at batch 1, conversion).
func checkSamples(ctx context.Context, m *gen, prompts []string, psi float64) (shapes.Report, []*image.NRGBA, time.Duration, error) {
	cases := make([]shapes.Case, len(prompts))
	imgs := make([]*image.NRGBA, len(prompts))
	start := time.Now()
	for i, p := range prompts {
		c, err := shapes.Condition(p)
		if err != nil {
			return shapes.Report{}, nil, 0, fmt.Errorf("prompt %q: %w", p, err)
		}
		px, err := m.sample(ctx, m.noise(uint64(i), psi), c, 1)
		if err != nil {
			return shapes.Report{}, nil, 0, err
		}
		imgs[i] = chwToImage(px)
		cases[i] = shapes.Case{Image: imgs[i], Prompt: p}
	}
	per := time.Since(start) / time.Duration(max(len(prompts), 1))
	rep, err := shapes.Evaluate(cases)
	return rep, imgs, per, err
}

// collapsePrompt is the position-free prompt of the mode-collapse
// monitor.
const collapsePrompt = "a red circle"

// spread is the mode-collapse monitor's figure: over samples of one
// prompt, how many distinct grid cells and size classes the checker found
// the shape in.
type spread struct {
	Prompt       string
	Seeds, Found int // samples drawn, samples where the checker found the shape
	Cells, Sizes int // distinct grid cells and size classes among those found
}

func (s spread) String() string {
	return fmt.Sprintf("mode collapse: %q over %d seeds: %d distinct grid cells, %d distinct sizes (shape found in %d)",
		s.Prompt, s.Seeds, s.Cells, s.Sizes, s.Found)
}

// diversity draws seeds 0..n-1 of prompt and counts the distinct grid
// cells and sizes the checker measures; the pictures go to imgs when it
// is not nil.
func diversity(ctx context.Context, m *gen, prompt string, n int, psi float64, imgs *[]*image.NRGBA) (spread, error) {
	c, err := shapes.Condition(prompt)
	if err != nil {
		return spread{}, err
	}
	cells, sizes := map[shapes.Position]bool{}, map[shapes.Size]bool{}
	out := spread{Prompt: prompt, Seeds: n}
	for i := range n {
		px, err := m.sample(ctx, m.noise(uint64(i), psi), c, 1)
		if err != nil {
			return spread{}, err
		}
		img := chwToImage(px)
		if imgs != nil {
			*imgs = append(*imgs, img)
		}
		sc, err := shapes.Check(img, prompt)
		if err != nil {
			return spread{}, err
		}
		if len(sc.Shapes) == 0 || !sc.Shapes[0].Found {
			continue
		}
		out.Found++
		cells[sc.Shapes[0].Got.Position] = true
		sizes[sc.Shapes[0].Got.Size] = true
	}
	out.Cells, out.Sizes = len(cells), len(sizes)
	return out, nil
}

// chwToImage turns a generator output [3,32,32] in [-1, 1] into a
// picture: (v + 1)·127.5 rounded and clamped, as the pipeline converts.
func chwToImage(px []float32) *image.NRGBA {
	const s = imageSize
	img := image.NewNRGBA(image.Rect(0, 0, s, s))
	for y := range s {
		for x := range s {
			var c [3]uint8
			for k := range 3 {
				v := math.Round((float64(px[(k*s+y)*s+x]) + 1) * 127.5)
				c[k] = uint8(max(0, min(255, v)))
			}
			img.SetNRGBA(x, y, color.NRGBA{c[0], c[1], c[2], 255})
		}
	}
	return img
}

// appendRows appends rows to a CSV, writing header first when the file is
// new.
func appendRows(path, header string, rows []string) error {
	var sb strings.Builder
	if _, err := os.Stat(path); os.IsNotExist(err) {
		sb.WriteString(header)
	}
	for _, r := range rows {
		sb.WriteString(r)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(sb.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// keepRows drops the CSV rows after step (written after the checkpoint a
// run resumes from).
func keepRows(path string, step int) error {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep []string
	for i, l := range strings.SplitAfter(string(raw), "\n") {
		var s int
		if _, err := fmt.Sscanf(l, "%d,", &s); i > 0 && (err != nil || s > step) {
			continue
		}
		keep = append(keep, l)
	}
	return os.WriteFile(path, []byte(strings.Join(keep, "")), 0o644)
}
