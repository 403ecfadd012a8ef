package pipeline

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/shapes"
)

// The PixelCNN family (ImagegenPixelCNNPipeline): a conditional gated
// PixelCNN that draws a picture one subpixel at a time (rows top to
// bottom, pixels left to right, R → G → B within a pixel), each from a
// 256-way softmax given the subpixels before it and the prompt's shapes
// attributes. Its likelihood is exact (Likelihood).
//
// Folder (config.json in each, see pixelcnnConfig):
//
//   - full/model.onnx: sample [B, 3, S, S] in [-1, 1] (v/127.5 − 1 for the
//     8-bit value v), condition [B, 70] → logits [B, 3, 256, S, S]: every
//     subpixel's distribution given the ones before it, in one run.
//   - vstack/model.onnx: sample [B, 3, W, S] (the rows row_start …
//     row_start+W−1), condition, row_start int64 [1] → links [B, L, W, S]:
//     what the vertical stack hands each row of the horizontal stack.
//   - hrow/model.onnx: row [B, 3, 1, S], links [B, L, 1, S] → logits
//     [B, 3, 256, 1, S]: the horizontal stack and the output head on one
//     row.
//
// Sampling runs the loop here in Go: by default the cached formulation
// (vstack once per row, hrow once per subpixel, each on one row), or with
// Request.Scheduler "naive" the full graph once per subpixel (the cost the
// cached one avoids, kept to measure it).

// pixelcnnConfig is full/config.json (the other components repeat it).
type pixelcnnConfig struct {
	SampleSize    int `json:"sample_size"`
	ConditionSize int `json:"condition_size"`
	Levels        int `json:"levels"`
	// Window is the row count W vstack reads; LinkChannels L the
	// channels of its links.
	Window       int `json:"window"`
	LinkChannels int `json:"link_channels"`
	// Temperature is the sampling temperature a request that sets none
	// gets (0: 1).
	Temperature float64 `json:"temperature"`
	// Guidance is the classifier-free guidance scale a request that sets
	// none gets (0: 1, none); see subpixelSampler.
	Guidance float64 `json:"guidance"`
}

// Samplers of the PixelCNN family (Request.Scheduler).
const (
	PixelCNNCached = "cached" // vstack per row, hrow per subpixel (the default)
	PixelCNNNaive  = "naive"  // the full graph per subpixel
)

type pixelcnnPipeline struct {
	cfg pixelcnnConfig

	mu                 sync.Mutex
	full, vstack, hrow *ort.Session
	closed             bool
}

func loadPixelCNN(ctx context.Context, dir string, _ Family, _ *modelIndex, opts Options) (familyPipeline, error) {
	p := &pixelcnnPipeline{}
	cfgPath := filepath.Join(dir, "full", "config.json")
	if err := readJSON(cfgPath, &p.cfg); err != nil {
		return nil, err
	}
	c := p.cfg
	if c.SampleSize <= 0 || c.ConditionSize != shapes.ConditionSize || c.Levels != 256 || c.Window < 2 || c.Window > c.SampleSize || c.LinkChannels <= 0 ||
		!(c.Temperature >= 0) || math.IsInf(c.Temperature, 0) || !(c.Guidance == 0 || c.Guidance >= 1) || math.IsInf(c.Guidance, 0) {
		return nil, fmt.Errorf("%w: %s: want sample_size > 0, condition_size %d, levels 256, window in 2..sample_size, link_channels > 0, a temperature ≥ 0 and a guidance of 0 or ≥ 1, got %+v",
			ErrNotCheckpoint, cfgPath, shapes.ConditionSize, c)
	}
	if p.cfg.Temperature == 0 {
		p.cfg.Temperature = 1
	}
	if p.cfg.Guidance == 0 {
		p.cfg.Guidance = 1
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, w, l, k := int64(c.SampleSize), int64(c.Window), int64(c.LinkChannels), int64(c.Levels)
	cond := ioSpec{"condition", ort.Float32, []int64{-1, int64(c.ConditionSize)}}
	var err error
	if p.full, err = openComponent(dir, "full", opts.Session,
		[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, s, s}}, cond},
		[]ioSpec{{"logits", ort.Float32, []int64{-1, 3, k, s, s}}}); err != nil {
		return nil, err
	}
	if p.vstack, err = openComponent(dir, "vstack", opts.Session,
		[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, w, s}}, cond, {"row_start", ort.Int64, []int64{1}}},
		[]ioSpec{{"links", ort.Float32, []int64{-1, l, w, s}}}); err != nil {
		p.close()
		return nil, err
	}
	if p.hrow, err = openComponent(dir, "hrow", opts.Session,
		[]ioSpec{{"row", ort.Float32, []int64{-1, 3, 1, s}}, {"links", ort.Float32, []int64{-1, l, 1, s}}},
		[]ioSpec{{"logits", ort.Float32, []int64{-1, 3, k, 1, s}}}); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *pixelcnnPipeline) defaultSize() (int, int) { return p.cfg.SampleSize, p.cfg.SampleSize }

