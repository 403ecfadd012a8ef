package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/upscale"
	"github.com/imagegen/imagegen/videoio"
)

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "make images or clips from a prompt with an exported checkpoint (text-to-image, img2img, inpainting, text- and image-to-video)",
		ArgsUsage: "[PROMPT]",
		Description: "Runs the checkpoint's pipeline as diffusers would for the same prompt, sampler and seed.\n" +
			"A bare argument is the prompt. --scheduler takes a diffusers class (EulerDiscreteScheduler) or a friendly name (\"Euler a\", \"DPM++ 2M Karras\", ...).\n" +
			"With several images and a .png output the files are numbered (out-1.png, out-2.png, ...); a .npy output holds float32 [N, H, W, 3] in [0, 1].\n\n" +
			"Examples:\n" +
			"   imagegen generate \"a red circle above a blue square\" -o out.png   # the built-in 32x32 shapes model\n" +
			"   imagegen generate --model ./sd-turbo \"a cat\" -o cat.png\n" +
			"   imagegen generate --model ./sd15 --prompt \"a castle\" --scheduler \"DPM++ 2M Karras\" --steps 25 --seed 7 -o castle.png\n" +
			"   imagegen generate --model ./sd15 --prompt \"a castle at night\" --init-image castle.png --strength 0.6 -o night.png\n" +
			"   imagegen generate --model ./animatediff \"a ship at sea\" --frames 16 --fps 8 -o ship.gif   # a clip: .gif, .png (APNG), .mp4, .webm, .npy\n" +
			"   imagegen generate --model ./svd --init-image first.png --frames 14 --motion-bucket 127 -o clip.mp4",
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "checkpoint folder, hf:ORG/NAME[@REV] or models.yaml name (default: the built-in shapes model)"},
			&cli.StringSliceFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "prompt (repeat for a batch of prompts)"},
			&cli.StringFlag{Name: "negative-prompt", Aliases: []string{"n"}, Usage: "negative prompt"},
			&cli.StringFlag{Name: "prompt-2", Usage: "prompt for the second encoder (SDXL, SD3) or T5 (Flux)"},
			&cli.StringFlag{Name: "negative-prompt-2", Usage: "negative prompt for the second encoder"},
			&cli.StringFlag{Name: "scheduler", Aliases: []string{"s"}, Usage: "sampler: diffusers class or friendly name (default: the checkpoint's)"},
			&cli.StringSliceFlag{Name: "scheduler-opt", Usage: "scheduler config override `key=value` (repeatable)"},
			&cli.IntFlag{Name: "steps", Usage: "inference steps (default: the model's)"},
			&cli.Float64Flag{Name: "guidance", Aliases: []string{"g"}, Usage: "guidance scale (default: the model's)"},
			&cli.Float64Flag{Name: "guidance-rescale", Usage: "guidance rescale phi in [0, 1]"},
			&cli.Float64Flag{Name: "eta", Usage: "DDIM eta (noise weight)"},
			&cli.Uint64Flag{Name: "seed", Usage: "seed of the PyTorch-compatible generator", Value: 0},
			&cli.IntFlag{Name: "height", Aliases: []string{"H"}, Usage: "image height in pixels (default: the model's)"},
			&cli.IntFlag{Name: "width", Aliases: []string{"W"}, Usage: "image width in pixels (default: the model's)"},
			&cli.IntFlag{Name: "num-images", Aliases: []string{"k"}, Usage: "images per prompt", Value: 1},
			&cli.IntFlag{Name: "max-sequence-length", Usage: "T5 token count (SD3 default 256, Flux 512)"},
			&cli.StringFlag{Name: "prompt-syntax", Usage: "how prompts are read: diffusers (plain text) or a1111 (AUTOMATIC1111's (word:1.2), [word], BREAK and prompts over 75 tokens; SD, SDXL)", Value: "diffusers"},
			&cli.StringSliceFlag{Name: "lora", Usage: "LoRA `FILE[:SCALE]` (safetensors, kohya or diffusers/PEFT keys) merged into the weights (repeatable; SCALE defaults to 1). Prompts may also name LoRAs as <lora:NAME:SCALE>, looked up in --lora-dir"},
			&cli.StringFlag{Name: "lora-dir", Usage: "folder of NAME.safetensors files for <lora:NAME:SCALE> prompt tags (default ~/.cache/imagegen/loras)"},
			&cli.BoolFlag{Name: "strict-lora", Usage: "fail when a LoRA key matches no weight of the model (default: a notice lists them)"},
			&cli.IntFlag{Name: "preview-every", Usage: "write a preview of the latents every `N` steps into --preview-dir"},
			&cli.StringFlag{Name: "preview-dir", Usage: "folder for preview-STEP.png files"},
			&cli.StringFlag{Name: "preview-decoder", Usage: "TAESD-style decoder folder (vae_decoder/model.onnx, latent_sample → sample) for previews (default: a linear latent-to-RGB approximation)"},
			&cli.StringSliceFlag{Name: "embedding", Usage: "textual-inversion `FILE` (.safetensors, .pt, .bin) added as a new token, called in the prompt by its file name (repeatable; SD, SDXL)"},
			&cli.IntFlag{Name: "vae-tile", Usage: "decode and encode with the VAE in overlapping tiles of `N` pixels (default: only when the whole picture would need over 4 GiB)"},
			&cli.IntFlag{Name: "clip-skip", Usage: "AUTOMATIC1111's clip skip: take the CLIP state N-1 layers earlier (1 = off; SD, SDXL, SD3)"},
			&cli.StringFlag{Name: "init-image", Usage: "PNG or JPEG to start from (img2img, inpainting; the first frame for SVD)"},
			&cli.Float64Flag{Name: "strength", Usage: "how much of the init image to repaint, in (0, 1] (default 0.8; 1.0 with --mask)"},
			&cli.StringFlag{Name: "mask", Usage: "inpainting mask PNG (white = repaint), same size as --init-image"},
			&cli.Float64Flag{Name: "classifier-scale", Usage: "classifier guidance scale S ≥ 0 (ADM): each step's noise prediction follows the gradient of the model's noise-conditional classifier for the shapes the prompt names (models with a classifier, such as builtin:ddpm; default 0: off)"},
			&cli.Float64Flag{Name: "truncation", Usage: "GAN truncation ψ in (0, 1]: the noise is scaled by ψ toward its mean (default 1: none)"},
			&cli.StringFlag{Name: "watermark", Usage: "invisible watermark: sdxl (diffusers' SDXL watermarker; pictures under 256 px wide stay unmarked, as in diffusers)"},
			&cli.StringFlag{Name: "c2pa-key", Usage: "sign each PNG with a C2PA manifest (content credentials) using this ECDSA P-256 `KEY.pem`; needs --c2pa-cert"},
			&cli.StringFlag{Name: "c2pa-cert", Usage: "PEM certificate `CHAIN.pem` of --c2pa-key (signing certificate first); see imagegen provenance"},
			&cli.StringFlag{Name: "device", Usage: "cpu, cuda, cuda:N or auto", Value: "cpu"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "low-mem", Usage: "release the text encoders after encoding"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `FILE` (.png or .npy; a video model's clip also .gif, .mp4 or .webm, and .png is then an APNG)", Value: "out.png"},
			&cli.StringFlag{Name: "save-latents", Usage: "also write the final latents to `FILE.npy`"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON summary on stdout"},
			&cli.Float64Flag{Name: "temperature", Usage: "sampling temperature > 0: of a flow's latent, ε ~ N(0, τ²I), or of an autoregressive model's tokens or pixels (default: the model's)"},
			&cli.IntFlag{Name: "top-k", Usage: "sample among the k likeliest tokens (autoregressive models; 0 = all)"},
			&cli.Float64Flag{Name: "top-p", Usage: "sample among the likeliest tokens whose probability reaches p, in (0, 1] (autoregressive models)"},
			&cli.StringFlag{Name: "save-steps", Usage: "write the partial pictures of an autoregressive model to `DIR` (tokens so far, the rest blank) every --save-every tokens"},
			&cli.IntFlag{Name: "save-every", Usage: "tokens between the partial pictures of --save-steps", Value: 16},
			&cli.StringFlag{Name: "upscale", Usage: "enlarge each picture with a Real-ESRGAN-style upscaler `DIR_OR_FILE` before writing it (see imagegen upscale)"},
		}, upscaleTileFlags("upscale-tile", "upscale-tile-overlap")...), videoFlags()...),
		Action: runGenerate,
	}
}

