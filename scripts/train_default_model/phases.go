package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// phaseVocab learns (or reloads) the BPE vocabulary from the captions of
// the first o.captions training seeds.
func phaseVocab(o options) (*shapes.Vocabulary, error) {
	lo, _ := shapes.Train.SeedRange()
	texts := make([]string, o.captions)
	for i := range texts {
		texts[i] = shapes.Caption(lo + uint64(i))
	}
	v, err := shapes.LearnBPE(texts, shapes.BPEOptions{ModelMaxLength: contextLength})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.state, "tokenizer")
	if err := v.WriteDir(dir); err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	longest := 0
	for _, t := range texts {
		longest = max(longest, len(tok.Encode(t)))
	}
	fmt.Printf("vocab: %d tokens (%d merges), longest caption %d tokens of %d\n", len(v.Tokens()), len(v.Merges()), longest, contextLength)
	if longest > contextLength {
		return nil, fmt.Errorf("a caption needs %d tokens, more than the context of %d", longest, contextLength)
	}
	return v, nil
}

// trainPhase runs one resumable phase (package trainrun) with the
// script's state folder, checkpoint interval, seed and threads.
func trainPhase(ctx context.Context, o options, name string, g *onnxexport.TrainGraph, data onnxexport.Dataset, steps int, lr float64, ema bool) (map[string]*onnxexport.Tensor, error) {
	return trainrun.Phase(ctx, trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads}, name, g, data, steps, lr, ema)
}

func phaseVAE(ctx context.Context, o options, cfg onnxexport.VAEConfig) (map[string]*onnxexport.Tensor, error) {
	b, loss := vaeLoss(cfg, o.seed, o.vaeBatch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.99})
	if err != nil {
		return nil, err
	}
	data := pictures{n: o.pictures, data: shapes.Dataset{Split: shapes.Train, Size: imageSize}}
	return trainPhase(ctx, o, "vae", g, data, o.vaeSteps, o.vaeLR, true)
}

// latentSet is the denoiser's training data.
type latentSet struct {
	scale   float64
	latents []float32 // scaled
	ids     []int64
	emptyID []int64
	// hidden and emptyHidden are the frozen text encoder's last hidden
	// states of the captions and of "" (-freeze-text only).
	hidden, emptyHidden []float32
}

// phaseLatents encodes the training pictures with the trained VAE encoder
// (the distribution's mean) and measures the scaling factor 1/std, cached
// in state/latents.bin next to the VAE checkpoint it came from.
func phaseLatents(ctx context.Context, o options, cfg onnxexport.VAEConfig, w map[string]*onnxexport.Tensor) (*latentSet, error) {
	lat := latentSize
	per := int(cfg.LatentChannels) * lat * lat
	cache := filepath.Join(o.state, fmt.Sprintf("latents-%d-%d.bin", o.pictures, o.vaeSteps))
	raw := make([]float32, o.pictures*per)
	if f, err := os.Open(cache); err == nil {
		err = binary.Read(f, binary.LittleEndian, raw)
		f.Close()
		if err != nil {
			return nil, err
		}
	} else {
		b := onnxexport.NewVAEEncoderGraph(cfg, o.seed)
		if err := b.LoadParams(w); err != nil {
			return nil, err
		}
		m, err := b.Build()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(o.state, "vae_encoder.onnx")
		if err := onnxexport.Save(path, m); err != nil {
			return nil, err
		}
		sess, err := ort.Open(path, ort.Options{IntraOpThreads: o.threads})
		if err != nil {
			return nil, err
		}
		defer sess.Close()
		const batch = 100
		ds := shapes.Dataset{Split: shapes.Train, Size: imageSize}
		in := make([]float32, batch*3*imageSize*imageSize)
		out := make([]float32, batch*2*per)
		for i0 := 0; i0 < o.pictures; i0 += batch {
			n := min(batch, o.pictures-i0)
			for k := range n {
				s, err := ds.Sample(i0 + k)
				if err != nil {
					return nil, err
				}
				imageToCHW(s.Image.Pix, s.Image.Stride, imageSize, in[k*3*imageSize*imageSize:])
			}
			err := sess.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(n), 3, imageSize, imageSize}, F32: in[:n*3*imageSize*imageSize]}},
				map[string]*ort.Tensor{"latent_parameters": {Shape: []int64{int64(n), 2 * cfg.LatentChannels, int64(lat), int64(lat)}, F32: out[:n*2*per]}})
			if err != nil {
				return nil, err
			}
			for k := range n {
				copy(raw[(i0+k)*per:(i0+k+1)*per], out[k*2*per:k*2*per+per]) // the mean
			}
		}
		f, err := os.Create(cache)
		if err != nil {
			return nil, err
		}
		err = binary.Write(f, binary.LittleEndian, raw)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	var sum, sq float64
	for _, v := range raw {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(raw))
	std := math.Sqrt(sq/n - (sum/n)*(sum/n))
	set := &latentSet{scale: 1 / std, latents: raw}
	for i := range raw {
		raw[i] *= float32(set.scale)
	}
	tok, err := tokenizer.Load(filepath.Join(o.state, "tokenizer"))
	if err != nil {
		return nil, err
	}
	lo, _ := shapes.Train.SeedRange()
	set.ids = make([]int64, 0, o.pictures*contextLength)
	for i := range o.pictures {
		set.ids = append(set.ids, encodeIDs(tok, shapes.Caption(lo+uint64(i)))...)
	}
	set.emptyID = encodeIDs(tok, "")
	return set, nil
}

