package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/schedulers"
)

// The video families run checkpoints laid out as the public ONNX
// conversions of diffusers' video pipelines are: a UNet whose sample is a
// 5-D clip of latents, a VAE decoder run on chunks of frames, and (SVD) a
// CLIP image encoder and a VAE encoder for the first frame. They reuse the
// latent-diffusion room (component loading, text encoding, the scheduler
// loop of denoise_loop.go); what is theirs is the 5-D layout, SVD's
// image conditioning and per-frame guidance, and chunked decoding.
//
//	SVD:         sample [B, F, 8, h, w] (noisy latents ‖ first-frame latents),
//	             timestep, encoder_hidden_states [B, 1, D], added_time_ids [B, 3]
//	AnimateDiff: sample [B, C, F, h, w], timestep, encoder_hidden_states [B, S, D]
//
// Options.LowMem does not apply: the components stay open.

// videoPipeline is a loaded SVD or AnimateDiff checkpoint.
type videoPipeline struct {
	*diffusionPipeline
	// imageEnc is SVD's CLIP image encoder (pixel_values → image_embeds).
	imageEnc *ort.Session
	// clipSize is the side the image encoder takes (224 unless its
	// pixel_values input declares another); clipMean and clipStd its
	// normalization (feature_extractor/preprocessor_config.json, else
	// CLIP's).
	clipSize          int
	clipMean, clipStd [3]float32
}

// videoRun is one clip request: the geometry and conditioning values of a
// video Generate call, beside the shared run state.
type videoRun struct {
	*run
	frames int
	// frameMajor is SVD's [B, F, C, h, w] layout; AnimateDiff's is
	// [B, C, F, h, w].
	frameMajor  bool
	fps         float64
	motion      int
	noiseAug    float64
	minGuidance float64
	chunk       int
	init        image.Image
}

// loadVideo opens an SVD or AnimateDiff checkpoint through the
// latent-diffusion loader, then checks the UNet's 5-D sample and (SVD)
// opens the image and VAE encoders.
func loadVideo(ctx context.Context, dir string, fam Family, idx *modelIndex, opts Options) (familyPipeline, error) {
	opts.LowMem = false
	base, err := loadDiffusion(ctx, dir, fam, idx, opts)
	if err != nil {
		return nil, err
	}
	v := &videoPipeline{diffusionPipeline: base.(*diffusionPipeline)}
	ok := false
	defer func() {
		if !ok {
			v.close()
		}
	}()
	info, has := v.denoiser.Input("sample")
	if !has || len(info.Shape) != 5 {
		return nil, fmt.Errorf("%w: %s: the %s unet's sample input is %v, want a 5-D clip (%s)", ErrNotCheckpoint, dir, fam, info.Shape, v.layoutName())
	}
	if fam == FamilySVD {
		if v.imageEnc, err = openComponent(dir, "image_encoder", opts.Session,
			[]ioSpec{{"pixel_values", ort.Float32, []int64{-1, 3, -1, -1}}},
			[]ioSpec{{"image_embeds", ort.Float32, []int64{-1, -1}}}); err != nil {
			return nil, err
		}
		if _, err := v.vaeEncoder(); err != nil {
			return nil, err
		}
		if err := v.readCLIPPreprocessing(); err != nil {
			return nil, err
		}
	}
	ok = true
	return v, nil
}

// layoutName says the sample layout the family's UNet takes.
func (v *videoPipeline) layoutName() string {
	if v.family == FamilySVD {
		return "[B, F, C, h, w]"
	}
	return "[B, C, F, h, w]"
}