func (p *pixelcnnPipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, s := range []*ort.Session{p.full, p.vstack, p.hrow} {
		if s != nil {
			s.Close()
		}
	}
	p.full, p.vstack, p.hrow = nil, nil, nil
	return nil
}

// temperature makes the PixelCNN a temperatureSampler: its per-subpixel
// softmax reads Request.Temperature.
func (p *pixelcnnPipeline) temperature(r Request) (float64, error) {
	_, t, _, err := checkAutoregressive(r, p.cfg)
	return t, err
}

// checkAutoregressive refuses the request fields this family has no use
// for, and returns the sampler, temperature and guidance scale it runs
// with (the request's, or the checkpoint's defaults where it sets none).
func checkAutoregressive(r Request, cfg pixelcnnConfig) (sampler string, temperature, guidance float64, err error) {
	switch {
	case r.Steps > 0:
		return "", 0, 0, badRequest("the PixelCNN family samples one subpixel at a time: steps do not apply (got %d)", r.Steps)
	case r.Guidance != nil && (math.IsNaN(*r.Guidance) || math.IsInf(*r.Guidance, 0) || *r.Guidance < 1):
		return "", 0, 0, badRequest("guidance scale must be a finite number ≥ 1 (1: no guidance), got %v", *r.Guidance)
	case r.InitImage != nil || r.Mask != nil:
		return "", 0, 0, badRequest("the PixelCNN family has no img2img or inpainting")
	case r.NegativePrompt != "" || r.Prompt2 != "" || r.NegativePrompt2 != "":
		return "", 0, 0, badRequest("the PixelCNN family reads one prompt; negative and second prompts do not apply")
	case r.Watermark != "":
		return "", 0, 0, badRequest("the PixelCNN family has no watermark option (got %q)", r.Watermark)
	case r.NumImages < 0:
		return "", 0, 0, badRequest("number of images must be positive, got %d", r.NumImages)
	case len(r.Seeds) > 0 || len(r.SchedulerOpts) > 0:
		return "", 0, 0, badRequest("the PixelCNN family has no per-prompt seeds or scheduler options")
	}
	switch r.Scheduler {
	case "", PixelCNNCached:
		sampler = PixelCNNCached
	case PixelCNNNaive:
		sampler = PixelCNNNaive
	default:
		return "", 0, 0, badRequest("sampler %q: the PixelCNN family samples %q (the default) or %q", r.Scheduler, PixelCNNCached, PixelCNNNaive)
	}
	temperature, guidance = cfg.Temperature, cfg.Guidance
	if r.Temperature != 0 {
		temperature = r.Temperature
		if !(temperature > 0) || math.IsInf(temperature, 0) {
			return "", 0, 0, badRequest("temperature must be a finite number > 0, got %v", temperature)
		}
	}
	if r.Guidance != nil {
		guidance = *r.Guidance
	}
	return sampler, temperature, guidance, nil
}

