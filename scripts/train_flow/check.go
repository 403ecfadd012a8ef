package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// checkRoundTrip measures an exported folder's inverse: the largest
// |decode(encode(x)) − x| over n held-out pictures (the values the
// pipeline feeds, v/127.5 − 1, before any 8-bit quantization), and the
// encoder's and decoder's time per picture at batch 1.
func checkRoundTrip(ctx context.Context, dir string, n, threads int) error {
	opts := ort.Options{IntraOpThreads: threads}
	enc, err := ort.Open(filepath.Join(dir, "flow_encoder", "model.onnx"), opts)
	if err != nil {
		return err
	}
	defer enc.Close()
	dec, err := ort.Open(filepath.Join(dir, "flow_decoder", "model.onnx"), opts)
	if err != nil {
		return err
	}
	defer dec.Close()
	const d = 3 * imageSize * imageSize
	var worst, sumAbs float64
	var encTime, decTime time.Duration
	for i := range n {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}.Sample(i)
		if err != nil {
			return err
		}
		x := make([]float32, d)
		for y := range imageSize {
			for xx := range imageSize {
				for c := range 3 {
					x[(c*imageSize+y)*imageSize+xx] = float32(float64(s.Image.Pix[y*s.Image.Stride+4*xx+c])/127.5 - 1)
				}
			}
		}
		cond, err := shapes.Condition(s.Caption)
		if err != nil {
			return err
		}
		start := time.Now()
		out := map[string]*ort.Tensor{outLatent: {}, outLogdet: {}}
		if err := enc.Run(ctx, map[string]ort.Tensor{
			inSample:    {Shape: []int64{1, 3, imageSize, imageSize}, F32: x},
			inCondition: {Shape: []int64{1, shapes.ConditionSize}, F32: cond},
		}, out); err != nil {
			return err
		}
		encTime += time.Since(start)
		start = time.Now()
		back := map[string]*ort.Tensor{outSample: {}}
		if err := dec.Run(ctx, map[string]ort.Tensor{
			inLatent:    {Shape: []int64{1, d}, F32: out[outLatent].F32},
			inCondition: {Shape: []int64{1, shapes.ConditionSize}, F32: cond},
		}, back); err != nil {
			return err
		}
		decTime += time.Since(start)
		for j, v := range back[outSample].F32 {
			e := math.Abs(float64(v) - float64(x[j]))
			worst = max(worst, e)
			sumAbs += e
		}
	}
	fmt.Printf("round trip on %d held-out pictures: max |decode(encode(x)) − x| %.3g, mean %.3g ([-1, 1] units); encoder %s, decoder %s per picture (batch 1, %d threads)\n",
		n, worst, sumAbs/float64(n*d), (encTime / time.Duration(n)).Round(10*time.Microsecond), (decTime / time.Duration(n)).Round(10*time.Microsecond), threads)
	return nil
}