// readCLIPPreprocessing reads the image encoder's input size and
// normalization.
func (v *videoPipeline) readCLIPPreprocessing() error {
	v.clipSize = 224
	if info, ok := v.imageEnc.Input("pixel_values"); ok && info.Shape[2] > 0 && info.Shape[2] == info.Shape[3] {
		v.clipSize = int(info.Shape[2])
	}
	v.clipMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	v.clipStd = [3]float32{0.26862954, 0.26130258, 0.27577711}
	var pre struct {
		Mean []float64 `json:"image_mean"`
		Std  []float64 `json:"image_std"`
	}
	path := filepath.Join(v.dir, "feature_extractor", "preprocessor_config.json")
	if err := readJSON(path, &pre); err != nil {
		return err
	}
	if len(pre.Mean) == 3 && len(pre.Std) == 3 {
		for c := range 3 {
			if pre.Std[c] <= 0 {
				return fmt.Errorf("%w: %s: image_std %v must be positive", ErrNotCheckpoint, path, pre.Std)
			}
			v.clipMean[c], v.clipStd[c] = float32(pre.Mean[c]), float32(pre.Std[c])
		}
	}
	return nil
}

func (v *videoPipeline) close() error {
	err := v.diffusionPipeline.close()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.imageEnc != nil {
		v.imageEnc.Close()
		v.imageEnc = nil
	}
	return err
}

// videoFields names the video-only fields r sets ("" when none), for the
// families that refuse them.
func (r *Request) videoFields() string {
	var set []string
	add := func(on bool, name string) {
		if on {
			set = append(set, name)
		}
	}
	add(r.Frames != 0, "frames")
	add(r.FPS != 0, "fps")
	add(r.MotionBucket != nil, "motion bucket")
	add(r.NoiseAug != nil, "noise augmentation")
	add(r.MinGuidance != nil, "min guidance")
	add(r.DecodeChunk != 0, "decode chunk")
	return strings.Join(set, ", ")
}

// maxFrames bounds a clip's length whatever the model takes.
const maxFrames = 1024

// resolveVideo validates a clip request and fills its defaults as
// diffusers' StableVideoDiffusionPipeline and AnimateDiffPipeline do.
func (v *videoPipeline) resolveVideo(r Request) (*resolved, *videoRun, error) {
	vr := &videoRun{frameMajor: v.family == FamilySVD, init: r.InitImage}
	switch {
	case r.Preview != nil:
		return nil, nil, badRequest("previews are not available for video checkpoints")
	case len(r.Seeds) > 0:
		return nil, nil, badRequest("per-prompt seeds are not available for video checkpoints")
	case r.Mask != nil || r.Strength != 0:
		return nil, nil, badRequest("video checkpoints have no inpainting or img2img strength")
	case r.Watermark != "":
		return nil, nil, badRequest("video checkpoints have no watermark option (got %q)", r.Watermark)
	case r.GuidanceRescale != 0:
		return nil, nil, badRequest("guidance rescale is not available for video checkpoints")
	case r.DecodeChunk < 0:
		return nil, nil, badRequest("decode chunk must be positive, got %d", r.DecodeChunk)
	case r.FPS < 0 || math.IsNaN(r.FPS) || math.IsInf(r.FPS, 0):
		return nil, nil, badRequest("fps must be a positive number, got %g", r.FPS)
	}
	if v.family == FamilySVD {
		if err := v.checkSVDRequest(&r); err != nil {
			return nil, nil, err
		}
	} else {
		switch {
		case r.InitImage != nil:
			return nil, nil, badRequest("AnimateDiff makes clips from text; it takes no init image (image-to-video needs an SVD checkpoint)")
		case r.MotionBucket != nil || r.NoiseAug != nil || r.MinGuidance != nil:
			return nil, nil, badRequest("motion bucket, noise augmentation and min guidance are SVD options; this is an AnimateDiff checkpoint")
		}
	}
	base := r
	base.InitImage = nil // SVD's first frame conditions; it is not img2img
	q, err := v.resolve(base)
	if err != nil {
		return nil, nil, err
	}
	if v.family == FamilySVD {
		if r.Steps == 0 {
			q.Steps = 25
		}
		if r.Guidance == nil {
			q.guidance = 3
		}
		vr.minGuidance, vr.fps, vr.motion, vr.noiseAug = 1, 7, 127, 0.02
		if r.MinGuidance != nil {
			vr.minGuidance = *r.MinGuidance
		}
		if r.MotionBucket != nil {
			vr.motion = *r.MotionBucket
		}
		if r.NoiseAug != nil {
			vr.noiseAug = *r.NoiseAug
		}
	} else {
		vr.fps = 8
	}
	if r.FPS > 0 {
		vr.fps = r.FPS
	}
	if vr.frames, err = v.clipFrames(r.Frames); err != nil {
		return nil, nil, err
	}
	if err := v.checkClipSize(q); err != nil {
		return nil, nil, err
	}
	vr.chunk = r.DecodeChunk
	if vr.chunk == 0 {
		vr.chunk = vr.frames
		if v.family == FamilyAnimateDiff {
			vr.chunk = min(16, vr.frames)
		}
	}
	vr.chunk = min(vr.chunk, vr.frames)
	return q, vr, nil
}

