package pipeline

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"sync"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
)

// The VQ-VAE family (ImagegenVQVAEPipeline): an image tokenizer. Its
// encoder maps a picture to a grid of codebook indices and its decoder maps
// indices back to a picture; it has no prior of its own (the
// autoregressive family samples its tokens), so Generate is refused.
//
// Folder: vq_encoder/model.onnx (sample [B, 3, S, S] in [-1, 1] → indices
// int64 [B, h, w]) and vq_decoder/model.onnx (indices → sample), each with
// a config.json giving codebook_size, code_dim, latent_size [h, w] and
// sample_size.

// vqConfig is a VQ component's config.json.
type vqConfig struct {
	CodebookSize int   `json:"codebook_size"`
	CodeDim      int   `json:"code_dim"`
	LatentSize   []int `json:"latent_size"`
	SampleSize   int   `json:"sample_size"`
}

type vqvaePipeline struct {
	cfg vqConfig

	mu      sync.Mutex
	encoder *ort.Session
	decoder *ort.Session
	closed  bool
}

func loadVQVAE(ctx context.Context, dir string, _ Family, _ *modelIndex, opts Options) (familyPipeline, error) {
	p := &vqvaePipeline{}
	cfgPath := filepath.Join(dir, "vq_decoder", "config.json")
	if err := readJSON(cfgPath, &p.cfg); err != nil {
		return nil, err
	}
	c := p.cfg
	if c.CodebookSize <= 0 || c.SampleSize <= 0 || len(c.LatentSize) != 2 || c.LatentSize[0] <= 0 || c.LatentSize[1] <= 0 {
		return nil, fmt.Errorf("%w: %s: want codebook_size > 0, sample_size > 0 and latent_size [h, w], got %+v", ErrNotCheckpoint, cfgPath, c)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, h, w := int64(c.SampleSize), int64(c.LatentSize[0]), int64(c.LatentSize[1])
	var err error
	if p.encoder, err = openComponent(dir, "vq_encoder", opts.Session,
		[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, s, s}}}, []ioSpec{{"indices", ort.Int64, []int64{-1, h, w}}}); err != nil {
		return nil, err
	}
	if p.decoder, err = openComponent(dir, "vq_decoder", opts.Session,
		[]ioSpec{{"indices", ort.Int64, []int64{-1, h, w}}}, []ioSpec{{"sample", ort.Float32, []int64{-1, 3, s, s}}}); err != nil {
		p.encoder.Close()
		return nil, err
	}
	return p, nil
}

func (p *vqvaePipeline) defaultSize() (int, int) { return p.cfg.SampleSize, p.cfg.SampleSize }

func (p *vqvaePipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, s := range []*ort.Session{p.encoder, p.decoder} {
		if s != nil {
			s.Close()
		}
	}
	p.encoder, p.decoder = nil, nil
	return nil
}

func (p *vqvaePipeline) generate(context.Context, Request) (*Result, error) {
	return nil, fmt.Errorf("%w: a VQ-VAE has no prior to sample from: it encodes pictures to codes and decodes codes to pictures (imagegen encode / decode); a model over its codes generates", ErrNotSupported)
}

// Codes are VQ-VAE codebook indices: N pictures of H×W codes each, row
// major.
type Codes struct {
	Indices []int64
	N, H, W int
}

// codecFamily is implemented by families that tokenize pictures.
type codecFamily interface {
	encodeImages(ctx context.Context, imgs []image.Image) (*Codes, error)
	decodeCodes(ctx context.Context, c *Codes) (*Result, error)
	codebookSize() int
}

// EncodeImages maps pictures (the model's size) to codes. Families that
// do not tokenize return ErrNotSupported.
func (p *Pipeline) EncodeImages(ctx context.Context, imgs []image.Image) (*Codes, error) {
	c, ok := p.impl.(codecFamily)
	if !ok {
		return nil, fmt.Errorf("%w: the %s family has no image codes", ErrNotSupported, p.family)
	}
	return c.encodeImages(ctx, imgs)
}

// DecodeCodes maps codes back to pictures. Codes of the wrong grid size or
// with indices outside the codebook are ErrBadRequest.
func (p *Pipeline) DecodeCodes(ctx context.Context, codes *Codes) (*Result, error) {
	c, ok := p.impl.(codecFamily)
	if !ok {
		return nil, fmt.Errorf("%w: the %s family has no image codes", ErrNotSupported, p.family)
	}
	return c.decodeCodes(ctx, codes)
}

// CodebookSize returns the number of codes of a tokenizing family (0 for
// the others).
func (p *Pipeline) CodebookSize() int {
	if c, ok := p.impl.(codecFamily); ok {
		return c.codebookSize()
	}
	return 0
}

func (p *vqvaePipeline) codebookSize() int { return p.cfg.CodebookSize }

func (p *vqvaePipeline) encodeImages(ctx context.Context, imgs []image.Image) (*Codes, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if len(imgs) == 0 {
		return nil, badRequest("no pictures to encode")
	}
	s := p.cfg.SampleSize
	x := make([]float32, 0, len(imgs)*3*s*s)
	for i, img := range imgs {
		if b := img.Bounds(); b.Dx() != s || b.Dy() != s {
			return nil, badRequest("picture %d is %dx%d; this VQ-VAE encodes %dx%d pictures", i, b.Dx(), b.Dy(), s, s)
		}
		t, err := imageio.ImageTensor(img, s, s)
		if err != nil {
			return nil, err
		}
		x = append(x, t...)
	}
	out := map[string]*ort.Tensor{"indices": {}}
	if err := p.encoder.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(len(imgs)), 3, int64(s), int64(s)}, F32: x}}, out); err != nil {
		return nil, fmt.Errorf("pipeline: vq_encoder: %w", err)
	}
	return &Codes{Indices: out["indices"].I64, N: len(imgs), H: p.cfg.LatentSize[0], W: p.cfg.LatentSize[1]}, nil
}

func (p *vqvaePipeline) decodeCodes(ctx context.Context, c *Codes) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	h, w, k := p.cfg.LatentSize[0], p.cfg.LatentSize[1], p.cfg.CodebookSize
	if c == nil || c.N <= 0 || c.H != h || c.W != w || len(c.Indices) != c.N*h*w {
		got := "none"
		if c != nil {
			got = fmt.Sprintf("[%d, %d, %d] (%d values)", c.N, c.H, c.W, len(c.Indices))
		}
		return nil, badRequest("codes %s: this VQ-VAE decodes [N, %d, %d] int64 codes", got, h, w)
	}
	for i, v := range c.Indices {
		if v < 0 || v >= int64(k) {
			return nil, badRequest("code %d (picture %d, row %d, column %d) is %d, outside the codebook of %d codes [0, %d)",
				i, i/(h*w), i%(h*w)/w, i%w, v, k, k)
		}
	}
	out := map[string]*ort.Tensor{"sample": {}}
	if err := p.decoder.Run(ctx, map[string]ort.Tensor{"indices": {Shape: []int64{int64(c.N), int64(h), int64(w)}, I64: c.Indices}}, out); err != nil {
		return nil, fmt.Errorf("pipeline: vq_decoder: %w", err)
	}
	s := p.cfg.SampleSize
	res, err := imagesResult(out["sample"].F32, c.N, s, s)
	if err != nil {
		return nil, err
	}
	res.ModelFamily = FamilyVQVAE
	return res, nil
}