// phaseDenoiser trains the UNet under the checkpoint name o.unetName:
// on the frozen pretrained text encoder textW with -freeze-text (its
// hidden states computed once), else jointly with the text encoder. A
// fresh run starts from the random initialization, overlaid with the
// matching weights of state/<o.unetFrom>.ckpt (an earlier denoiser run)
// when set, and then, when training jointly, with textW when the text
// phase ran. The weights returned hold the text encoder's either way.
func phaseDenoiser(ctx context.Context, o options, cfg onnxexport.SDConfig, lat *latentSet, textW map[string]*onnxexport.Tensor) (map[string]*onnxexport.Tensor, error) {
	if o.freezeText {
		if textW == nil {
			return nil, fmt.Errorf("-freeze-text needs the text phase (-text-steps > 0)")
		}
		start := time.Now()
		var err error
		if lat.hidden, lat.emptyHidden, err = textHidden(ctx, o, cfg.Text, textW, lat); err != nil {
			return nil, err
		}
		fmt.Printf("%s: hidden states of %d captions from the frozen text encoder in %s\n", o.unetName, len(lat.ids)/contextLength, time.Since(start).Round(time.Second))
	}
	b, loss := denoiserLoss(cfg, o.seed, o.unetBatch, o.freezeText)
	fresh := true
	if _, err := os.Stat(filepath.Join(o.state, o.unetName+".ckpt")); err == nil {
		fresh = false
	}
	if fresh && (o.unetFrom != "" || textW != nil) {
		init := map[string]*onnxexport.Tensor{}
		for _, p := range b.Params() {
			init[p.Name] = p.Tensor
		}
		if o.unetFrom != "" {
			prev, err := onnxexport.ReadCheckpointWeights(filepath.Join(o.state, o.unetFrom+".ckpt"))
			if err != nil {
				return nil, err
			}
			taken, zeroed := growIdentity(init, prev)
			fmt.Printf("%s: starts from the weights of %s (%d of %d tensors; %d new output projections zeroed, the rest new)\n", o.unetName, o.unetFrom, taken, len(init), zeroed)
		}
		n := 0
		for k, v := range textW {
			if _, ok := init[k]; ok && strings.HasPrefix(k, "text_model.") {
				init[k] = v
				n++
			}
		}
		if n > 0 {
			fmt.Printf("%s: text encoder from the text phase (%d tensors)\n", o.unetName, n)
		}
		// A new builder: LoadParams replaces the initializers of the graph
		// the training graph is made from.
		b, loss = denoiserLoss(cfg, o.seed, o.unetBatch, o.freezeText)
		if err := b.LoadParams(init); err != nil {
			return nil, err
		}
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
	if err != nil {
		return nil, err
	}
	data := denoiserData(o, cfg, lat)
	// The average starts at the random initial weights, and 0.999^steps of
	// them is still in it after a few thousand steps (37% after 1000), so
	// the export takes the weights themselves, which the cosine schedule
	// has already annealed.
	w, err := trainPhase(ctx, o, o.unetName, g, data, o.unetSteps, o.unetLR, false)
	if errors.Is(err, onnxexport.ErrDatasetLength) {
		// -unet-repeat-star sets the epoch's length.
		err = fmt.Errorf("%w (resume and export a run with the -unet-repeat-star it started with; now %d)", err, o.repeatStar)
	}
	if err != nil || !o.freezeText {
		return w, err
	}
	for k, v := range textW {
		if strings.HasPrefix(k, "text_model.") {
			w[k] = v
		}
	}
	return w, nil
}

// growIdentity overlays init with the tensors of prev that match by name
// and shape, and zeroes the new attention blocks' output projections
// (proj_out), so that a network grown by attention blocks starts as the
// function prev computed: each new block then adds nothing to its
// residual until training gives it something to add. It returns how
// many tensors came from prev and how many were zeroed.
func growIdentity(init, prev map[string]*onnxexport.Tensor) (taken, zeroed int) {
	for k, p := range init {
		if v, ok := prev[k]; ok && slices.Equal(p.Shape, v.Shape) {
			init[k] = v
			taken++
			continue
		}
		if strings.Contains(k, ".proj_out.") {
			init[k] = onnxexport.NewFloat32(p.Shape, make([]float32, p.NumElements()))
			zeroed++
		}
	}
	return taken, zeroed
}

// textHidden runs the text encoder with weights w over the captions of
// lat (and over ""), returning their last hidden states.
func textHidden(ctx context.Context, o options, cfg onnxexport.CLIPTextConfig, w map[string]*onnxexport.Tensor, lat *latentSet) (hidden, empty []float32, err error) {
	b := onnxexport.NewCLIPTextGraph(cfg, o.seed)
	if err := b.LoadParams(w); err != nil {
		return nil, nil, err
	}
	m, err := b.Build()
	if err != nil {
		return nil, nil, err
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	sess, err := ort.OpenBytes("text_encoder", data, ort.Options{IntraOpThreads: o.threads})
	if err != nil {
		return nil, nil, err
	}
	defer sess.Close()
	per := contextLength * int(cfg.HiddenSize)
	run := func(ids []int64, dst []float32) error {
		n := len(ids) / contextLength
		out := map[string]*ort.Tensor{"last_hidden_state": {Shape: []int64{int64(n), contextLength, cfg.HiddenSize}, F32: dst}}
		return sess.Run(ctx, map[string]ort.Tensor{"input_ids": {Shape: []int64{int64(n), contextLength}, I64: ids}}, out)
	}
	n := len(lat.ids) / contextLength
	hidden = make([]float32, n*per)
	const batch = 500
	for i := 0; i < n; i += batch {
		j := min(n, i+batch)
		if err := run(lat.ids[i*contextLength:j*contextLength], hidden[i*per:j*per]); err != nil {
			return nil, nil, err
		}
	}
	empty = make([]float32, per)
	if err := run(lat.emptyID, empty); err != nil {
		return nil, nil, err
	}
	return hidden, empty, nil
}

// denoiserData is the denoiser's dataset over the cached latents.
func denoiserData(o options, cfg onnxexport.SDConfig, lat *latentSet) *noisedLatents {
	s := int(cfg.UNet.SampleSize)
	d := &noisedLatents{latents: lat.latents, ids: lat.ids, emptyID: lat.emptyID, hidden: lat.hidden, emptyHidden: lat.emptyHidden, per: int(cfg.UNet.InChannels) * s * s, ac: ddpmAlphasCumprod(),
		vPred: o.prediction == "v_prediction", gamma: o.minSNR}
	if o.repeatStar > 1 {
		lo, _ := shapes.Train.SeedRange()
		n := len(lat.ids) / contextLength
		d.order = repeatOrder(n, o.repeatStar, func(i int) bool {
			return strings.Contains(shapes.Caption(lo+uint64(i)), "star")
		})
		fmt.Fprintf(os.Stderr, "denoiser: %d pictures, %d examples an epoch with star captions %d times\n", n, len(d.order), o.repeatStar)
	}
	return d
}