// checkSVDRequest refuses what SVD has no use for and takes the clip size
// from the first frame when the request gives none. A first frame of
// another size than the one asked for is an error rather than a silent
// resize: the clip would start from a different picture than the one
// given.
func (v *videoPipeline) checkSVDRequest(r *Request) error {
	switch {
	case r.InitImage == nil:
		return badRequest("Stable Video Diffusion animates a picture: give the first frame as the init image (--init-image)")
	case r.NegativePrompt != "" || r.Prompt2 != "" || r.NegativePrompt2 != "" || r.ClipSkip > 1:
		return badRequest("Stable Video Diffusion takes no prompts (nor clip skip); it is conditioned on the init image")
	case r.MotionBucket != nil && *r.MotionBucket < 0:
		return badRequest("motion bucket must be 0 or more, got %d", *r.MotionBucket)
	case r.NoiseAug != nil && (*r.NoiseAug < 0 || math.IsNaN(*r.NoiseAug) || math.IsInf(*r.NoiseAug, 0)):
		return badRequest("noise augmentation must be 0 or more, got %g", *r.NoiseAug)
	case r.MinGuidance != nil && (math.IsNaN(*r.MinGuidance) || math.IsInf(*r.MinGuidance, 0)):
		return badRequest("min guidance must be a finite number")
	case r.FPS != 0 && r.FPS < 1:
		return badRequest("fps %g: SVD is conditioned on fps−1, so it must be at least 1", r.FPS)
	}
	for _, p := range r.Prompts {
		if p != "" {
			return badRequest("Stable Video Diffusion takes no prompt (got %q); it is conditioned on the init image", p)
		}
	}
	if len(r.Prompts) == 0 {
		r.Prompts = []string{""}
	}
	b := r.InitImage.Bounds()
	if r.Height == 0 && r.Width == 0 {
		r.Height, r.Width = b.Dy(), b.Dx()
	}
	if b.Dx() != r.Width || b.Dy() != r.Height {
		return badRequest("init image is %dx%d but the clip is %dx%d: give a first frame of the clip's size (or leave the size unset to take the image's)", b.Dx(), b.Dy(), r.Width, r.Height)
	}
	return nil
}

