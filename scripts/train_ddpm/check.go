package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// checkClassifier prints the exported classifier's accuracy per head on n
// held-out pictures noised to a few timesteps: how much of a prompt it can
// read from x_t, and so how far its gradient can steer the sampler.
func checkClassifier(ctx context.Context, dir string, n, threads int) error {
	sess, err := ort.Open(filepath.Join(dir, "classifier", "model.onnx"), ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer sess.Close()
	ac := alphasCumprod()
	pics := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}
	per := 3 * imageSize * imageSize
	x0 := make([]float32, per)
	xt := make([]float32, n*per)
	labels := make([]float32, n*labelSize)
	for _, t := range []int{0, 100, 300, 500, 700, 900} {
		rng := rand.New(rand.NewPCG(uint64(t), 7))
		for i := range n {
			s, err := pics.Sample(i)
			if err != nil {
				return err
			}
			imageToCHW(s.Image.Pix, s.Image.Stride, x0)
			a, sd := sqrtAC(ac[t])
			for k, v := range x0 {
				xt[i*per+k] = float32(a*float64(v) + sd*rng.NormFloat64())
			}
			copy(labels[i*labelSize:], shapes.ShapeLabels(s.Scene))
		}
		var logits ort.Tensor
		err := sess.Run(ctx, map[string]ort.Tensor{
			"sample":   {Shape: []int64{int64(n), 3, imageSize, imageSize}, F32: xt},
			"timestep": {Shape: []int64{}, F32: []float32{float32(t)}},
			"labels":   {Shape: []int64{int64(n), labelSize}, F32: labels},
		}, map[string]*ort.Tensor{"logits": &logits})
		if err != nil {
			return err
		}
		line := fmt.Sprintf("t=%3d:", t)
		off := 0
		for _, h := range shapes.ShapeLabelHeads {
			right, total := 0, 0
			for i := range n {
				row := logits.F32[i*labelSize+off : i*labelSize+off+h.Classes]
				want := labels[i*labelSize+off : i*labelSize+off+h.Classes]
				best := 0
				for k := range row {
					if row[k] > row[best] {
						best = k
					}
				}
				has := false
				for _, v := range want {
					has = has || v == 1
				}
				if has {
					total++
					if want[best] == 1 {
						right++
					}
				}
			}
			line += fmt.Sprintf(" %s %5.1f%% (of %d)", h.Name, 100*float64(right)/float64(max(total, 1)), total)
			off += h.Classes
		}
		fmt.Println(line)
	}
	return nil
}

// checkDenoiser prints the exported UNet's ε mean squared error on n
// held-out pictures noised to a few timesteps, with their captions read
// by the exported text encoder: the training loss, measured through the
// files the pipeline runs.
func checkDenoiser(ctx context.Context, dir string, n, threads int) error {
	hidden, _, err := heldOutHidden(ctx, dir, n, threads)
	if err != nil {
		return err
	}
	sess, err := ort.Open(filepath.Join(dir, "unet", "model.onnx"), ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer sess.Close()
	ac := alphasCumprod()
	pics := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}
	per := 3 * imageSize * imageSize
	x0 := make([]float32, per)
	xt := make([]float32, per)
	eps := make([]float32, per)
	for _, t := range []int{10, 100, 300, 500, 700, 900} {
		rng := rand.New(rand.NewPCG(uint64(t), 9))
		var sum float64
		for i := range n {
			s, err := pics.Sample(i)
			if err != nil {
				return err
			}
			imageToCHW(s.Image.Pix, s.Image.Stride, x0)
			noiseAt(rng, ac, t, x0, xt, eps)
			var out ort.Tensor
			err = sess.Run(ctx, map[string]ort.Tensor{
				"sample":                {Shape: []int64{1, 3, imageSize, imageSize}, F32: xt},
				"timestep":              {Shape: []int64{}, F32: []float32{float32(t)}},
				"encoder_hidden_states": {Shape: []int64{1, contextLength, textWidth}, F32: hidden[i*contextLength*textWidth : (i+1)*contextLength*textWidth]},
			}, map[string]*ort.Tensor{"out_sample": &out})
			if err != nil {
				return err
			}
			for k, v := range out.F32 {
				d := float64(v - eps[k])
				sum += d * d
			}
		}
		fmt.Printf("t=%3d: ε MSE %.4f\n", t, sum/float64(n*per))
	}
	return nil
}
