package evaluate

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/imagegen/imagegen/featurenet"
	"github.com/imagegen/imagegen/imageio"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// Options configure Run.
type Options struct {
	// N is the number of held-out prompts (or pictures, for a tokenizer).
	N int
	// Seed is the seed of the first picture; picture i uses Seed+i.
	Seed uint64
	// Request holds the sampler settings every picture uses (its prompt,
	// seed and count are set per picture).
	Request pipeline.Request
	// NoFrechet skips the Fréchet distance.
	NoFrechet bool
	// Likelihood adds bits/dim on LikelihoodN held-out pictures (0: N)
	// with 1 and 64 importance samples, for families with a likelihood.
	Likelihood  bool
	LikelihoodN int
	// SaveDir, when set, receives every picture as NNN.png.
	SaveDir string
	// Session configures the feature network's ONNX Runtime session.
	Session ort.Options
	// Progress, when set, is called after each picture of each stage.
	Progress func(stage string, done, total int)
}

// referenceOffset is where the real pictures the Fréchet distance compares
// against start in the held-out split: far past the seeds that held-out
// prompts and reconstructed pictures come from, so no picture is in both
// sets.
const referenceOffset = 1 << 20

// Report is what Run measures. Rates are in [0, 1].
type Report struct {
	Model     string  `json:"model"`
	Family    string  `json:"family"`
	Prompts   int     `json:"prompts"`
	Steps     int     `json:"steps"`
	Guidance  float64 `json:"guidance"`
	Scheduler string  `json:"scheduler"`
	Size      int     `json:"size"`
	// Stage names the checkpoint's cascade stage when the pictures
	// measured went through it (pipeline.Result.Stage); Size is then the
	// enlarged size.
	Stage string `json:"stage,omitempty"`
	// ClassifierScale is the request's classifier guidance scale (0: none).
	ClassifierScale float64 `json:"classifier_scale,omitempty"`

	Color      float64 `json:"color"`
	Shape      float64 `json:"shape"`
	SizeAcc    float64 `json:"size_accuracy"`
	Position   float64 `json:"position"`
	Relation   float64 `json:"relation"`
	Background float64 `json:"background"`
	AllPassed  float64 `json:"all_passed"`
	// Adherence is the checker's full report (counts behind the rates).
	Adherence shapes.Report `json:"-"`
	Text      string        `json:"report"`

	// Frechet is the Fréchet distance between the features of the
	// model's pictures and N real held-out pictures; FrechetReal the same
	// distance between two disjoint sets of N real pictures, the floor at
	// this N. Both are absent with NoFrechet.
	Frechet     *float64 `json:"frechet_distance,omitempty"`
	FrechetReal *float64 `json:"frechet_real_baseline,omitempty"`

	Bits           *Bits           `json:"bits_per_dim,omitempty"`
	Reconstruction *Reconstruction `json:"reconstruction,omitempty"`

	MedianSeconds float64 `json:"median_seconds_per_image"`
	Parameters    int64   `json:"parameters"`
	Dir           string  `json:"model_dir"`
}

// Bits are likelihood bounds in bits per dimension on held-out pictures.
type Bits struct {
	Pictures int     `json:"pictures"`
	ELBO     float64 `json:"elbo"`
	IWAE1    float64 `json:"iwae_1"`
	IWAE64   float64 `json:"iwae_64"`
	// Exact says the three are one exact value (an autoregressive
	// family's likelihood), not bounds.
	Exact bool `json:"exact,omitempty"`
}

// Reconstruction describes a tokenizer's round trips of held-out pictures.
type Reconstruction struct {
	PSNR         float64 `json:"psnr_db"`
	CodebookSize int     `json:"codebook_size"`
	UsedCodes    int     `json:"used_codes"`
	DeadCodes    int     `json:"dead_codes"`
	// Perplexity is exp of the entropy of the codes' frequencies: the
	// number of equally used codes that would give the same entropy.
	Perplexity float64 `json:"perplexity"`
	// Originals are the checker's rates on the original pictures, the
	// ceiling the reconstructions are compared with.
	OriginalShape    float64 `json:"original_shape"`
	OriginalColor    float64 `json:"original_color"`
	OriginalPosition float64 `json:"original_position"`
}