// clipFrames returns the clip length: the request's, else the UNet
// export's fixed frame count, its config's num_frames, or diffusers'
// default (SVD 14; AnimateDiff 16, or its motion module's limit when
// lower). It refuses lengths the export or its motion module cannot take.
func (v *videoPipeline) clipFrames(asked int) (int, error) {
	info, _ := v.denoiser.Input("sample")
	axis := 2
	if v.family == FamilySVD {
		axis = 1
	}
	fixed := int(info.Shape[axis])
	frames := asked
	switch {
	case frames != 0:
	case fixed > 0:
		frames = fixed
	case v.den.NumFrames > 0:
		frames = v.den.NumFrames
	case v.family == FamilySVD:
		frames = 14
	default:
		frames = 16
		if m := v.den.MotionMaxSeqLength; m > 0 {
			frames = min(frames, m)
		}
	}
	switch {
	case frames < 1 || frames > maxFrames:
		return 0, badRequest("%d frames: want 1 to %d", frames, maxFrames)
	case fixed > 0 && frames != fixed:
		return 0, badRequest("%d frames: this checkpoint's UNet export makes clips of exactly %d frames (its frame dimension is fixed)", frames, fixed)
	case v.den.MotionMaxSeqLength > 0 && frames > v.den.MotionMaxSeqLength:
		return 0, badRequest("%d frames: this checkpoint's motion module takes at most %d frames", frames, v.den.MotionMaxSeqLength)
	}
	return frames, nil
}

// checkClipSize refuses a clip size that the UNet export's sample input
// declares it cannot take (static height and width, as exports built for
// one resolution have), naming the size it makes.
func (v *videoPipeline) checkClipSize(q *resolved) error {
	info, _ := v.denoiser.Input("sample")
	h, w := info.Shape[3], info.Shape[4]
	lh, lw := int64(q.Height/v.vaeScale), int64(q.Width/v.vaeScale)
	if (h <= 0 || h == lh) && (w <= 0 || w == lw) {
		return nil
	}
	if h > 0 && w > 0 {
		return badRequest("size %dx%d: this checkpoint's UNet export only makes %dx%d clips", q.Width, q.Height, w*int64(v.vaeScale), h*int64(v.vaeScale))
	}
	return badRequest("size %dx%d: this checkpoint's UNet export takes latents of %v only", q.Width, q.Height, info.Shape[3:])
}

// generate makes one clip per prompt and image.
func (v *videoPipeline) generate(ctx context.Context, r Request) (*Result, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	q, vr, err := v.resolveVideo(r)
	if err != nil {
		return nil, err
	}
	sched, err := schedulers.Load(filepath.Join(v.dir, "scheduler", "scheduler_config.json"), q.Scheduler, q.SchedulerOpts)
	if err != nil {
		return nil, fmt.Errorf("pipeline: scheduler: %w", err)
	}
	v.newRun(q, vr, sched)

	var tm Timings
	t0 := time.Now()
	gen := rng.New(q.Seed)
	var step stepInputs
	if v.family == FamilySVD {
		step, err = v.svdConditioning(ctx, vr, gen)
	} else {
		step, err = v.animateDiffConditioning(ctx, vr)
	}
	if err != nil {
		return nil, err
	}
	tm.TextEncode = time.Since(t0) // SVD: the image encoder and the first frame's VAE encoding
	if err := vr.setTimesteps(); err != nil {
		return nil, err
	}
	gen.Randn(vr.latents)
	sigma := float32(sched.InitNoiseSigma())
	for i := range vr.latents {
		vr.latents[i] *= sigma
	}
	t1 := time.Now()
	if err := v.denoiseClip(ctx, vr, step, gen); err != nil {
		return nil, err
	}
	tm.Denoiser, tm.Steps = vr.denoiserTime, vr.stepTimes
	tm.Host = time.Since(t1) - vr.denoiserTime
	res := &Result{
		Latents: append([]float32(nil), vr.latents...), LatentShape: vr.latentShape(),
		Timesteps: vr.timesteps, Scheduler: sched.Config().ClassName, SchedulerConfig: sched.Config(), Steps: q.Steps,
		Guidance: q.guidance, Seed: q.Seed, ModelFamily: v.family, DenoiserCalls: vr.calls, Frames: vr.frames, FPS: vr.fps,
	}
	t1 = time.Now()
	if err := v.decodeFrames(ctx, vr, res); err != nil {
		return nil, err
	}
	tm.VAE = time.Since(t1)
	tm.Total = time.Since(t0)
	res.Timings = tm
	return res, nil
}