func (p *pixelcnnPipeline) generate(ctx context.Context, r Request) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	start := time.Now()
	if len(r.Prompts) == 0 {
		return nil, badRequest("no prompt given")
	}
	sampler, temperature, guidance, err := checkAutoregressive(r, p.cfg)
	if err != nil {
		return nil, err
	}
	if err := checkFixedSize(r, p.cfg.SampleSize); err != nil {
		return nil, err
	}
	per := max(1, r.NumImages)
	cond, err := attributeConditions(r.Prompts, per)
	if err != nil {
		return nil, err
	}
	n := len(r.Prompts) * per
	sp := &subpixelSampler{n: n, levels: p.cfg.Levels, temperature: temperature, guidance: guidance, gen: rng.New(r.Seed)}
	if sp.guided() {
		// The unconditional half of the batch: the empty prompt's
		// condition (the model trained on a share of those).
		empty, err := attributeConditions([]string{""}, n)
		if err != nil {
			return nil, err
		}
		cond = append(cond, empty...)
	}
	var x []float32
	var calls int
	if sampler == PixelCNNNaive {
		x, calls, err = p.sampleNaive(ctx, cond, sp)
	} else {
		x, calls, err = p.sampleCached(ctx, cond, sp)
	}
	if err != nil {
		return nil, err
	}
	s := p.cfg.SampleSize
	res, err := imagesResult(x[:n*3*s*s], n, s, s)
	if err != nil {
		return nil, err
	}
	res.ModelFamily, res.DenoiserCalls, res.Scheduler, res.Seed = FamilyPixelCNN, calls, sampler, r.Seed
	res.Temperature, res.Guidance = temperature, guidance
	res.Timings.Denoiser = sp.inModel
	res.Timings.Total = time.Since(start)
	res.Timings.Host = res.Timings.Total - sp.inModel
	return res, nil
}

// subpixelSampler draws subpixel values from logits, the same way for both
// samplers: one uniform per picture and subpixel, in sampling order,
// against the running sum of softmax(logits / temperature).
//
// With a guidance scale w > 1 (classifier-free guidance, Ho & Salimans
// 2022, as autoregressive image models use it, e.g. Yu et al. 2022,
// "Scaling autoregressive models for content-rich text-to-image
// generation") the model runs on a batch of 2n: pictures 0…n−1 with
// their prompts' conditions, n…2n−1 the same pixels with the empty
// prompt's, and the logits drawn from are ℓ_u + w·(ℓ_c − ℓ_u).
type subpixelSampler struct {
	n, levels             int
	temperature, guidance float64
	gen                   *rng.Generator
	u                     []float32
	probs                 []float64
	inModel               time.Duration
}

func (sp *subpixelSampler) guided() bool { return sp.guidance != 1 }

// batch is the model's batch: n, or 2n with guidance.
func (sp *subpixelSampler) batch() int {
	if sp.guided() {
		return 2 * sp.n
	}
	return sp.n
}

// draw samples one subpixel of every picture b < n from the model's
// logits at(b, k) (b < batch()) and writes its value, v/127.5 − 1, with
// put(b, value) (and put(b+n, value) with guidance, so that both halves
// of the batch see the same pixels).
func (sp *subpixelSampler) draw(at func(b, k int) float32, put func(b int, value float32)) {
	if len(sp.u) != sp.n {
		sp.u, sp.probs = make([]float32, sp.n), make([]float64, sp.levels)
	}
	sp.gen.Rand(sp.u)
	for b := range sp.n {
		m := math.Inf(-1)
		for k := range sp.levels {
			l := float64(at(b, k))
			if sp.guided() {
				u := float64(at(b+sp.n, k))
				l = u + sp.guidance*(l-u)
			}
			sp.probs[k] = l / sp.temperature
			m = math.Max(m, sp.probs[k])
		}
		sum := 0.0
		for k := range sp.levels {
			sp.probs[k] = math.Exp(sp.probs[k] - m)
			sum += sp.probs[k]
		}
		target, v := float64(sp.u[b])*sum, sp.levels-1
		for k, acc := 0, 0.0; k < sp.levels; k++ {
			if acc += sp.probs[k]; target < acc {
				v = k
				break
			}
		}
		put(b, float32(v)/127.5-1)
		if sp.guided() {
			put(b+sp.n, float32(v)/127.5-1)
		}
	}
}

