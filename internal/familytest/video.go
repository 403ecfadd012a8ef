package familytest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Sizes of the tiny video checkpoints.
const (
	// SVDFrames is the fixed frame count of WriteSVD's UNet export.
	SVDFrames = 4
	// SVDEmbedDim is the width of its image embedding.
	SVDEmbedDim = 16
	// VideoSize is the default clip side in pixels (16 latents, VAE
	// factor 2).
	VideoSize = 32
	// AnimateDiffMaxFrames is WriteAnimateDiff's motion_max_seq_length.
	AnimateDiffMaxFrames = 8
)

// WriteSVD writes a tiny StableVideoDiffusionPipeline folder to dir in
// the I/O form of the public ONNX conversions: unet/ (sample [B, F, 8, h,
// w] with F fixed at SVDFrames and h, w at VideoSize/2, as exports built
// for one resolution have them, timestep, encoder_hidden_states [B, 1, D],
// added_time_ids [B, 3] → out_sample [B, F, 4, h, w]), image_encoder/
// (pixel_values [B, 3, 224, 224] → image_embeds), vae_encoder/ (sample →
// latent_parameters) and vae_decoder/ (latent_sample, num_frames →
// sample), with SVD's scheduler config. The UNet convolves each frame,
// mixes the frames through their mean and adds a bias computed from every
// conditioning input, so each of them changes the clip. The decoder
// scales its output by num_frames / batch, so a wrong num_frames shows.
func WriteSVD(dir string, seed uint64) error {
	unet := onnxexport.NewBuilder("svd_unet")
	l := onnxexport.NewLayers(unet, seed)
	batch, h, w := onnxexport.Sym("batch"), onnxexport.Sym("height"), onnxexport.Sym("width")
	lat := onnxexport.D(VideoSize / 2)
	x := unet.Input("sample", onnxexport.Float32, batch, onnxexport.D(SVDFrames), onnxexport.D(8), lat, lat)
	t := unet.Input("timestep", onnxexport.Float32, batch)
	ehs := unet.Input("encoder_hidden_states", onnxexport.Float32, batch, onnxexport.D(1), onnxexport.D(SVDEmbedDim))
	ids := unet.Input("added_time_ids", onnxexport.Float32, batch, onnxexport.D(3))
	idScale := unet.ConstFloat32([]int64{1, 3}, []float32{0.1, 0.01, 1})
	cond := unet.Add(l.Linear("time_ids", unet.Mul(ids, idScale), 4, true),
		l.Linear("image", unet.ReduceMean(ehs, false, 1), 4, true))
	unet.Output("out_sample", frameConvUNet(unet, l, x, t, cond, 8))

	enc := onnxexport.NewBuilder("svd_image_encoder")
	le := onnxexport.NewLayers(enc, seed+1)
	px := enc.Input("pixel_values", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(224), onnxexport.D(224))
	enc.Output("image_embeds", le.Linear("proj", enc.ReduceMean(px, false, 2, 3), SVDEmbedDim, true))

	vaeEnc := onnxexport.NewBuilder("svd_vae_encoder")
	lv := onnxexport.NewLayers(vaeEnc, seed+2)
	img := vaeEnc.Input("sample", onnxexport.Float32, batch, onnxexport.D(3), h, w)
	vaeEnc.Output("latent_parameters", lv.Conv2d("conv", img, 8, 2, onnxexport.Conv2dOptions{Stride: 2}))

	vaeDec := onnxexport.NewBuilder("svd_vae_decoder")
	ld := onnxexport.NewLayers(vaeDec, seed+3)
	z := vaeDec.Input("latent_sample", onnxexport.Float32, onnxexport.Sym("frames"), onnxexport.D(4), h, w)
	nf := vaeDec.Input("num_frames", onnxexport.Int64)
	y := vaeDec.Tanh(ld.Conv2d("conv", vaeDec.UpsampleNearest(z, 2), 3, 3, onnxexport.Conv2dOptions{Padding: 1}))
	ratio := vaeDec.Div(vaeDec.Cast(nf, onnxexport.Float32), vaeDec.Cast(vaeDec.DimOf(z, 0), onnxexport.Float32))
	vaeDec.Output("sample", vaeDec.Mul(y, ratio))

	vae := map[string]any{"_class_name": "AutoencoderKLTemporalDecoder", "latent_channels": 4, "block_out_channels": []int{32, 64}, "scaling_factor": 0.18215}
	comps := map[string]component{
		"unet": {unet, map[string]any{"_class_name": "UNetSpatioTemporalConditionModel", "in_channels": 8, "out_channels": 4,
			"num_frames": SVDFrames, "sample_size": VideoSize / 2}},
		"image_encoder": {enc, map[string]any{"_class_name": "CLIPVisionModelWithProjection", "projection_dim": SVDEmbedDim, "image_size": 224}},
		"vae_encoder":   {vaeEnc, vae},
		"vae_decoder":   {vaeDec, vae},
	}
	idx := map[string]any{"_class_name": "StableVideoDiffusionPipeline",
		"feature_extractor": []string{"transformers", "CLIPImageProcessor"}, "image_encoder": []string{"transformers", "CLIPVisionModelWithProjection"},
		"scheduler": []string{"diffusers", "EulerDiscreteScheduler"}, "unet": []string{"diffusers", "UNetSpatioTemporalConditionModel"},
		"vae": []string{"diffusers", "AutoencoderKLTemporalDecoder"}}
	sched := map[string]any{"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
		"interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "v_prediction", "set_alpha_to_one": false,
		"sigma_max": 700.0, "sigma_min": 0.002, "skip_prk_steps": true, "steps_offset": 1, "timestep_spacing": "leading",
		"timestep_type": "continuous", "trained_betas": nil, "use_karras_sigmas": true}
	if err := writeComponents(dir, idx, comps, sched); err != nil {
		return err
	}
	pre := map[string]any{"do_normalize": true, "do_resize": true, "image_mean": []float64{0.48145466, 0.4578275, 0.40821073},
		"image_std": []float64{0.26862954, 0.26130258, 0.27577711}, "size": map[string]int{"shortest_edge": 224}}
	if err := os.MkdirAll(filepath.Join(dir, "feature_extractor"), 0o755); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "feature_extractor", "preprocessor_config.json"), pre)
}