// newRun sets up vr's geometry, guidance and latent buffer.
func (v *videoPipeline) newRun(q *resolved, vr *videoRun, sched schedulers.Scheduler) {
	vr.run = &run{q: q, sched: sched, batch: q.batch, lh: q.Height / v.vaeScale, lw: q.Width / v.vaeScale}
	vr.cfg = q.cfg(v.diffusionPipeline)
	if v.family == FamilySVD {
		// diffusers guides when the largest per-frame scale exceeds 1.
		vr.cfg = q.guidance > 1 || vr.minGuidance > 1
	}
	vr.channels = v.vae.LatentChannels
	if vr.channels == 0 {
		vr.channels = 4
	}
	vr.latents = make([]float32, vr.batch*vr.frames*vr.channels*vr.lh*vr.lw)
}

// latentShape is the clip latents' shape in the UNet's layout.
func (vr *videoRun) latentShape() []int64 {
	b, f, c, h, w := int64(vr.batch), int64(vr.frames), int64(vr.channels), int64(vr.lh), int64(vr.lw)
	if vr.frameMajor {
		return []int64{b, f, c, h, w}
	}
	return []int64{b, c, f, h, w}
}

// stepInputs is what a video family's denoiser takes beside the sample
// and timestep, and how its model input is laid out.
type stepInputs struct {
	// inputs are the conditioning tensors, unconditional rows first under
	// guidance.
	inputs map[string]ort.Tensor
	// inChannels is the UNet's sample channels (SVD: latents ‖ image).
	inChannels int
	// fill writes the rows of the model input that change each step from
	// the scaled latents; rows that do not (SVD's image latents) are
	// written once by prepare.
	fill    func(modelIn, scaled []float32)
	prepare func(modelIn []float32)
	// guide combines the unconditional and conditional predictions.
	guide func(dst, out []float32)
}

// denoiseClip runs the shared scheduler loop on the clip latents.
func (v *videoPipeline) denoiseClip(ctx context.Context, vr *videoRun, st stepInputs, noise schedulers.Noise) error {
	nb := vr.batch
	if vr.cfg {
		nb *= 2
	}
	shape := vr.latentShape()
	inShape := append([]int64{int64(nb)}, shape[1:]...)
	outShape := append([]int64(nil), inShape...)
	chAxis := 2
	if !vr.frameMajor {
		chAxis = 1
	}
	inShape[chAxis] = int64(st.inChannels)
	per := len(vr.latents) / vr.batch
	modelIn := make([]float32, nb*per/vr.channels*st.inChannels)
	out := make([]float32, nb*per)
	guided := make([]float32, len(vr.latents))
	ts := make([]float32, nb)
	if st.prepare != nil {
		st.prepare(modelIn)
	}
	sampleName, outName := v.denoiserIO()
	inputs := map[string]ort.Tensor{
		sampleName: {Shape: inShape, F32: modelIn},
		"timestep": {Shape: []int64{int64(nb)}, F32: ts},
	}
	for k, t := range st.inputs {
		inputs[k] = t
	}
	for _, info := range v.denoiser.Inputs() {
		if _, ok := inputs[info.Name]; !ok {
			return fmt.Errorf("pipeline: %s: the unet needs input %s, which the %s pipeline does not provide", v.dir, info, v.family)
		}
	}
	for name := range inputs {
		if _, ok := v.denoiser.Input(name); !ok {
			delete(inputs, name) // optional conditioning the export does not take
		}
	}
	outputs := map[string]*ort.Tensor{outName: {}}
	vr.stepTimes = make([]time.Duration, 0, len(vr.timesteps))
	loop := denoiseLoop{sched: vr.sched, timesteps: vr.timesteps, latents: vr.latents, noise: noise, progress: vr.q.Progress}
	loop.predict = func(ctx context.Context, k int, t float64, scaled []float32) ([]float32, error) {
		st.fill(modelIn, scaled)
		for b := range ts {
			ts[b] = float32(t)
		}
		outputs[outName].Shape, outputs[outName].F32 = outShape, out
		if err := vr.runDenoiser(ctx, v.denoiser, inputs, outputs); err != nil {
			return nil, err
		}
		if !vr.cfg {
			return out, nil
		}
		st.guide(guided, out)
		return guided, nil
	}
	return loop.run(ctx)
}