// run times one model run for the Result's timings.
func (sp *subpixelSampler) run(ctx context.Context, s *ort.Session, what string, in map[string]ort.Tensor, out map[string]*ort.Tensor) error {
	t := time.Now()
	err := s.Run(ctx, in, out)
	sp.inModel += time.Since(t)
	if err != nil {
		return fmt.Errorf("pipeline: %s: %w", what, err)
	}
	return nil
}

// sampleNaive draws the pictures with one full-graph run per subpixel:
// 3·S² runs of the whole network on the whole picture, of which only one
// subpixel's logits are read.
func (p *pixelcnnPipeline) sampleNaive(ctx context.Context, cond []float32, sp *subpixelSampler) ([]float32, int, error) {
	n, s, k := sp.batch(), p.cfg.SampleSize, p.cfg.Levels
	plane := s * s
	x := make([]float32, n*3*plane)
	in := map[string]ort.Tensor{
		"sample":    {Shape: []int64{int64(n), 3, int64(s), int64(s)}, F32: x},
		"condition": {Shape: []int64{int64(n), int64(p.cfg.ConditionSize)}, F32: cond},
	}
	logits := &ort.Tensor{Shape: []int64{int64(n), 3, int64(k), int64(s), int64(s)}, F32: make([]float32, n*3*k*plane)}
	out := map[string]*ort.Tensor{"logits": logits}
	calls := 0
	for y := range s {
		for i := range s {
			for ch := range 3 {
				if err := sp.run(ctx, p.full, "full", in, out); err != nil {
					return nil, calls, err
				}
				calls++
				pix := y*s + i
				sp.draw(func(b, v int) float32 { return logits.F32[((b*3+ch)*k+v)*plane+pix] },
					func(b int, value float32) { x[(b*3+ch)*plane+pix] = value })
			}
		}
	}
	return x, calls, nil
}

// sampleCached draws the pictures with the row formulation: for each row
// y, vstack on the window of rows ending at y gives the row's links (they
// depend on the rows above only), then hrow, whose cost is one row of the
// horizontal stack, runs once per subpixel of the row.
func (p *pixelcnnPipeline) sampleCached(ctx context.Context, cond []float32, sp *subpixelSampler) ([]float32, int, error) {
	n, s, k, w, lc := sp.batch(), p.cfg.SampleSize, p.cfg.Levels, p.cfg.Window, p.cfg.LinkChannels
	plane := s * s
	x := make([]float32, n*3*plane)
	window := make([]float32, n*3*w*s)
	rowStart := []int64{0}
	links := &ort.Tensor{Shape: []int64{int64(n), int64(lc), int64(w), int64(s)}, F32: make([]float32, n*lc*w*s)}
	vin := map[string]ort.Tensor{
		"sample":    {Shape: []int64{int64(n), 3, int64(w), int64(s)}, F32: window},
		"condition": {Shape: []int64{int64(n), int64(p.cfg.ConditionSize)}, F32: cond},
		"row_start": {Shape: []int64{1}, I64: rowStart},
	}
	vout := map[string]*ort.Tensor{"links": links}
	row := make([]float32, n*3*s)
	rowLinks := make([]float32, n*lc*s)
	logits := &ort.Tensor{Shape: []int64{int64(n), 3, int64(k), 1, int64(s)}, F32: make([]float32, n*3*k*s)}
	hin := map[string]ort.Tensor{
		"row":   {Shape: []int64{int64(n), 3, 1, int64(s)}, F32: row},
		"links": {Shape: []int64{int64(n), int64(lc), 1, int64(s)}, F32: rowLinks},
	}
	hout := map[string]*ort.Tensor{"logits": logits}
	calls := 0
	for y := range s {
		start := max(0, y-(w-1))
		rowStart[0] = int64(start)
		for b := range n {
			for ch := range 3 {
				copy(window[(b*3+ch)*w*s:(b*3+ch+1)*w*s], x[(b*3+ch)*plane+start*s:])
			}
		}
		if err := sp.run(ctx, p.vstack, "vstack", vin, vout); err != nil {
			return nil, calls, err
		}
		calls++
		for b := range n {
			for c := range lc {
				copy(rowLinks[(b*lc+c)*s:(b*lc+c+1)*s], links.F32[((b*lc+c)*w+y-start)*s:])
			}
		}
		clear(row)
		for i := range s {
			for ch := range 3 {
				if err := sp.run(ctx, p.hrow, "hrow", hin, hout); err != nil {
					return nil, calls, err
				}
				calls++
				sp.draw(func(b, v int) float32 { return logits.F32[((b*3+ch)*k+v)*s+i] },
					func(b int, value float32) { row[(b*3+ch)*s+i] = value })
			}
		}
		for b := range n {
			for ch := range 3 {
				copy(x[(b*3+ch)*plane+y*s:(b*3+ch)*plane+(y+1)*s], row[(b*3+ch)*s:])
			}
		}
	}
	return x, calls, nil
}

