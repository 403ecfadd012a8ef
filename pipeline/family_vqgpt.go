package pipeline

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/tokenizer"
)

// The VQ-token transformer family (ImagegenVQGPTPipeline): a decoder-only
// transformer that reads a prompt's text tokens and then samples a
// picture's VQ-VAE codes one at a time, each given the text and the codes
// before it (row-major over the code grid); the VQ-VAE's decoder draws
// the picture from the codes. Classifier-free guidance runs the
// conditional stream and an unconditional one (the empty prompt, or the
// negative prompt) as one batch and mixes their logits before sampling.
//
// Folder: transformer/model.onnx with a key/value cache in
// onnxruntime-genai's names (see kvDecoder) and a config.json (vqgptConfig);
// vq_decoder/ as in the vqvae family; tokenizer/ the text tokenizer.

// vqgptConfig is transformer/config.json.
type vqgptConfig struct {
	Layers        int     `json:"num_hidden_layers"`
	Heads         int     `json:"num_attention_heads"`
	HeadDim       int     `json:"head_dim"`
	TextLength    int     `json:"text_length"`
	TextVocabSize int     `json:"text_vocab_size"`
	CodebookSize  int     `json:"codebook_size"`
	LatentSize    []int   `json:"latent_size"`
	MaxPositions  int     `json:"max_position_embeddings"`
	Temperature   float64 `json:"temperature"`
	TopK          int     `json:"top_k"`
	TopP          float64 `json:"top_p"`
}

// tokens returns the number of codes a picture has.
func (c vqgptConfig) tokens() int { return c.LatentSize[0] * c.LatentSize[1] }

func (c vqgptConfig) validate(path string) error {
	if c.Layers <= 0 || c.Heads <= 0 || c.HeadDim <= 0 || c.TextLength <= 0 || c.TextVocabSize <= 0 || c.CodebookSize <= 0 ||
		len(c.LatentSize) != 2 || c.LatentSize[0] <= 0 || c.LatentSize[1] <= 0 {
		return fmt.Errorf("%w: %s: want positive num_hidden_layers, num_attention_heads, head_dim, text_length, text_vocab_size, codebook_size and latent_size [h, w], got %+v",
			ErrNotCheckpoint, path, c)
	}
	if c.MaxPositions < c.TextLength+c.tokens()-1 {
		return fmt.Errorf("%w: %s: max_position_embeddings %d is shorter than the %d text and %d code positions",
			ErrNotCheckpoint, path, c.MaxPositions, c.TextLength, c.tokens()-1)
	}
	if err := (tokenSampling{c.Temperature, c.TopK, c.TopP}).validate(); err != nil {
		return fmt.Errorf("%w: %s: sampling defaults: %v", ErrNotCheckpoint, path, err)
	}
	return nil
}

type vqgptPipeline struct {
	cfg vqgptConfig
	vq  vqConfig
	tok tokenizer.Tokenizer

	mu      sync.Mutex
	dec     *kvDecoder
	decoder *ort.Session
	closed  bool
}

