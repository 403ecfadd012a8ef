package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/tokenizer"
	"google.golang.org/protobuf/proto"
)

// transformerConfig is transformer/config.json (the pipeline's
// vqgptConfig plus the figures a reader wants).
type transformerConfig struct {
	ModelType     string  `json:"model_type"`
	Layers        int     `json:"num_hidden_layers"`
	Heads         int64   `json:"num_attention_heads"`
	HeadDim       int64   `json:"head_dim"`
	HiddenSize    int64   `json:"hidden_size"`
	TextLength    int     `json:"text_length"`
	TextVocabSize int     `json:"text_vocab_size"`
	CodebookSize  int     `json:"codebook_size"`
	LatentSize    [2]int  `json:"latent_size"`
	MaxPositions  int     `json:"max_position_embeddings"`
	Temperature   float64 `json:"temperature"`
	TopK          int     `json:"top_k"`
	TopP          float64 `json:"top_p"`
	Parameters    int64   `json:"parameters"`
}

// Sampling defaults written into the folder.
const (
	defaultGuidance    = 3.0
	defaultTemperature = 1.0
	defaultTopK        = 0
	defaultTopP        = 1.0
)

// exportAndCheck writes the float32 folder to the state folder and checks
// the cached graph against the plain forward pass there, then (with -out)
// writes the float16 folder and checks it the same way.
func exportAndCheck(ctx context.Context, o options, a arch, w map[string]*onnxexport.Tensor, tok tokenizer.Tokenizer) error {
	f32 := filepath.Join(o.state, o.name+"-float32")
	if err := export(f32, o, a, w, false); err != nil {
		return err
	}
	d, err := checkCache(ctx, f32, a, w, false, tok)
	if err != nil {
		return err
	}
	fmt.Printf("float32: cached vs plain logits, max |diff| %.3g over every position of 4 sequences\n", d)
	if err := export(o.out, o, a, w, true); err != nil {
		return err
	}
	if d, err = checkCache(ctx, o.out, a, w, true, tok); err != nil {
		return err
	}
	fmt.Printf("exported %s; float16: cached vs plain logits, max |diff| %.3g\n", o.out, d)
	return nil
}

