package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/imagegen/imagegen/lora"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/textinversion"
	"github.com/imagegen/imagegen/tokenizer"
)

// diffusionPipeline runs the latent-diffusion family: Stable Diffusion
// 1.x/2.x, SDXL, SD3 and Flux exports, and imagegen's built-in default
// model. Generate calls are serialized.
type diffusionPipeline struct {
	dir    string
	family Family
	index  *modelIndex
	opts   Options

	vae      vaeConfig
	den      denoiserConfig
	vaeScale int
	// denoiserName is the denoiser's folder: "unet", or "transformer"
	// where an SD3 or Flux export has one (see denoiserFolder).
	denoiserName string

	mu       sync.Mutex
	denoiser *ort.Session
	vaeDec   *ort.Session
	vaeEnc   *ort.Session // opened on first img2img / inpainting use
	// previewDec is Options.PreviewDecoder's session, when given.
	previewDec *ort.Session
	encoders   []*textEncoder
	closed     bool
	// loras holds the LoRA adapters merged into each component folder's
	// weights when it opens.
	loras map[string][]lora.Scaled
	// embeds holds the textual-inversion tokens added to each text
	// encoder folder's embedding table.
	embeds map[string]*componentEmbeds
}

// encoderNames lists the tokenizer and text-encoder folders each family
// uses, in diffusers' order.
var encoderNames = map[Family][][2]string{
	FamilySD:   {{"tokenizer", "text_encoder"}},
	FamilySDXL: {{"tokenizer", "text_encoder"}, {"tokenizer_2", "text_encoder_2"}},
	FamilySD3:  {{"tokenizer", "text_encoder"}, {"tokenizer_2", "text_encoder_2"}, {"tokenizer_3", "text_encoder_3"}},
	FamilyFlux: {{"tokenizer", "text_encoder"}, {"tokenizer_2", "text_encoder_2"}},

	FamilyAnimateDiff: {{"tokenizer", "text_encoder"}},
}

// loadDiffusion opens a latent-diffusion checkpoint: it reads the component
// configs, loads the tokenizers and opens the ONNX sessions.
func loadDiffusion(ctx context.Context, dir string, fam Family, idx *modelIndex, opts Options) (familyPipeline, error) {
	var err error
	p := &diffusionPipeline{dir: dir, family: fam, index: idx, opts: opts, denoiserName: denoiserFolder(dir, fam)}
	for _, c := range []string{p.denoiserName, "vae_decoder", "scheduler"} {
		if _, err := os.Stat(filepath.Join(dir, c)); err != nil {
			return nil, fmt.Errorf("%w: %s has no %s folder (a %s checkpoint needs it)", ErrNotCheckpoint, dir, c, fam)
		}
	}
	denCfg := filepath.Join(dir, p.denoiserName, "config.json")
	if err := readJSON(denCfg, &p.den); err != nil {
		return nil, err
	}
	if !fileExists(denCfg) {
		in, _, err := ort.ReadModelInfo(filepath.Join(dir, p.denoiserName, "model.onnx"))
		if err != nil {
			return nil, fmt.Errorf("pipeline: load %s: %w", p.denoiserName, err)
		}
		p.den.fillFromModel(fam, in)
	}
	vaeCfg := filepath.Join(dir, "vae_decoder", "config.json")
	if err := readJSON(vaeCfg, &p.vae); err != nil {
		return nil, err
	}
	p.vae.fillFamilyDefaults(fam, fileExists(vaeCfg))
	p.vaeScale = 8
	if n := len(p.vae.BlockOutChannels); n > 0 {
		p.vaeScale = 1 << (n - 1)
	}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.PreviewDecoder != "" {
		if p.previewDec, err = openPreviewDecoder(opts.PreviewDecoder, opts.Session); err != nil {
			return nil, err
		}
	}
	if len(opts.Embeddings) > 0 {
		if p.embeds, err = loadEmbeddings(dir, fam, opts.Embeddings); err != nil {
			return nil, err
		}
	}
	if len(opts.LoRAs) > 0 {
		if p.loras, err = loadLoRAs(dir, p.denoiserName, opts.LoRAs, opts.StrictLoRA, opts.Session.Notice); err != nil {
			return nil, err
		}
	}
	if opts.LowMem {
		// Check now what Generate will open later.
		for _, c := range []string{p.denoiserName, "vae_decoder"} {
			if err := p.checkComponent(c); err != nil {
				return nil, err
			}
		}
	} else {
		if p.denoiser, err = p.open(p.denoiserName); err != nil {
			return nil, err
		}
		if p.vaeDec, err = p.open("vae_decoder"); err != nil {
			return nil, err
		}
	}
	if !opts.LowMem {
		if p.encoders, err = p.openEncoders(); err != nil {
			return nil, err
		}
	} else if _, err := p.loadTokenizers(); err != nil {
		return nil, err // fail early on a broken tokenizer even in low-memory mode
	}
	ok = true
	return p, nil
}

