package main

import (
	"context"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// probe times a few training steps of the denoiser and of the classifier.
func probe(ctx context.Context, o options) error {
	pics := shapes.Dataset{Split: shapes.Train, Size: imageSize}
	hidden, empty, err := captionHidden(ctx, o.base, 100, o.threads)
	if err != nil {
		return err
	}
	b, loss := denoiserLoss(unetConfig(), o.seed, o.batch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1})
	if err != nil {
		return err
	}
	den := &noisedPictures{pics: pics, hidden: hidden, emptyHidden: empty, ac: alphasCumprod()}
	if err := trainrun.Probe(ctx, trainOptions(o), "denoiser", g, den, 5, o.lr, nil); err != nil {
		return err
	}
	b, loss = classifierLoss(o.seed, o.clsBatch)
	if g, err = onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1}); err != nil {
		return err
	}
	cls := &noisedScenes{pics: pics, n: 1000, ac: alphasCumprod()}
	return trainrun.Probe(ctx, trainOptions(o), "classifier", g, cls, 5, o.clsLR, nil)
}
