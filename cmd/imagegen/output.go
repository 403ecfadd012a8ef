package main

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/c2pa"
	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/pipeline"
)

// writeOutputs writes the result as one .npy file or as numbered PNGs with
// their generation parameters, each with a C2PA manifest signed by signer
// when it is not nil. When up is not nil its upscaled pictures are written
// instead of the result's, and the parameters note the upscaler. On
// failure nothing written by this call is left behind.
func writeOutputs(out string, res *pipeline.Result, req *pipeline.Request, model string, signer *c2pa.Signer, up *upscaled) ([]string, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	pix, shape := res.Images, []int{res.N, res.H, res.W, 3}
	if up != nil {
		pix, shape = up.Images, []int{res.N, res.H * up.Scale, res.W * up.Scale, 3}
	}
	if strings.EqualFold(out[len(out)-4:], ".npy") {
		if err := imageio.SaveNPY(out, shape, pix); err != nil {
			return nil, err
		}
		return []string{out}, nil
	}
	imgs, err := imageio.ToNRGBA(pix, shape, imageio.NHWC, imageio.Unit)
	if err != nil {
		return nil, err
	}
	names := numbered(out, res.N)
	perPrompt := res.N / len(req.Prompts)
	for i, img := range imgs {
		params := imageio.GenerationParams{
			Prompt: req.Prompts[i/perPrompt], NegativePrompt: req.NegativePrompt, Steps: res.Steps,
			Sampler: samplerName(res), ScheduleType: scheduleType(res), CFGScale: res.Guidance, Seed: res.Seed, Width: res.W, Height: res.H,
			Model: model,
		}
		params.DenoisingStrength = res.Strength
		if res.N > 1 {
			params.Extra = append(params.Extra, imageio.Param{Key: "Batch index", Value: fmt.Sprint(i)})
		}
		if st := res.Stage; st != nil {
			params.Extra = append(params.Extra, imageio.Param{Key: "Cascade stage", Value: st.Model},
				imageio.Param{Key: "Cascade base size", Value: fmt.Sprintf("%dx%d", st.BaseWidth, st.BaseHeight)})
		}
		meta := imageio.Metadata{Parameters: params.Infotext(), JSON: requestJSON(req, res, model, i, up)}
		if up != nil {
			meta.Parameters = upscaledInfotext(meta.Parameters, up.Scale, up.Model)
		}
		if err := writePNG(names[i], img, meta, model, signer); err != nil {
			removeAll(names[:i])
			return nil, err
		}
	}
	return names, nil
}

// writePNG writes one output PNG atomically, with a C2PA manifest signed
// by signer (stating the model and meta's request JSON) when it is not nil.
func writePNG(path string, img image.Image, meta imageio.Metadata, model string, signer *c2pa.Signer) error {
	if signer == nil {
		return imageio.WritePNG(path, img, meta)
	}
	var b bytes.Buffer
	if err := imageio.EncodePNG(&b, img, meta); err != nil {
		return err
	}
	m, err := c2paManifest(filepath.Base(path), model, meta.JSON)
	if err != nil {
		return err
	}
	signed, err := c2pa.Sign(b.Bytes(), m, signer)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return imageio.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(signed)
		return err
	})
}

// writeLatents saves the final latents as .npy.
func writeLatents(path string, res *pipeline.Result) error {
	shape := make([]int, len(res.LatentShape))
	for i, d := range res.LatentShape {
		shape[i] = int(d)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return imageio.SaveNPY(path, shape, res.Latents)
}

// samplerName gives the sampler's name as AUTOMATIC1111 writes it, so
// tools that read the parameters text recognize it.
func samplerName(res *pipeline.Result) string {
	c := res.SchedulerConfig
	switch res.Scheduler {
	case "EulerDiscreteScheduler", "FlowMatchEulerDiscreteScheduler":
		return "Euler"
	case "EulerAncestralDiscreteScheduler":
		return "Euler a"
	case "HeunDiscreteScheduler":
		return "Heun"
	case "DDIMScheduler":
		return "DDIM"
	case "DDPMScheduler":
		return "DDPM"
	case "PNDMScheduler":
		return "PLMS"
	case "UniPCMultistepScheduler":
		return "UniPC"
	case "LCMScheduler":
		return "LCM"
	case "DPMSolverMultistepScheduler":
		if c != nil && strings.HasPrefix(c.AlgorithmType, "sde-") {
			return "DPM++ 2M SDE"
		}
		return "DPM++ 2M"
	}
	return res.Scheduler
}

func scheduleType(res *pipeline.Result) string {
	c := res.SchedulerConfig
	switch {
	case c == nil:
		return ""
	case c.UseKarrasSigmas:
		return "Karras"
	case c.UseExponentialSigmas:
		return "Exponential"
	case c.UseBetaSigmas:
		return "Beta"
	}
	return ""
}
