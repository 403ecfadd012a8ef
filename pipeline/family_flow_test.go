package pipeline_test

import (
	"context"
	"errors"
	"image"
	"math"
	"testing"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

func heldOutPictures(t *testing.T, n int) ([]image.Image, []string) {
	t.Helper()
	var imgs []image.Image
	var caps []string
	for i := range n {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		imgs, caps = append(imgs, s.Image), append(caps, s.Caption)
	}
	return imgs, caps
}

func TestFlowFamilyGenerate(t *testing.T) {
	p := familytest.Load(t, familytest.WriteFlow)
	if p.Family() != pipeline.FamilyFlow || p.Class() != "ImagegenFlowPipeline" {
		t.Fatalf("family %s class %s, want flow / ImagegenFlowPipeline", p.Family(), p.Class())
	}
	ctx := context.Background()
	req := pipeline.Request{Prompts: []string{"a red circle at the left", "a blue star"}, NumImages: 2, Seed: 7}
	res, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 4 || res.H != 32 || len(res.LatentShape) != 2 || res.LatentShape[1] != 3*32*32 {
		t.Fatalf("got %d images of %dx%d, latents %v; want 4 of 32x32 and [4 3072]", res.N, res.W, res.H, res.LatentShape)
	}
	// The latents are standard normal noise at the model's temperature,
	// and an explicit temperature scales the same noise.
	var sq float64
	for _, v := range res.Latents {
		sq += float64(v) * float64(v)
	}
	if std := math.Sqrt(sq / float64(len(res.Latents))); math.Abs(std-familytest.FlowTemperature) > 0.02 {
		t.Errorf("latent std %.3f, want the default temperature %v", std, familytest.FlowTemperature)
	}
	req.Temperature = 0.35
	half, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range half.Latents {
		if want := res.Latents[i] / 2; math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("latent %d at temperature 0.35 is %v, want half of %v", i, v, res.Latents[i])
		}
	}
}

func TestFlowFamilyBadRequests(t *testing.T) {
	p := familytest.Load(t, familytest.WriteFlow)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  pipeline.Request
	}{
		{"negative temperature", pipeline.Request{Prompts: []string{"a red circle"}, Temperature: -1}},
		{"NaN temperature", pipeline.Request{Prompts: []string{"a red circle"}, Temperature: math.NaN()}},
		{"steps", pipeline.Request{Prompts: []string{"a red circle"}, Steps: 20}},
		{"size", pipeline.Request{Prompts: []string{"a red circle"}, Height: 64, Width: 64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Generate(ctx, tc.req); !errors.Is(err, pipeline.ErrBadRequest) {
				t.Fatalf("got %v, want ErrBadRequest", err)
			}
		})
	}
	z := make([]float32, 10)
	if _, err := p.DecodeLatents(ctx, z, []int{1, 10}, nil); !errors.Is(err, pipeline.ErrBadRequest) {
		t.Errorf("latents [1 10]: got %v, want ErrBadRequest", err)
	}
	vae := familytest.Load(t, familytest.WriteVAE)
	if _, err := vae.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Temperature: 0.5}); !errors.Is(err, pipeline.ErrBadRequest) {
		t.Errorf("VAE with a temperature: got %v, want ErrBadRequest", err)
	}
	if _, err := vae.EncodeLatents(ctx, []image.Image{image.NewNRGBA(image.Rect(0, 0, 32, 32))}, nil); !errors.Is(err, pipeline.ErrNotSupported) {
		t.Errorf("VAE EncodeLatents: got %v, want ErrNotSupported", err)
	}
}

// TestFlowFamilyRoundTrip checks that decoding a picture's latent gives
// the picture back, conditioned on its caption or on the empty prompt.
func TestFlowFamilyRoundTrip(t *testing.T) {
	p := familytest.Load(t, familytest.WriteFlow)
	ctx := context.Background()
	imgs, caps := heldOutPictures(t, 3)
	for _, prompts := range [][]string{nil, caps} {
		lat, err := p.EncodeLatents(ctx, imgs, prompts)
		if err != nil {
			t.Fatal(err)
		}
		if len(lat.Shape) != 2 || lat.Shape[0] != 3 || lat.Shape[1] != 3*32*32 || len(lat.LogDet) != 3 {
			t.Fatalf("latents %v with %d log-determinants, want [3 3072] and 3", lat.Shape, len(lat.LogDet))
		}
		res, err := p.DecodeLatents(ctx, lat.Values, lat.Shape, prompts)
		if err != nil {
			t.Fatal(err)
		}
		for i, img := range imgs {
			nrgba := img.(*image.NRGBA)
			for y := range 32 {
				for x := range 32 {
					for c := range 3 {
						want := float64(nrgba.Pix[y*nrgba.Stride+4*x+c]) / 255
						got := float64(res.Images[((i*32+y)*32+x)*3+c])
						if math.Abs(got-want) > 1e-4 {
							t.Fatalf("prompts %q: picture %d (%d,%d) channel %d: %v after the round trip, want %v", prompts, i, x, y, c, got, want)
						}
					}
				}
			}
		}
	}
}

// TestFlowFamilyLikelihood checks the dequantized bits/dim against the
// exact log-density at the pictures' own values (the tiny flow's density
// barely changes within a bin): −(log p(x) + D·log(2/256))/(D ln 2).
func TestFlowFamilyLikelihood(t *testing.T) {
	p := familytest.Load(t, familytest.WriteFlow)
	ctx := context.Background()
	imgs, caps := heldOutPictures(t, 2)
	one, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if one.ELBOBitsPerDim != one.IWAEBitsPerDim {
		t.Errorf("one sample: bounds %v and %v differ", one.ELBOBitsPerDim, one.IWAEBitsPerDim)
	}
	many, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 16, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if many.IWAEBitsPerDim > many.ELBOBitsPerDim {
		t.Errorf("16 samples: IWAE %v above the Jensen bound %v", many.IWAEBitsPerDim, many.ELBOBitsPerDim)
	}
	lat, err := p.EncodeLatents(ctx, imgs, caps)
	if err != nil {
		t.Fatal(err)
	}
	d := lat.Shape[1]
	var want float64
	for i := range imgs {
		lp := float64(lat.LogDet[i])
		for _, e := range lat.Values[i*d : (i+1)*d] {
			lp += -0.5*float64(e)*float64(e) - 0.5*math.Log(2*math.Pi)
		}
		want += -(lp + float64(d)*math.Log(2.0/256)) / (float64(d) * math.Ln2) / float64(len(imgs))
	}
	if math.Abs(many.ELBOBitsPerDim-want) > 0.01 {
		t.Errorf("bits/dim %.4f, want %.4f (the density at the pictures' values)", many.ELBOBitsPerDim, want)
	}
}