// decodeFrames decodes every clip's frames with the VAE, DecodeChunk
// frames per call (diffusers' decode_chunk_size), passing num_frames when
// the decoder takes it (SVD's temporal decoder), into res.Images as
// [N·F, H, W, 3].
func (v *videoPipeline) decodeFrames(ctx context.Context, vr *videoRun, res *Result) error {
	c, h, w, F := vr.channels, vr.lh, vr.lw, vr.frames
	H, W := h*v.vaeScale, w*v.vaeScale
	plane := c * h * w
	res.N, res.H, res.W = vr.batch, H, W
	res.Images = make([]float32, vr.batch*F*H*W*3)
	inv := 1 / float32(v.vae.ScalingFactor)
	buf := make([]float32, vr.chunk*plane)
	nfInfo, hasNF := v.vaeDec.Input("num_frames")
	for b := 0; b < vr.batch; b++ {
		for f0 := 0; f0 < F; f0 += vr.chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(vr.chunk, F-f0)
			x := buf[:n*plane]
			for i := 0; i < n; i++ {
				vr.gatherFrame(x[i*plane:(i+1)*plane], b, f0+i, inv)
			}
			in := map[string]ort.Tensor{"latent_sample": {Shape: []int64{int64(n), int64(c), int64(h), int64(w)}, F32: x}}
			if hasNF {
				in["num_frames"] = scalarInput(nfInfo, n)
			}
			var out ort.Tensor
			if err := v.vaeDec.Run(ctx, in, map[string]*ort.Tensor{"sample": &out}); err != nil {
				return fmt.Errorf("pipeline: vae decode frames %d-%d: %w", f0+1, f0+n, err)
			}
			if len(out.Shape) != 4 || int(out.Shape[0]) != n || out.Shape[1] != 3 || int(out.Shape[2]) != H || int(out.Shape[3]) != W {
				return fmt.Errorf("pipeline: vae decoder returned shape %v, want [%d, 3, %d, %d]", out.Shape, n, H, W)
			}
			for i := 0; i < n; i++ {
				k := b*F + f0 + i
				if err := decodedToImage(res.Images[k*H*W*3:(k+1)*H*W*3], out.F32[i*3*H*W:(i+1)*3*H*W], H, W, ""); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// gatherFrame copies frame f of clip b, [C, h, w], out of the clip
// latents, multiplied by scale.
func (vr *videoRun) gatherFrame(dst []float32, b, f int, scale float32) {
	c, hw, F := vr.channels, vr.lh*vr.lw, vr.frames
	for ch := 0; ch < c; ch++ {
		var src []float32
		if vr.frameMajor {
			off := ((b*F+f)*c + ch) * hw
			src = vr.latents[off : off+hw]
		} else {
			off := ((b*c+ch)*F + f) * hw
			src = vr.latents[off : off+hw]
		}
		d := dst[ch*hw : (ch+1)*hw]
		for i, x := range src {
			d[i] = x * scale
		}
	}
}

// scalarInput is an integer the model declares as a scalar or a
// one-element tensor, in the element type it declares.
func scalarInput(info ort.IOInfo, n int) ort.Tensor {
	var shape []int64
	if len(info.Shape) > 0 {
		shape = []int64{1}
	}
	if info.DType.Float() {
		return ort.Tensor{Shape: shape, F32: []float32{float32(n)}}
	}
	return ort.Tensor{Shape: shape, I64: []int64{int64(n)}}
}
