// Command train_default_model trains imagegen's default text-to-image model
// from scratch on the procedural shapes dataset and exports it in the
// Optimum folder layout that package pipeline runs (and that package
// defaultmodel embeds).
//
// Phases, each resumable (checkpoints and caches under -state, a
// git-ignored folder by default):
//
//  1. vocab: a byte-level BPE vocabulary learned from training captions.
//  2. vae: an AutoencoderKL (32x32x3 → 16x16x4) trained with L1 + a small KL.
//  3. latents: the training pictures encoded once (the VAE mean, scaled to
//     unit variance; the scale becomes scaling_factor).
//  4. decoder (optional): the VAE decoder fine-tuned alone on those latents.
//  5. text: the CLIP-style text encoder pretrained alone to classify the
//     captions' scene attributes.
//  6. denoiser: the UNet trained on that text encoder held fixed (or on
//     both jointly with -freeze-text=false), v- (or ε-) prediction on
//     DDPM's linear schedule, 10% empty captions for classifier-free
//     guidance.
//  7. export: text_encoder, unet, vae_encoder, vae_decoder (the VAE's EMA
//     weights, the denoiser's own) as float16 initializers, tokenizer and
//     a DDPM scheduler_config.json.
//
// Run it again with larger -vae-steps / -unet-steps to continue a phase;
// every phase prints its losses and appends them to a CSV under -state.
//
//	go run ./scripts/train_default_model -out defaultmodel/model
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/tokenizer"
)