// WriteAnimateDiff writes a tiny AnimateDiffPipeline folder to dir: the
// tokenizer, text encoder and VAE decoder of the SD 1.x checkpoint in
// sdDir (the conformance sd1-tiny), and a motion UNet stand-in taking
// sample [B, C, F, h, w], timestep and encoder_hidden_states →
// out_sample [B, C, F, h, w], which convolves each frame, mixes the
// frames and adds a bias from the text embedding. Its config says
// motion_max_seq_length AnimateDiffMaxFrames.
func WriteAnimateDiff(dir, sdDir string, seed uint64) error {
	return writeAnimateDiff(dir, sdDir, seed, false)
}

// WriteAnimateDiffTextPerFrame is WriteAnimateDiff with the UNet taking
// the text embedding once per frame, encoder_hidden_states [B·F, S, D]
// (batch dimension "batch_frames"), as UNetMotionModel exports from
// diffusers 0.30 on do. With the same seed its clips equal
// WriteAnimateDiff's.
func WriteAnimateDiffTextPerFrame(dir, sdDir string, seed uint64) error {
	return writeAnimateDiff(dir, sdDir, seed, true)
}

func writeAnimateDiff(dir, sdDir string, seed uint64, textPerFrame bool) error {
	var sdUNet struct {
		CrossAttentionDim int64 `json:"cross_attention_dim"`
		InChannels        int64 `json:"in_channels"`
		SampleSize        int   `json:"sample_size"`
	}
	if err := readJSON(filepath.Join(sdDir, "unet", "config.json"), &sdUNet); err != nil {
		return err
	}
	c := sdUNet.InChannels
	unet := onnxexport.NewBuilder("animatediff_unet")
	l := onnxexport.NewLayers(unet, seed)
	batch, h, w := onnxexport.Sym("batch"), onnxexport.Sym("height"), onnxexport.Sym("width")
	x := unet.Input("sample", onnxexport.Float32, batch, onnxexport.D(c), onnxexport.Sym("frames"), h, w)
	t := unet.Input("timestep", onnxexport.Float32, batch)
	ehsBatch := batch
	if textPerFrame {
		ehsBatch = onnxexport.Sym("batch_frames")
	}
	ehs := unet.Input("encoder_hidden_states", onnxexport.Float32, ehsBatch, onnxexport.Sym("sequence"), onnxexport.D(sdUNet.CrossAttentionDim))
	text := unet.ReduceMean(ehs, false, 1)
	if textPerFrame {
		// The rows of a clip's frames are copies: average them back.
		frames := unet.DimOf(x, 2)
		text = unet.ReduceMean(unet.ReshapeTo(text, unet.Concat(0, unet.ConstInts(-1), frames, unet.ConstInts(sdUNet.CrossAttentionDim))), false, 1)
	}
	cond := l.Linear("text", text, c, true)
	y := frameConvUNet(unet, l, unet.Transpose(x, 0, 2, 1, 3, 4), t, cond, c)
	unet.Output("out_sample", unet.Transpose(y, 0, 2, 1, 3, 4))

	comps := map[string]component{"unet": {unet, map[string]any{"_class_name": "UNetMotionModel", "in_channels": c, "out_channels": c,
		"sample_size": sdUNet.SampleSize, "cross_attention_dim": sdUNet.CrossAttentionDim, "motion_max_seq_length": AnimateDiffMaxFrames}}}
	idx := map[string]any{"_class_name": "AnimateDiffPipeline",
		"motion_adapter": []string{"diffusers", "MotionAdapter"}, "scheduler": []string{"diffusers", "DDIMScheduler"},
		"text_encoder": []string{"transformers", "CLIPTextModel"}, "tokenizer": []string{"transformers", "CLIPTokenizer"},
		"unet": []string{"diffusers", "UNetMotionModel"}, "vae": []string{"diffusers", "AutoencoderKL"}}
	sched := map[string]any{"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "linear", "beta_start": 0.00085,
		"clip_sample": false, "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": false,
		"steps_offset": 1, "timestep_spacing": "linspace"}
	if err := writeComponents(dir, idx, comps, sched); err != nil {
		return err
	}
	for _, sub := range []string{"tokenizer", "text_encoder", "vae_decoder"} {
		if err := copyDir(filepath.Join(sdDir, sub), filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("familytest: %w", err)
		}
	}
	return nil
}