func (p *diffusionPipeline) checkComponent(component string) error {
	return checkModelFiles(p.dir, component)
}

func (p *diffusionPipeline) open(component string) (*ort.Session, error) {
	if err := p.checkComponent(component); err != nil {
		return nil, err
	}
	path := filepath.Join(p.dir, component, "model.onnx")
	var s *ort.Session
	var err error
	if adapters, emb := p.loras[component], p.embeds[component]; len(adapters) > 0 || emb != nil {
		var rows []float32
		if emb != nil {
			rows = emb.rows
		}
		s, err = openEdited(path, adapters, rows, p.opts.Session)
	} else {
		s, err = openSession(path, p.opts.Session)
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: load %s: %w", component, err)
	}
	return s, nil
}

func (p *diffusionPipeline) loadTokenizers() ([]tokenizer.Tokenizer, error) {
	var toks []tokenizer.Tokenizer
	for _, names := range encoderNames[p.family] {
		if !p.hasComponent(names[1]) {
			toks = append(toks, nil)
			continue
		}
		tok, err := tokenizer.Load(filepath.Join(p.dir, names[0]))
		if err != nil {
			return nil, fmt.Errorf("pipeline: load %s: %w", names[0], err)
		}
		if emb := p.embeds[names[1]]; emb != nil {
			tok = textinversion.NewTokenizer(tok, emb.ids)
		}
		toks = append(toks, tok)
	}
	return toks, nil
}

// hasComponent reports whether the checkpoint ships component/model.onnx.
func (p *diffusionPipeline) hasComponent(component string) bool {
	_, err := os.Stat(filepath.Join(p.dir, component, "model.onnx"))
	return err == nil
}

// openEncoders loads every tokenizer and text encoder the family uses. SD3
// may ship without its T5 encoder (text_encoder_3): that slot stays nil and
// the pipeline uses zeros, as diffusers does.
func (p *diffusionPipeline) openEncoders() ([]*textEncoder, error) {
	toks, err := p.loadTokenizers()
	if err != nil {
		return nil, err
	}
	var encs []*textEncoder
	for i, names := range encoderNames[p.family] {
		if toks[i] == nil {
			if p.family == FamilySD3 && i == 2 {
				encs = append(encs, nil)
				continue
			}
			closeEncoders(encs)
			return nil, fmt.Errorf("%w: %s: missing component %s", ErrNotCheckpoint, p.dir, names[1])
		}
		s, err := p.open(names[1])
		if err != nil {
			closeEncoders(encs)
			return nil, err
		}
		encs = append(encs, newTextEncoder(names[1], toks[i], s))
	}
	return encs, nil
}

func closeEncoders(encs []*textEncoder) {
	for _, e := range encs {
		if e != nil {
			e.sess.Close()
		}
	}
}

// defaultSize returns the image size diffusers uses when none is given.
func (p *diffusionPipeline) defaultSize() (height, width int) {
	if p.family == FamilyFlux {
		return 128 * p.vaeScale, 128 * p.vaeScale
	}
	h, w := p.den.sampleSize()
	if h == 0 {
		h, w = 64, 64
	}
	return h * p.vaeScale, w * p.vaeScale
}

// close releases every session. It is safe to call more than once.
func (p *diffusionPipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	closeEncoders(p.encoders)
	p.encoders = nil
	for _, s := range []*ort.Session{p.denoiser, p.vaeDec, p.vaeEnc, p.previewDec} {
		if s != nil {
			s.Close()
		}
	}
	p.denoiser, p.vaeDec, p.vaeEnc, p.previewDec = nil, nil, nil, nil
	return nil
}