// Run measures the model p (named name) as Options say.
func Run(ctx context.Context, p *pipeline.Pipeline, name string, o Options) (*Report, error) {
	if o.N < 1 {
		return nil, fmt.Errorf("evaluate: N must be at least 1, got %d", o.N)
	}
	if o.SaveDir != "" {
		if err := os.MkdirAll(o.SaveDir, 0o755); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
	}
	rep := &Report{Model: name, Family: string(p.Family()), Prompts: o.N, Dir: p.Dir()}
	var err error
	if rep.Parameters, err = CountParameters(p.Dir()); err != nil {
		return nil, err
	}
	var pictures []image.Image
	if p.CodebookSize() > 0 {
		pictures, err = reconstruct(ctx, p, o, rep)
	} else {
		pictures, err = generate(ctx, p, o, rep)
	}
	if err != nil {
		return nil, err
	}
	if !o.NoFrechet {
		if err := frechet(ctx, pictures, o, rep); err != nil {
			return nil, err
		}
	}
	if o.Likelihood {
		if err := likelihood(ctx, p, o, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func (o *Options) progress(stage string, done, total int) {
	if o.Progress != nil {
		o.Progress(stage, done, total)
	}
}

func (o *Options) save(i int, img image.Image, text string) error {
	if o.SaveDir == "" {
		return nil
	}
	path := filepath.Join(o.SaveDir, fmt.Sprintf("%03d.png", i))
	if err := imageio.WritePNG(path, img, imageio.Metadata{Parameters: text}); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	return nil
}

// generate draws one picture per held-out prompt and checks them.
func generate(ctx context.Context, p *pipeline.Pipeline, o Options, rep *Report) ([]image.Image, error) {
	prompts := shapes.HeldOutPrompts(o.N)
	cases := make([]shapes.Case, 0, o.N)
	pictures := make([]image.Image, 0, o.N)
	times := make([]float64, 0, o.N)
	for i, prompt := range prompts {
		r := o.Request
		r.Prompts = []string{prompt}
		r.NumImages = 1
		r.Seed = o.Seed + uint64(i)
		start := time.Now()
		res, err := p.Generate(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("evaluate: prompt %q: %w", prompt, err)
		}
		times = append(times, time.Since(start).Seconds())
		imgs, err := imageio.ToNRGBA(res.Images, []int{res.N, res.H, res.W, 3}, imageio.NHWC, imageio.Unit)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		if err := o.save(i, imgs[0], prompt); err != nil {
			return nil, err
		}
		cases = append(cases, shapes.Case{Image: imgs[0], Prompt: prompt})
		pictures = append(pictures, imgs[0])
		rep.Steps, rep.Guidance, rep.Scheduler, rep.Size = res.Steps, res.Guidance, res.Scheduler, res.W
		if res.Stage != nil && rep.Stage == "" {
			// The pictures are the stage's too: count its parameters.
			n, err := CountParameters(res.Stage.Dir)
			if err != nil {
				return nil, err
			}
			rep.Stage, rep.Parameters = res.Stage.Model, rep.Parameters+n
		}
		rep.ClassifierScale = o.Request.ClassifierScale
		o.progress("generate", i+1, o.N)
	}
	adh, err := shapes.Evaluate(cases)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	rep.setAdherence(adh)
	rep.MedianSeconds = median(times)
	return pictures, nil
}

func (rep *Report) setAdherence(a shapes.Report) {
	rep.Adherence = a
	rep.Color, rep.Shape, rep.SizeAcc, rep.Position = a.Color.Rate(), a.Shape.Rate(), a.Size.Rate(), a.Position.Rate()
	rep.Relation, rep.Background, rep.AllPassed = a.Relation.Rate(), a.Background.Rate(), a.Passed.Rate()
	rep.Text = a.String()
}

// heldOutSamples returns n held-out pictures starting at sample first.
func heldOutSamples(first, n, size int) ([]shapes.Sample, error) {
	out := make([]shapes.Sample, n)
	for i := range out {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: size}.Sample(first + i)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		out[i] = s
	}
	return out, nil
}

// frechet computes the Fréchet distance of pictures and of a second real
// set against the real reference set.
func frechet(ctx context.Context, pictures []image.Image, o Options, rep *Report) error {
	if len(pictures) < 2 {
		return fmt.Errorf("evaluate: a Fréchet distance needs at least 2 pictures, got %d (raise -n or pass --no-frechet)", len(pictures))
	}
	net, err := featurenet.Open(o.Session)
	if err != nil {
		return err
	}
	defer net.Close()
	stats := func(imgs []image.Image) (featurenet.Stats, error) {
		f, err := net.Features(ctx, imgs)
		if err != nil {
			return featurenet.Stats{}, err
		}
		return featurenet.StatsOf(f)
	}
	n := len(pictures)
	ref, err := heldOutSamples(referenceOffset, n, featurenet.Size)
	if err != nil {
		return err
	}
	other, err := heldOutSamples(referenceOffset+n, n, featurenet.Size)
	if err != nil {
		return err
	}
	refStats, err := stats(sampleImages(ref))
	if err != nil {
		return err
	}
	otherStats, err := stats(sampleImages(other))
	if err != nil {
		return err
	}
	genStats, err := stats(pictures)
	if err != nil {
		return fmt.Errorf("evaluate: features of the model's pictures: %w", err)
	}
	fd, err := genStats.FrechetDistance(refStats)
	if err != nil {
		return err
	}
	base, err := otherStats.FrechetDistance(refStats)
	if err != nil {
		return err
	}
	rep.Frechet, rep.FrechetReal = &fd, &base
	return nil
}

func sampleImages(s []shapes.Sample) []image.Image {
	out := make([]image.Image, len(s))
	for i := range s {
		out[i] = s[i].Image
	}
	return out
}

// likelihood measures bits/dim on held-out pictures with their captions.
func likelihood(ctx context.Context, p *pipeline.Pipeline, o Options, rep *Report) error {
	n := o.LikelihoodN
	if n <= 0 {
		n = o.N
	}
	h, _ := p.DefaultSize()
	samples, err := heldOutSamples(0, n, h)
	if err != nil {
		return err
	}
	caps := make([]string, n)
	for i, s := range samples {
		caps[i] = s.Caption
	}
	imgs := sampleImages(samples)
	one, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 1, Seed: o.Seed})
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	o.progress("likelihood", n, 2*n)
	many, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 64, Seed: o.Seed})
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	o.progress("likelihood", 2*n, 2*n)
	rep.Bits = &Bits{Pictures: n, ELBO: many.ELBOBitsPerDim, IWAE1: one.IWAEBitsPerDim, IWAE64: many.IWAEBitsPerDim, Exact: one.Exact && many.Exact}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// CountParameters sums the initializer elements of every component's
// model.onnx (external data included) in a checkpoint folder, a tensor
// that several components share counted once (onnxexport.UniqueParams).
func CountParameters(dir string) (int64, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*", "model.onnx"))
	if err != nil {
		return 0, err
	}
	var models []*onnxexport.Model
	for _, m := range matches {
		model, err := onnxexport.ReadModel(m)
		if err != nil {
			return 0, fmt.Errorf("evaluate: count parameters: %w", err)
		}
		models = append(models, model)
	}
	return onnxexport.UniqueParams(models...), nil
}