func loadVQGPT(ctx context.Context, dir string, _ Family, _ *modelIndex, opts Options) (familyPipeline, error) {
	p := &vqgptPipeline{}
	cfgPath := filepath.Join(dir, "transformer", "config.json")
	if _, err := os.Stat(cfgPath); err != nil {
		return nil, fmt.Errorf("%w: %s: missing transformer/config.json", ErrNotCheckpoint, dir)
	}
	if err := readJSON(cfgPath, &p.cfg); err != nil {
		return nil, err
	}
	if err := p.cfg.validate(cfgPath); err != nil {
		return nil, err
	}
	vqPath := filepath.Join(dir, "vq_decoder", "config.json")
	if err := readJSON(vqPath, &p.vq); err != nil {
		return nil, err
	}
	if p.vq.CodebookSize != p.cfg.CodebookSize || len(p.vq.LatentSize) != 2 || p.vq.LatentSize[0] != p.cfg.LatentSize[0] ||
		p.vq.LatentSize[1] != p.cfg.LatentSize[1] || p.vq.SampleSize <= 0 {
		return nil, fmt.Errorf("%w: %s: the decoder's codebook_size %d and latent_size %v must match the transformer's %d and %v",
			ErrNotCheckpoint, vqPath, p.vq.CodebookSize, p.vq.LatentSize, p.cfg.CodebookSize, p.cfg.LatentSize)
	}
	var err error
	if p.tok, err = tokenizer.Load(filepath.Join(dir, "tokenizer")); err != nil {
		return nil, fmt.Errorf("%w: %s: tokenizer: %v", ErrNotCheckpoint, dir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := p.cfg
	in, out := kvIOSpecs(c.Layers, c.Heads, c.HeadDim, c.CodebookSize)
	sess, err := openComponent(dir, "transformer", opts.Session, in, out)
	if err != nil {
		return nil, err
	}
	p.dec = newKVDecoder(sess, c.Layers, c.Heads, c.HeadDim, c.CodebookSize)
	h, w := int64(c.LatentSize[0]), int64(c.LatentSize[1])
	s := int64(p.vq.SampleSize)
	if p.decoder, err = openComponent(dir, "vq_decoder", opts.Session,
		[]ioSpec{{"indices", ort.Int64, []int64{-1, h, w}}}, []ioSpec{{"sample", ort.Float32, []int64{-1, 3, s, s}}}); err != nil {
		sess.Close()
		return nil, err
	}
	return p, nil
}

func (p *vqgptPipeline) defaultSize() (int, int) { return p.vq.SampleSize, p.vq.SampleSize }

func (p *vqgptPipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.dec != nil {
		p.dec.sess.Close()
	}
	if p.decoder != nil {
		p.decoder.Close()
	}
	p.dec, p.decoder = nil, nil
	return nil
}

// temperature makes the VQ transformer a temperatureSampler: its token
// sampling reads Request.Temperature.
func (p *vqgptPipeline) temperature(r Request) (float64, error) {
	s, err := p.sampling(r)
	return s.temperature, err
}

// sampling resolves a request's sampling settings over the model's.
func (p *vqgptPipeline) sampling(r Request) (tokenSampling, error) {
	s := tokenSampling{temperature: p.cfg.Temperature, topK: r.TopK, topP: p.cfg.TopP}
	if r.Temperature != 0 {
		s.temperature = r.Temperature // a negative one is refused by validate
	}
	if r.TopP != nil {
		s.topP = *r.TopP
	}
	if r.TopK == 0 {
		s.topK = p.cfg.TopK
	}
	if r.TopK < 0 {
		s.topK = r.TopK // refused by validate
	}
	return s, s.validate()
}

// checkTokenRequest refuses the request fields that belong to diffusion.
func checkTokenRequest(r Request, family string) error {
	switch {
	case r.Scheduler != "" || len(r.SchedulerOpts) > 0:
		return badRequest("the %s family samples tokens: it has no scheduler", family)
	case r.Steps > 0:
		return badRequest("the %s family samples one token at a time: steps do not apply (got %d)", family, r.Steps)
	case r.InitImage != nil || r.Mask != nil:
		return badRequest("the %s family has no img2img or inpainting", family)
	case r.Prompt2 != "" || r.NegativePrompt2 != "":
		return badRequest("the %s family reads one prompt; second prompts do not apply", family)
	case r.Watermark != "":
		return badRequest("the %s family has no watermark option (got %q)", family, r.Watermark)
	case r.NumImages < 0:
		return badRequest("number of images must be positive, got %d", r.NumImages)
	case len(r.Seeds) > 0:
		return badRequest("the %s family has no per-prompt seeds", family)
	case r.PartialEvery < 0:
		return badRequest("partial pictures every %d tokens: want a positive count", r.PartialEvery)
	}
	return nil
}

func (p *vqgptPipeline) generate(ctx context.Context, r Request) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	start := time.Now()
	if len(r.Prompts) == 0 {
		return nil, badRequest("no prompt given")
	}
	if err := checkTokenRequest(r, "VQ transformer"); err != nil {
		return nil, err
	}
	if err := checkFixedSize(r, p.vq.SampleSize); err != nil {
		return nil, err
	}
	samp, err := p.sampling(r)
	if err != nil {
		return nil, err
	}
	guidance := 1.0
	if r.Guidance != nil {
		guidance = *r.Guidance
	}
	if math.IsNaN(guidance) || math.IsInf(guidance, 0) {
		return nil, badRequest("guidance %v: want a finite number", guidance)
	}
	n := len(r.Prompts) * max(1, r.NumImages)
	streams := 1
	if guidance != 1 {
		streams = 2 // conditional rows, then unconditional rows
	}
	ids, err := p.promptIDs(r, n, streams)
	if err != nil {
		return nil, err
	}
	res := &Result{Guidance: guidance, Seed: r.Seed, ModelFamily: FamilyVQGPT}
	res.Timings.TextEncode = time.Since(start)
	codes, err := p.sample(ctx, r, ids, n, streams, guidance, samp, res)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	out, err := p.decode(ctx, codes, n, p.cfg.tokens())
	if err != nil {
		return nil, err
	}
	res.Images, res.N, res.H, res.W = out.Images, out.N, out.H, out.W
	res.Latents = make([]float32, len(codes))
	for i, c := range codes {
		res.Latents[i] = float32(c)
	}
	res.LatentShape = []int64{int64(n), int64(p.cfg.LatentSize[0]), int64(p.cfg.LatentSize[1])}
	res.Timings.VAE = time.Since(t)
	res.Timings.Total = time.Since(start)
	return res, nil
}

// promptIDs returns the text ids of every row: each prompt's ids repeated
// per picture, then (with guidance) as many rows of the negative prompt.
func (p *vqgptPipeline) promptIDs(r Request, n, streams int) ([]int64, error) {
	L := p.cfg.TextLength
	encode := func(text string) ([]int64, error) {
		raw := p.tok.EncodePadded(text, L)
		if len(raw) != L {
			return nil, fmt.Errorf("pipeline: tokenizer gave %d ids for %q, want %d", len(raw), text, L)
		}
		ids := make([]int64, L)
		for k, v := range raw {
			if v < 0 || v >= p.cfg.TextVocabSize {
				return nil, fmt.Errorf("%w: tokenizer id %d outside the transformer's %d text ids", ErrNotCheckpoint, v, p.cfg.TextVocabSize)
			}
			ids[k] = int64(v)
		}
		return ids, nil
	}
	rows := make([]int64, 0, streams*n*L)
	per := n / len(r.Prompts)
	for _, pr := range r.Prompts {
		ids, err := encode(pr)
		if err != nil {
			return nil, err
		}
		for range per {
			rows = append(rows, ids...)
		}
	}
	if streams == 2 {
		ids, err := encode(r.NegativePrompt)
		if err != nil {
			return nil, err
		}
		for range n {
			rows = append(rows, ids...)
		}
	}
	return rows, nil
}

// sample runs the token loop: the text rows in one step, then one code
// per row per step, guided and drawn for the n pictures with uniforms
// from the seed (one per picture per token, in order). It returns the
// codes [n, tokens].
func (p *vqgptPipeline) sample(ctx context.Context, r Request, textIDs []int64, n, streams int, guidance float64, samp tokenSampling, res *Result) ([]int64, error) {
	c := p.cfg
	T, V, rows := c.tokens(), c.CodebookSize, n*streams
	codes := make([]int64, n*T)
	step := make([]int64, rows)
	u := make([]float32, n)
	gen := rng.New(r.Seed)
	sc := newTokenScratch(V)
	past, next := p.dec.newCache(rows), p.dec.newCache(rows)
	ids, seq := textIDs, c.TextLength
	res.Timings.Steps = make([]time.Duration, 0, T)
	for t := range T {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		logits, err := p.dec.step(ctx, ids, rows, seq, past, next)
		if err != nil {
			return nil, err
		}
		d := time.Since(t0)
		res.Timings.Denoiser += d
		res.Timings.Steps = append(res.Timings.Steps, d)
		res.DenoiserCalls++
		past, next = next, past
		gen.Rand(u)
		for i := range n {
			last := logits[((i+1)*seq-1)*V : (i+1)*seq*V]
			if streams == 2 {
				uncond := logits[((n+i+1)*seq-1)*V : (n+i+1)*seq*V]
				guideLogits(last, uncond, float32(guidance))
			}
			tok, err := sampleToken(last, samp, float64(u[i]), sc)
			if err != nil {
				return nil, err
			}
			codes[i*T+t] = int64(tok)
			step[i] = int64(c.TextVocabSize + tok)
			if streams == 2 {
				step[n+i] = step[i]
			}
		}
		ids, seq = step, 1
		res.Timings.Host += time.Since(t0) - d
		if r.Progress != nil {
			r.Progress(StepInfo{Step: t + 1, Total: T})
		}
		if r.Partial != nil && r.PartialEvery > 0 && ((t+1)%r.PartialEvery == 0 || t+1 == T) {
			img, err := p.decode(ctx, codes, n, t+1)
			if err != nil {
				return nil, err
			}
			r.Partial(PartialPicture{Tokens: t + 1, Total: T, Result: img})
		}
	}
	res.Steps = T
	return codes, nil
}

// decode draws the pictures of codes [n, tokens] of which the first known
// of each picture are sampled; the pixels of the others are left blank
// (mid grey).
func (p *vqgptPipeline) decode(ctx context.Context, codes []int64, n, known int) (*Result, error) {
	h, w := p.cfg.LatentSize[0], p.cfg.LatentSize[1]
	out := map[string]*ort.Tensor{"sample": {}}
	if err := p.decoder.Run(ctx, map[string]ort.Tensor{"indices": {Shape: []int64{int64(n), int64(h), int64(w)}, I64: codes}}, out); err != nil {
		return nil, fmt.Errorf("pipeline: vq_decoder: %w", err)
	}
	s := p.vq.SampleSize
	chw := out["sample"].F32
	if known < h*w {
		fy, fx := s/h, s/w
		for i := range n {
			for k := known; k < h*w; k++ {
				r0, c0 := k/w*fy, k%w*fx
				for ch := range 3 {
					for y := r0; y < r0+fy; y++ {
						for x := c0; x < c0+fx; x++ {
							chw[((i*3+ch)*s+y)*s+x] = 0
						}
					}
				}
			}
		}
	}
	res, err := imagesResult(chw, n, s, s)
	if err != nil {
		return nil, err
	}
	res.ModelFamily = FamilyVQGPT
	return res, nil
}