// likelihood returns the exact negative log-likelihood of the pictures'
// 8-bit values under the model, in bits per dimension: one full-graph run
// per picture gives every subpixel's softmax given the ones before it.
// Samples and Seed do not matter (there is nothing to estimate); the
// result has ELBO = IWAE = the exact value and Exact set.
func (p *pixelcnnPipeline) likelihood(ctx context.Context, q LikelihoodRequest) (*LikelihoodResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if err := q.validate(); err != nil {
		return nil, err
	}
	s, k := p.cfg.SampleSize, p.cfg.Levels
	plane := s * s
	total := 0.0
	for i, img := range q.Images {
		if b := img.Bounds(); b.Dx() != s || b.Dy() != s {
			return nil, badRequest("picture %d is %dx%d; this model scores %dx%d pictures", i, b.Dx(), b.Dy(), s, s)
		}
		x, err := imageio.ImageTensor(img, s, s)
		if err != nil {
			return nil, err
		}
		cond, err := attributeConditions([]string{q.Prompts[i]}, 1)
		if err != nil {
			return nil, err
		}
		out := map[string]*ort.Tensor{"logits": {}}
		if err := p.full.Run(ctx, map[string]ort.Tensor{
			"sample":    {Shape: []int64{1, 3, int64(s), int64(s)}, F32: x},
			"condition": {Shape: []int64{1, int64(p.cfg.ConditionSize)}, F32: cond},
		}, out); err != nil {
			return nil, fmt.Errorf("pipeline: full: %w", err)
		}
		total += subpixelLogProb(out["logits"].F32, x, k, plane)
	}
	bpd := -total / (float64(len(q.Images)*3*plane) * math.Ln2)
	return &LikelihoodResult{Images: len(q.Images), Samples: q.Samples, ELBOBitsPerDim: bpd, IWAEBitsPerDim: bpd, Exact: true}, nil
}

// subpixelLogProb is Σ log softmax(logits)[v] over the subpixels of one
// picture x (CHW, values v/127.5 − 1) with logits [3, k, plane].
func subpixelLogProb(logits, x []float32, k, plane int) float64 {
	total := 0.0
	for ch := range 3 {
		for pix := range plane {
			v := int(math.Round((float64(x[ch*plane+pix]) + 1) * 127.5))
			v = min(max(v, 0), k-1)
			m := math.Inf(-1)
			for j := range k {
				m = math.Max(m, float64(logits[(ch*k+j)*plane+pix]))
			}
			sum := 0.0
			for j := range k {
				sum += math.Exp(float64(logits[(ch*k+j)*plane+pix]) - m)
			}
			total += float64(logits[(ch*k+v)*plane+pix]) - m - math.Log(sum)
		}
	}
	return total
}