// frameConvUNet is the video UNets' stand-in body on frame-major latents
// x [B, F, inC, h, w]: a 3×3 convolution per frame to outC = 4 channels
// (SVD) or inC (AnimateDiff), plus half the clip's mean frame (so frames
// interact), plus a per-sample bias from cond [B, outC] and the timestep,
// through tanh.
func frameConvUNet(b *onnxexport.Builder, l *onnxexport.Layers, x, t, cond *onnxexport.Value, inC int64) *onnxexport.Value {
	outC := int64(4)
	shape := b.ShapeOf(x)
	hw := b.Slice(shape, []int64{3}, []int64{5}, nil, nil)
	flat := b.ReshapeTo(x, b.Concat(0, b.ConstInts(-1, inC), hw))
	y := l.Conv2d("conv", flat, outC, 3, onnxexport.Conv2dOptions{Padding: 1})
	y = b.ReshapeTo(y, b.Concat(0, b.Slice(shape, []int64{0}, []int64{2}, nil, nil), b.ConstInts(outC), hw))
	y = b.Add(y, b.Mul(b.ReduceMean(y, true, 1), b.ScalarLike(y, 0.5)))
	bias := b.Add(cond, b.Mul(b.Unsqueeze(t, 1), b.ScalarLike(cond, 0.01)))
	return b.Tanh(b.Add(y, b.Reshape(bias, -1, 1, outC, 1, 1)))
}

// component is one ONNX model and its config.json.
type component struct {
	model  *onnxexport.Builder
	config map[string]any
}

// writeComponents writes an Optimum-style folder: model_index.json,
// NAME/model.onnx with NAME/config.json, and the scheduler config.
func writeComponents(dir string, index map[string]any, comps map[string]component, sched map[string]any) error {
	if err := os.MkdirAll(filepath.Join(dir, "scheduler"), 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "model_index.json"), index); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "scheduler", "scheduler_config.json"), sched); err != nil {
		return err
	}
	for name, c := range comps {
		m, err := c.model.Build()
		if err != nil {
			return fmt.Errorf("familytest: %s: %w", name, err)
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return err
		}
		if err := onnxexport.Save(filepath.Join(dir, name, "model.onnx"), m); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(dir, name, "config.json"), c.config); err != nil {
			return err
		}
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("familytest: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("familytest: %s: %w", path, err)
	}
	return nil
}

// copyDir copies the regular files of src into dst.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