// export writes the vqgpt folder: model_index.json, transformer/ (the
// cached graph and its config), vq_decoder/ and tokenizer/ copied from
// their folders. out is replaced as a whole, through a temporary folder.
func export(out string, o options, a arch, w map[string]*onnxexport.Tensor, half bool) error {
	tmp := filepath.Clean(out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	index := map[string]any{
		"_class_name":       "ImagegenVQGPTPipeline",
		"_imagegen_family":  "vqgpt",
		"transformer":       []string{"imagegen", "VQGPTTransformer"},
		"vq_decoder":        []string{"imagegen", "VQDecoder"},
		"tokenizer":         []string{"transformers", "CLIPTokenizer"},
		"imagegen_defaults": map[string]any{"height": imageSize, "width": imageSize, "guidance": defaultGuidance},
	}
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), index); err != nil {
		return err
	}
	b := onnxexport.NewGPTCachedGraph(a.gpt())
	if err := b.LoadParams(w); err != nil {
		return fmt.Errorf("transformer: %w", err)
	}
	b.SetMetadata("imagegen.component", "transformer")
	b.SetMetadata("imagegen.trained_by", "scripts/train_vqgpt")
	var opts []onnxexport.BuildOption
	if half {
		opts = append(opts, onnxexport.WithFloat16Weights())
	}
	m, err := b.Build(opts...)
	if err != nil {
		return fmt.Errorf("transformer: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "transformer"), 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(tmp, "transformer", "model.onnx"), m); err != nil {
		return err
	}
	cfg := transformerConfig{ModelType: "imagegen_vqgpt", Layers: a.layers, Heads: a.heads, HeadDim: a.gpt().HeadDim(), HiddenSize: a.width,
		TextLength: textLen, TextVocabSize: textVocab, CodebookSize: codebookSize, LatentSize: [2]int{gridSide, gridSide},
		MaxPositions: seqLen, Temperature: defaultTemperature, TopK: defaultTopK, TopP: defaultTopP, Parameters: b.NumParams()}
	if err := jsonfile.Write(filepath.Join(tmp, "transformer", "config.json"), cfg); err != nil {
		return err
	}
	for _, c := range []struct{ from, to string }{
		{filepath.Join(o.vqvae, "vq_decoder"), "vq_decoder"},
		{o.tokenizer, "tokenizer"},
	} {
		if err := copyFolder(c.from, filepath.Join(tmp, c.to)); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// copyFolder copies the files of one flat folder.
func copyFolder(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			return fmt.Errorf("copy %s: unexpected folder %s", from, e.Name())
		}
		raw, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeJSON writes v indented, with a final newline, making the folder.

// checkCache feeds 4 sequences (held-out-style captions with random codes
// after them) to the exported folder's cached graph one token at a time
// after the text, and to the plain graph with weights w (stored as
// float16 when half is set, as in the folder) in one pass, and returns
// the largest |difference| of their logits over every position.
func checkCache(ctx context.Context, dir string, a arch, w map[string]*onnxexport.Tensor, half bool, tok tokenizer.Tokenizer) (float64, error) {
	const batch = 4
	rng := rand.New(rand.NewPCG(7, 7))
	ids := make([]int64, batch*seqLen)
	for r, prompt := range []string{"a red circle", "a small blue star at the top left", "", "a green heart above a yellow square"} {
		t, err := textIDs(tok, prompt)
		if err != nil {
			return 0, err
		}
		copy(ids[r*seqLen:], t)
		for k := textLen; k < seqLen; k++ {
			ids[r*seqLen+k] = textVocab + int64(rng.IntN(codebookSize))
		}
	}
	pb := onnxexport.NewGPTGraph(a.gpt(), seqLen)
	if err := pb.LoadParams(w); err != nil {
		return 0, err
	}
	var opts []onnxexport.BuildOption
	if half {
		opts = append(opts, onnxexport.WithFloat16Weights())
	}
	m, err := pb.Build(opts...)
	if err != nil {
		return 0, err
	}
	raw, err := proto.Marshal(m)
	if err != nil {
		return 0, err
	}
	plain, err := ort.OpenBytes("plain", raw, ort.Options{IntraOpThreads: 1})
	if err != nil {
		return 0, err
	}
	defer plain.Close()
	want := map[string]*ort.Tensor{"logits": {}}
	if err := plain.Run(ctx, map[string]ort.Tensor{"input_ids": {Shape: []int64{batch, seqLen}, I64: ids}}, want); err != nil {
		return 0, err
	}
	cached, err := ort.Open(filepath.Join(dir, "transformer", "model.onnx"), ort.Options{IntraOpThreads: 1})
	if err != nil {
		return 0, err
	}
	defer cached.Close()
	h, d := a.heads, a.gpt().HeadDim()
	past := make([][]float32, 2*a.layers)
	worst := 0.0
	for start := 0; start < seqLen; {
		seq := 1
		if start == 0 {
			seq = textLen
		}
		in := map[string]ort.Tensor{}
		step := make([]int64, 0, batch*seq)
		pos := make([]int64, 0, batch*seq)
		for r := range batch {
			step = append(step, ids[r*seqLen+start:r*seqLen+start+seq]...)
			for j := range seq {
				pos = append(pos, int64(start+j))
			}
		}
		mask := make([]int64, batch*(start+seq))
		for i := range mask {
			mask[i] = 1
		}
		in["input_ids"] = ort.Tensor{Shape: []int64{batch, int64(seq)}, I64: step}
		in["position_ids"] = ort.Tensor{Shape: []int64{batch, int64(seq)}, I64: pos}
		in["attention_mask"] = ort.Tensor{Shape: []int64{batch, int64(start + seq)}, I64: mask}
		out := map[string]*ort.Tensor{"logits": {}}
		for i := range a.layers {
			for j, kv := range []string{"key", "value"} {
				p := past[2*i+j]
				if p == nil {
					p = []float32{}
				}
				in[fmt.Sprintf("past_key_values.%d.%s", i, kv)] = ort.Tensor{Shape: []int64{batch, h, int64(start), d}, F32: p}
				out[fmt.Sprintf("present.%d.%s", i, kv)] = &ort.Tensor{}
			}
		}
		if err := cached.Run(ctx, in, out); err != nil {
			return 0, err
		}
		for i := range a.layers {
			past[2*i] = out[fmt.Sprintf("present.%d.key", i)].F32
			past[2*i+1] = out[fmt.Sprintf("present.%d.value", i)].F32
		}
		got := out["logits"].F32
		for r := range batch {
			for j := range seq {
				for v := range codebookSize {
					g := got[(r*seq+j)*codebookSize+v]
					x := want["logits"].F32[(r*seqLen+start+j)*codebookSize+v]
					worst = math.Max(worst, math.Abs(float64(g-x)))
				}
			}
		}
		start += seq
	}
	return worst, nil
}