type options struct {
	state, out           string
	vaeSteps, unetSteps  int
	decoderSteps         int
	decoderLR            float64
	decoderEdge          float64
	decoderName          string
	textSteps            int
	unetName, unetFrom   string
	unetAttnTop          bool
	repeatStar           int
	freezeText           bool
	prediction           string
	minSNR               float64
	vaeBatch, unetBatch  int64
	vaeLR, unetLR        float64
	pictures, captions   int
	threads, every       int
	seed                 uint64
	probe                bool
	plot                 string
	onlyPhase, stopAfter string
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_default_model/state", "folder for checkpoints, caches and loss CSVs")
	flag.StringVar(&o.out, "out", "", "export the trained model to this `folder` (replaced)")
	flag.IntVar(&o.vaeSteps, "vae-steps", 1200, "VAE training steps in total")
	flag.IntVar(&o.decoderSteps, "decoder-steps", 3400, "steps of fine-tuning the VAE decoder alone on the cached latents (0: none)")
	flag.Float64Var(&o.decoderLR, "decoder-lr", 3e-4, "decoder fine-tuning peak learning rate")
	flag.Float64Var(&o.decoderEdge, "decoder-edge", 0, "weigh the decoder's L1 by 1 plus this on the pixels next to a color change (0: plain L1)")
	flag.StringVar(&o.decoderName, "decoder-name", "decoder", "checkpoint `name` of the decoder fine-tuning (state/NAME.ckpt); copy decoder.ckpt to a new name to go on from it with other settings")
	flag.IntVar(&o.textSteps, "text-steps", 1500, "steps of pretraining the text encoder to classify the captions' attributes before the denoiser (0: none)")
	flag.StringVar(&o.unetName, "unet-name", "denoiser", "checkpoint `name` of the denoiser phase (state/NAME.ckpt)")
	flag.StringVar(&o.unetFrom, "unet-from", "", "start a new denoiser run from the weights of state/`NAME`.ckpt")
	flag.BoolVar(&o.unetAttnTop, "unet-attention-top", false, "give the UNet's top (16x16) level cross-attention too; a run with it can start -unet-from one without it")
	flag.IntVar(&o.repeatStar, "unet-repeat-star", 1, "show the denoiser each picture whose caption names a star this many times per epoch (1: as often as the others)")
	flag.BoolVar(&o.freezeText, "freeze-text", true, "train the UNet on the pretrained text encoder held fixed (needs -text-steps > 0); false trains both together")
	flag.StringVar(&o.prediction, "prediction", "v_prediction", "the UNet's target: epsilon or v_prediction (written into scheduler_config.json)")
	flag.Float64Var(&o.minSNR, "min-snr-gamma", 0, "weigh the denoiser's examples with Min-SNR-γ (0: all alike)")
	flag.IntVar(&o.unetSteps, "unet-steps", 16000, "denoiser training steps in total")
	flag.Int64Var(&o.vaeBatch, "vae-batch", 16, "VAE batch size")
	flag.Int64Var(&o.unetBatch, "unet-batch", 16, "denoiser batch size")
	flag.Float64Var(&o.vaeLR, "vae-lr", 1e-3, "VAE peak learning rate")
	flag.Float64Var(&o.unetLR, "unet-lr", 1e-3, "denoiser peak learning rate")
	flag.IntVar(&o.pictures, "pictures", 50000, "training pictures (the VAE draws from them, the denoiser trains on their latents)")
	flag.IntVar(&o.captions, "captions", 20000, "captions the BPE vocabulary is learned from")
	flag.IntVar(&o.threads, "threads", 0, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 200, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainers' RNGs")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps of each network and exit")
	flag.StringVar(&o.plot, "plot", "", "after training, draw the loss curves into this PNG `file` and copy the loss CSVs next to it")
	flag.StringVar(&o.stopAfter, "stop-after", "", "stop after this phase (vocab, vae, latents, decoder, text, denoiser)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_default_model:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	if o.prediction != "epsilon" && o.prediction != "v_prediction" {
		return fmt.Errorf("-prediction %q: want epsilon or v_prediction", o.prediction)
	}
	if o.decoderEdge < 0 {
		return fmt.Errorf("-decoder-edge %g: want 0 or more", o.decoderEdge)
	}
	if o.repeatStar < 1 {
		return fmt.Errorf("-unet-repeat-star %d: want 1 or more", o.repeatStar)
	}
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return err
	}
	vocab, err := phaseVocab(o)
	if err != nil {
		return fmt.Errorf("vocab: %w", err)
	}
	cfg := modelConfig(int64(len(vocab.Tokens())), o.unetAttnTop)
	if o.probe {
		return probe(ctx, o, cfg)
	}
	if o.stopAfter == "vocab" {
		return nil
	}
	start := time.Now()
	vaeW, err := phaseVAE(ctx, o, cfg.VAE)
	if err != nil {
		return fmt.Errorf("vae: %w", err)
	}
	fmt.Printf("vae phase: %s\n", time.Since(start).Round(time.Second))
	rep, err := checkVAE(ctx, o, cfg.VAE, vaeW, 200)
	if err != nil {
		return fmt.Errorf("vae check: %w", err)
	}
	fmt.Println("vae reconstructions of held-out pictures:", rep)
	if o.stopAfter == "vae" {
		return nil
	}
	start = time.Now()
	lat, err := phaseLatents(ctx, o, cfg.VAE, vaeW)
	if err != nil {
		return fmt.Errorf("latents: %w", err)
	}
	cfg.VAE.ScalingFactor = lat.scale
	fmt.Printf("latents phase: %s (scaling factor %.5f)\n", time.Since(start).Round(time.Second), lat.scale)
	if o.decoderSteps > 0 {
		start = time.Now()
		if vaeW, err = phaseDecoder(ctx, o, cfg.VAE, vaeW, lat); err != nil {
			return fmt.Errorf("decoder: %w", err)
		}
		fmt.Printf("decoder phase: %s\n", time.Since(start).Round(time.Second))
		rep, err := checkVAE(ctx, o, cfg.VAE, vaeW, 200)
		if err != nil {
			return fmt.Errorf("vae check: %w", err)
		}
		fmt.Println("vae reconstructions with the fine-tuned decoder:", rep)
	}
	if o.stopAfter == "latents" || o.stopAfter == "decoder" {
		return nil
	}
	start = time.Now()
	tok, err := tokenizer.Load(filepath.Join(o.state, "tokenizer"))
	if err != nil {
		return err
	}
	textW, err := phaseText(ctx, o, cfg.Text, tok)
	if err != nil {
		return fmt.Errorf("text: %w", err)
	}
	if textW != nil {
		fmt.Printf("text phase: %s\n", time.Since(start).Round(time.Second))
	}
	if o.stopAfter == "text" {
		return nil
	}
	start = time.Now()
	denW, err := phaseDenoiser(ctx, o, cfg, lat, textW)
	if err != nil {
		return fmt.Errorf("denoiser: %w", err)
	}
	fmt.Printf("denoiser phase: %s\n", time.Since(start).Round(time.Second))
	if o.plot != "" {
		if err := writePlot(o); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	if o.out == "" || o.stopAfter == "denoiser" {
		return nil
	}
	if err := export(o.out, cfg, vaeW, denW, filepath.Join(o.state, "tokenizer"), o.prediction); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", o.out)
	return nil
}

// probe times a few steps of both training graphs.
func probe(ctx context.Context, o options, cfg onnxexport.SDConfig) error {
	for _, p := range []struct {
		name  string
		build func() (*onnxexport.Builder, *onnxexport.Value)
		data  onnxexport.Dataset
	}{
		{"vae", func() (*onnxexport.Builder, *onnxexport.Value) { return vaeLoss(cfg.VAE, o.seed, o.vaeBatch) }, probeData{}},
		{"denoiser", func() (*onnxexport.Builder, *onnxexport.Value) { return denoiserLoss(cfg, o.seed, o.unetBatch, false) }, probeData{}},
	} {
		t0 := time.Now()
		b, loss := p.build()
		g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		fmt.Printf("%s: graph built in %s\n", p.name, time.Since(t0).Round(time.Millisecond))
		if err := trainrun.Probe(ctx, trainrun.Options{Threads: o.threads}, p.name, g, p.data, 6, 1e-3, nil); err != nil {
			return err
		}
	}
	return nil
}

// probeData fills every slot with small deterministic values.
type probeData struct{}

func (probeData) Len() int { return 100 }
func (probeData) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	for _, d := range dst {
		for k := range d.F32 {
			d.F32[k] = float32(rng.NormFloat64())
		}
		for k := range d.I64 {
			d.I64[k] = int64(rng.IntN(300))
		}
	}
	return nil
}
