package pipeline

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/imagegen/imagegen/ort"
)

// Preview is a rough picture of the latents partway through denoising.
type Preview struct {
	Step, Total int
	// Images holds N pictures as float32 [N, H, W, 3] in [0, 1]: at the
	// latent size with the linear approximation, at the small decoder's
	// output size with Options.PreviewDecoder.
	Images  []float32
	N, H, W int
}

// latentRGB holds a family's linear latent-to-RGB approximation: rgb =
// factors·latent + bias, per pixel, on model-space latents (the factors
// ComfyUI and AUTOMATIC1111's "approx cheap" preview publish).
type latentRGB struct {
	factors [][3]float32 // one row per latent channel
	bias    [3]float32
}

var latentRGBByFamily = map[Family]latentRGB{
	FamilySD: {factors: [][3]float32{
		{0.3512, 0.2297, 0.3227}, {0.3250, 0.4974, 0.2350}, {-0.2829, 0.1762, 0.2721}, {-0.2120, -0.2616, -0.7177}}},
	FamilySDXL: {factors: [][3]float32{
		{0.3651, 0.4232, 0.4341}, {-0.2533, -0.0042, 0.1068}, {0.1076, 0.1111, -0.0362}, {-0.3165, -0.2492, -0.2188}},
		bias: [3]float32{0.1084, -0.0175, -0.0011}},
}

// previewDecoderName is the component folder of a TAESD-style decoder in
// its public ONNX layout (deinferno/taesd-onnx): vae_decoder/model.onnx,
// latent_sample in, sample out.
const previewDecoderName = "vae_decoder"

// openPreviewDecoder opens the small decoder of Options.PreviewDecoder.
func openPreviewDecoder(dir string, opts ort.Options) (*ort.Session, error) {
	path := filepath.Join(dir, previewDecoderName, "model.onnx")
	if err := checkModelFiles(dir, previewDecoderName); err != nil {
		return nil, fmt.Errorf("pipeline: preview decoder: %w", err)
	}
	s, err := ort.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("pipeline: preview decoder: %w", err)
	}
	for _, name := range []string{"latent_sample"} {
		if _, ok := s.Input(name); !ok {
			s.Close()
			return nil, fmt.Errorf("pipeline: preview decoder %s has no input %s (it declares %v)", path, name, s.Inputs())
		}
	}
	if _, ok := s.Output("sample"); !ok {
		s.Close()
		return nil, fmt.Errorf("pipeline: preview decoder %s has no output sample (it declares %v)", path, s.Outputs())
	}
	return s, nil
}

// preview renders the current latents for Request.Preview.
func (p *diffusionPipeline) preview(ctx context.Context, r *run, step, total int) error {
	lat := r.latents
	if r.packed {
		lat = r.unpack(lat)
	}
	c, h, w := r.channels, r.lh, r.lw
	pv := Preview{Step: step, Total: total, N: r.batch}
	if p.previewDec != nil {
		for b := 0; b < r.batch; b++ {
			out := ort.Tensor{}
			in := map[string]ort.Tensor{"latent_sample": {Shape: []int64{1, int64(c), int64(h), int64(w)}, F32: lat[b*c*h*w : (b+1)*c*h*w]}}
			if err := p.previewDec.Run(ctx, in, map[string]*ort.Tensor{"sample": &out}); err != nil {
				return fmt.Errorf("pipeline: preview decoder: %w", err)
			}
			if len(out.Shape) != 4 || out.Shape[1] != 3 {
				return fmt.Errorf("pipeline: preview decoder returned shape %v, want [1, 3, H, W]", out.Shape)
			}
			pv.H, pv.W = int(out.Shape[2]), int(out.Shape[3])
			if pv.Images == nil {
				pv.Images = make([]float32, r.batch*pv.H*pv.W*3)
			}
			if err := decodedToImage(pv.Images[b*pv.H*pv.W*3:(b+1)*pv.H*pv.W*3], out.F32, pv.H, pv.W, ""); err != nil {
				return err
			}
		}
		r.q.Preview(pv)
		return nil
	}
	pv.H, pv.W = h, w
	if p.pixel {
		pv.Images = make([]float32, r.batch*h*w*3)
		for b := 0; b < r.batch; b++ {
			if err := decodedToImage(pv.Images[b*h*w*3:(b+1)*h*w*3], lat[b*c*h*w:(b+1)*c*h*w], h, w, ""); err != nil {
				return err
			}
		}
		r.q.Preview(pv)
		return nil
	}
	pv.Images = linearPreview(lat, r.batch, c, h, w, latentRGBByFamily[p.family])
	r.q.Preview(pv)
	return nil
}

// linearPreview maps [N, C, H, W] latents to [N, H, W, 3] in [0, 1] with
// f's factors, or, for a family without published factors (SD3, Flux:
// 16 channels), each picture's first three channels stretched to [0, 1].
func linearPreview(lat []float32, n, c, h, w int, f latentRGB) []float32 {
	out := make([]float32, n*h*w*3)
	plane := h * w
	for b := 0; b < n; b++ {
		x := lat[b*c*plane : (b+1)*c*plane]
		dst := out[b*plane*3 : (b+1)*plane*3]
		if len(f.factors) == c {
			for k := 0; k < plane; k++ {
				for o := 0; o < 3; o++ {
					v := f.bias[o]
					for ch := 0; ch < c; ch++ {
						v += f.factors[ch][o] * x[ch*plane+k]
					}
					dst[k*3+o] = min(1, max(0, (v+1)/2))
				}
			}
			continue
		}
		for o := 0; o < 3 && o < c; o++ {
			ch := x[o*plane : (o+1)*plane]
			lo, hi := ch[0], ch[0]
			for _, v := range ch {
				lo, hi = min(lo, v), max(hi, v)
			}
			for k, v := range ch {
				if hi > lo {
					dst[k*3+o] = (v - lo) / (hi - lo)
				}
			}
		}
	}
	return out
}