func runGenerate(c *cli.Context) error {
	prompts := c.StringSlice("prompt")
	if c.NArg() > 1 {
		return fmt.Errorf("generate: one bare prompt at most, got %d arguments (quote the prompt)", c.NArg())
	}
	if c.NArg() == 1 {
		prompts = append([]string{c.Args().First()}, prompts...)
	}
	if len(prompts) == 0 {
		if c.String("init-image") == "" {
			return fmt.Errorf("generate: no prompt: pass it as an argument or with --prompt")
		}
		prompts = []string{""} // image-to-video (SVD) takes none
	}
	out := c.String("output")
	ext := strings.ToLower(filepath.Ext(out))
	if set := videoFlagNames(c); len(set) > 0 {
		if err := videoio.CheckPath(out); err != nil {
			return fmt.Errorf("generate: with %s the output is a clip: %w", strings.Join(set, ", "), err)
		}
	} else if ext != ".png" && ext != ".npy" && !videoio.IsVideoPath(out) {
		return fmt.Errorf("generate: output %s: want a .png or .npy file name (or, for video models, .gif, .mp4 or .webm)", out)
	}
	if l := c.String("save-latents"); l != "" && strings.ToLower(filepath.Ext(l)) != ".npy" {
		return fmt.Errorf("generate: --save-latents %s: want a .npy file name", l)
	}
	dev, err := ort.ParseDevice(c.String("device"))
	if err != nil {
		return err
	}
	signer, err := c2paSigner(c)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if signer != nil && ext != ".png" {
		return fmt.Errorf("generate: --c2pa-key signs PNG outputs; %s is not one", out)
	}
	req := pipeline.Request{
		Prompts: prompts, NegativePrompt: c.String("negative-prompt"),
		Prompt2: c.String("prompt-2"), NegativePrompt2: c.String("negative-prompt-2"),
		Scheduler: c.String("scheduler"), SchedulerOpts: c.StringSlice("scheduler-opt"),
		Steps: c.Int("steps"), GuidanceRescale: c.Float64("guidance-rescale"), Eta: c.Float64("eta"),
		Seed: c.Uint64("seed"), Height: c.Int("height"), Width: c.Int("width"),
		NumImages: c.Int("num-images"), MaxSequenceLength: c.Int("max-sequence-length"),
		Strength: c.Float64("strength"), ExplicitNegative: c.IsSet("negative-prompt"),
		Watermark: c.String("watermark"), ClipSkip: c.Int("clip-skip"),
		ClassifierScale: c.Float64("classifier-scale"),
	}
	switch syn := c.String("prompt-syntax"); syn {
	case "diffusers", "":
	case "a1111":
		req.PromptSyntax = pipeline.PromptA1111
	default:
		return fmt.Errorf("generate: --prompt-syntax %q: want diffusers or a1111", syn)
	}
	if c.IsSet("steps") && req.Steps < 1 {
		return fmt.Errorf("generate: --steps must be at least 1, got %d", req.Steps)
	}
	if c.IsSet("truncation") {
		psi := c.Float64("truncation")
		if !(psi > 0 && psi <= 1) {
			return fmt.Errorf("generate: --truncation must be in (0, 1], got %g", psi)
		}
		req.Truncation = psi
	}
	if c.IsSet("num-images") && req.NumImages < 1 {
		return fmt.Errorf("generate: --num-images must be at least 1, got %d", req.NumImages)
	}
	if c.IsSet("guidance") {
		g := c.Float64("guidance")
		req.Guidance = &g
	}
	if err := tokenSamplingFlags(c, &req); err != nil {
		return err
	}
	if err := videoRequestFlags(c, &req); err != nil {
		return err
	}
	if p := c.String("init-image"); p != "" {
		if req.InitImage, err = imageio.LoadImage(p); err != nil {
			return err
		}
	}
	if p := c.String("mask"); p != "" {
		if req.Mask, err = imageio.LoadImage(p); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	c.Context = ctx
	dir, entry, err := resolveModelOrDefault(c, c.String("model"))
	if err != nil {
		return err
	}
	modelName := filepath.Base(filepath.Clean(dir))
	if entry != nil {
		modelName = entry.Name
		pipeline.Defaults(entry.Defaults).Apply(&req)
	}
	if err := initRuntime(c); err != nil {
		return err
	}
	seen := map[string]bool{} // each session would repeat the same notice
	notice := func(m string) {
		if !c.Bool("quiet") && !seen[m] {
			seen[m] = true
			fmt.Fprintln(os.Stderr, "imagegen:", m)
		}
	}
	loras, err := loraFlags(c, &req, entry)
	if err != nil {
		return err
	}
	if err := previewFlags(c, &req, notice); err != nil {
		return err
	}
	var upscaler *upscale.Upscaler
	upOpts, err := upscaleRunOptions(c, "upscale-tile", "upscale-tile-overlap")
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if m := c.String("upscale"); m != "" {
		if upscaler, err = openUpscaler(c, m); err != nil {
			return fmt.Errorf("generate: --upscale: %w", err)
		}
		defer upscaler.Close()
	}
	start := time.Now()
	pipe, err := pipeline.Load(ctx, dir, pipeline.Options{
		Session: ort.Options{Device: dev, IntraOpThreads: c.Int("threads"), Notice: notice, Cache: graphCache(c)},
		LowMem:  c.Bool("low-mem"), LoRAs: loras, StrictLoRA: c.Bool("strict-lora"),
		PreviewDecoder: c.String("preview-decoder"), VAETile: c.Int("vae-tile"),
		Embeddings: c.StringSlice("embedding"),
	})
	if err != nil {
		return err
	}
	defer pipe.Close()
	if filepath.Clean(pipe.Dir()) != filepath.Clean(dir) {
		notice("using the variant " + pipe.Dir())
	}
	loaded := time.Since(start)
	if err := checkOutputKind(c, out, pipe.Family()); err != nil {
		return err
	}

	var bar *progressbar.ProgressBar
	if showProgress(c) {
		req.Progress = func(s pipeline.StepInfo) {
			if bar == nil {
				bar = progressbar.NewOptions(s.Total, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription(progressLabel(pipe.Family())), progressbar.OptionShowCount(),
					progressbar.OptionShowIts(), progressbar.OptionClearOnFinish())
			}
			bar.Set(s.Step)
		}
	}
	start = time.Now()
	res, err := pipe.Generate(ctx, req)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	genTime := time.Since(start)
	var up *upscaled
	if upscaler != nil {
		if up, err = upscaleResult(c, upscaler, res, upOpts); err != nil {
			return fmt.Errorf("generate: --upscale: %w", err)
		}
	}
	// The latents go first: a failure there leaves no pictures, clips or
	// frame folders behind, and a failure writing those removes them.
	latents := c.String("save-latents")
	if latents != "" {
		if err := writeLatents(latents, res); err != nil {
			return err
		}
	}
	var paths []string
	if res.Frames > 0 {
		paths, err = writeClips(out, c.String("frames-dir"), res)
	} else {
		paths, err = writeOutputs(out, res, &req, modelName, signer, up)
	}
	if err != nil {
		if latents != "" {
			os.Remove(latents)
		}
		return err
	}
	if c.Bool("json") {
		summary := map[string]any{
			"outputs": paths, "model": dir, "family": res.ModelFamily, "scheduler": res.Scheduler,
			"steps": res.Steps, "guidance": res.Guidance, "temperature": res.Temperature, "seed": res.Seed, "width": res.W, "height": res.H,
			"frames": res.Frames, "fps": res.FPS,
			"denoiser_calls": res.DenoiserCalls, "load_seconds": loaded.Seconds(), "generate_seconds": genTime.Seconds(),
			"timings": map[string]any{
				"text_encode_seconds": res.Timings.TextEncode.Seconds(), "denoiser_seconds": res.Timings.Denoiser.Seconds(),
				"host_seconds": res.Timings.Host.Seconds(), "vae_seconds": res.Timings.VAE.Seconds(),
				"step_seconds": durationsSeconds(res.Timings.Steps),
			},
		}
		if up != nil {
			summary["upscale"] = map[string]any{"model": upscaler.Path(), "scale": up.Scale, "width": res.W * up.Scale, "height": res.H * up.Scale}
		}
		if st := res.Stage; st != nil {
			summary["cascade"] = stageJSON(st)
			summary["timings"].(map[string]any)["stage_seconds"] = res.Timings.Stage.Seconds()
		}
		return printJSON(summary)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
	return nil
}

// durationsSeconds converts d to seconds for JSON.
func durationsSeconds(d []time.Duration) []float64 {
	s := make([]float64, len(d))
	for i, v := range d {
		s[i] = v.Seconds()
	}
	return s
}

// numbered returns the output names: out itself for one image, else
// out-1.png, out-2.png, ...
func numbered(out string, n int) []string {
	if n == 1 {
		return []string{out}
	}
	ext := filepath.Ext(out)
	base := strings.TrimSuffix(out, ext)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d%s", base, i+1, ext)
	}
	return names
}

func removeAll(paths []string) {
	for _, p := range paths {
		os.Remove(p)
	}
}

// requestJSON is the full request stored in each PNG, so images can be
// re-run.
func requestJSON(req *pipeline.Request, res *pipeline.Result, model string, index int, up *upscaled) string {
	m := map[string]any{
		"model": model, "prompt": req.Prompts[index/max(1, res.N/len(req.Prompts))], "prompts": req.Prompts,
		"negative_prompt": req.NegativePrompt, "prompt_2": req.Prompt2, "scheduler": res.Scheduler,
		"scheduler_opts": req.SchedulerOpts, "steps": res.Steps, "guidance": res.Guidance,
		"guidance_rescale": req.GuidanceRescale, "eta": req.Eta, "seed": res.Seed, "width": res.W, "height": res.H,
		"num_images": max(1, req.NumImages), "index": index, "max_sequence_length": req.MaxSequenceLength,
		"strength": res.Strength, "watermark": req.Watermark, "classifier_scale": req.ClassifierScale, "imagegen": version,
	}
	if up != nil {
		m["upscale"] = map[string]any{"model": up.Model, "scale": up.Scale}
	}
	if st := res.Stage; st != nil {
		m["cascade"] = stageJSON(st)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// stageJSON is the record of a cascade's super-resolution stage.
func stageJSON(st *pipeline.StageInfo) map[string]any {
	return map[string]any{"stage": st.Model, "scale": st.Scale, "base_width": st.BaseWidth, "base_height": st.BaseHeight,
		"steps": st.Steps, "noise_level": st.NoiseLevel}
}

// progressLabel names what generate's progress bar counts for a family:
// model calls of a denoising loop, or the draws of an autoregressive one.
func progressLabel(f pipeline.Family) string {
	switch f {
	case pipeline.FamilyVQGPT:
		return "sampling tokens"
	case pipeline.FamilyPixelCNN:
		return "sampling subpixels"
	}
	return "denoising"
}
