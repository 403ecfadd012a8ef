package convert

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/safetensors"
)

// Tiny SD 2.x- and SDXL-structured architectures whose every setting a
// single file's shapes and the published rules (64-wide heads, 32 norm
// groups) reproduce, so a config read off the file equals the one built.
func tinySD2() onnxexport.SDConfig {
	return onnxexport.SDConfig{
		Text: onnxexport.CLIPTextConfig{
			VocabSize: onnxexport.TinyVocabSize(), HiddenSize: 128, IntermediateSize: 96, NumLayers: 3, NumHeads: 2,
			MaxPositionEmbeddings: 77, HiddenAct: "gelu", LayerNormEps: 1e-5,
			BOSTokenID: onnxexport.TinyVocabSize() - 2, EOSTokenID: onnxexport.TinyVocabSize() - 1,
		},
		UNet: onnxexport.UNetConfig{
			InChannels: 4, OutChannels: 4, SampleSize: 96, BlockOutChannels: []int64{64, 128},
			DownBlockTypes: []string{onnxexport.CrossAttnDownBlock2D, onnxexport.DownBlock2D},
			UpBlockTypes:   []string{onnxexport.UpBlock2D, onnxexport.CrossAttnUpBlock2D},
			LayersPerBlock: 1, AttentionHeads: []int64{1, 2}, TransformerLayers: []int{1, 1}, CrossAttentionDim: 128,
			NormGroups: 32, NormEps: 1e-5, LinearProjection: true, FlipSinToCos: true,
		},
		VAE: onnxexport.VAEConfig{InChannels: 3, OutChannels: 3, LatentChannels: 4, BlockOutChannels: []int64{32, 64},
			LayersPerBlock: 1, NormGroups: 32, SampleSize: 512, ScalingFactor: 0.18215},
	}
}

func tinySDXL() onnxexport.SDConfig {
	c := tinySD2()
	c.Text.HiddenSize, c.Text.NumHeads, c.Text.HiddenAct, c.Text.HiddenStates = 64, 1, "quick_gelu", true
	c.Text2 = c.Text
	c.Text2.HiddenAct, c.Text2.NumLayers, c.Text2.ProjectionDim = "gelu", 2, 32
	c.UNet = onnxexport.UNetConfig{
		InChannels: 4, OutChannels: 4, SampleSize: 128, BlockOutChannels: []int64{64, 128},
		DownBlockTypes: []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D},
		UpBlockTypes:   []string{onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D},
		LayersPerBlock: 1, AttentionHeads: []int64{1, 2}, TransformerLayers: []int{1, 2}, CrossAttentionDim: 128,
		NormGroups: 32, NormEps: 1e-5, LinearProjection: true, FlipSinToCos: true,
		AdditionTimeEmbedDim: 8, TextEmbedDim: 32,
	}
	c.VAE.ScalingFactor = 0.13025
	return c
}

// randomCheckpoint is a checkpoint of cfg with the builders' random
// weights, by diffusers name.
func randomCheckpoint(t *testing.T, cfg onnxexport.SDConfig) *Checkpoint {
	t.Helper()
	ck := &Checkpoint{Config: cfg, Weights: map[string]map[string]*onnxexport.Tensor{}, Files: map[string][]byte{}}
	builders := []struct {
		component string
		b         *onnxexport.Builder
	}{
		{"unet", onnxexport.NewUNetGraph(cfg.UNet, 1)}, {"vae", onnxexport.NewVAEDecoderGraph(cfg.VAE, 2)},
		{"vae", onnxexport.NewVAEEncoderGraph(cfg.VAE, 3)}, {"text_encoder", onnxexport.NewCLIPTextGraph(cfg.Text, 4)},
	}
	if cfg.Text2.NumLayers > 0 {
		builders = append(builders, struct {
			component string
			b         *onnxexport.Builder
		}{"text_encoder_2", onnxexport.NewCLIPTextGraph(cfg.Text2, 5)})
	}
	for _, c := range builders {
		if err := c.b.Err(); err != nil {
			t.Fatal(err)
		}
		if ck.Weights[c.component] == nil {
			ck.Weights[c.component] = map[string]*onnxexport.Tensor{}
		}
		for _, p := range c.b.Params() {
			ck.Weights[c.component][p.Name] = p.Tensor
		}
	}
	return ck
}

func writeSingleFile(t *testing.T, path string, sd map[string]*onnxexport.Tensor) {
	t.Helper()
	m := map[string]safetensors.Tensor{}
	for k, v := range sd {
		data, err := v.AsFloat32()
		if err != nil {
			t.Fatal(err)
		}
		m[k] = safetensors.Tensor{Shape: v.Shape, Data: data}
	}
	if err := safetensors.WriteFile(path, m, nil); err != nil {
		t.Fatal(err)
	}
}

func equalTensor(a, b *onnxexport.Tensor) bool {
	x, err1 := a.AsFloat32()
	y, err2 := b.AsFloat32()
	return err1 == nil && err2 == nil && reflect.DeepEqual(a.Shape, b.Shape) && reflect.DeepEqual(x, y)
}

// TestSingleFileSD2AndSDXLRoundTrip writes random SD 2.x- and
// SDXL-structured checkpoints in the single-file layout (OpenCLIP text
// towers: fused in_proj, transposed text_projection; SDXL's conditioner
// prefixes and label_emb) and reads them back: every tensor returns to its
// diffusers name with its shape and values, none is left over or used
// twice, and the architecture read off the shapes equals the one built.
// SD 2.x files carry one more OpenCLIP layer, logit_scale and
// text_projection, which are dropped (SD 2.x conditions on the
// penultimate layer).
func TestSingleFileSD2AndSDXLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tokenizer")
	os.MkdirAll(tok, 0o755)
	os.WriteFile(filepath.Join(tok, "vocab.json"), []byte(`{}`), 0o644)
	os.WriteFile(filepath.Join(tok, "merges.txt"), []byte("#version: 0.2\n"), 0o644)
	for _, tc := range []struct {
		name       string
		cfg        onnxexport.SDConfig
		family     Family
		prediction string
		want       []string // single-file names that must exist
	}{
		{"sd2", tinySD2(), FamilySD2, "v_prediction", []string{
			ldmOpenCLIP + "transformer.resblocks.0.attn.in_proj_weight", ldmOpenCLIP + "transformer.resblocks.2.mlp.c_fc.weight",
			ldmOpenCLIP + "positional_embedding", ldmOpenCLIP + "ln_final.bias",
			ldmUNet + "input_blocks.1.1.proj_in.weight", ldmVAE + "decoder.up.1.block.0.conv1.weight"}},
		{"sdxl", tinySDXL(), FamilySDXL, "epsilon", []string{
			xlText1 + "text_model.encoder.layers.0.self_attn.q_proj.weight", xlText2 + "transformer.resblocks.1.attn.in_proj_bias",
			xlText2 + "text_projection", ldmUNet + "label_emb.0.0.weight", ldmUNet + "label_emb.0.2.bias",
			ldmUNet + "input_blocks.3.1.transformer_blocks.1.attn2.to_k.weight", ldmUNet + "output_blocks.1.2.conv.weight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := randomCheckpoint(t, tc.cfg)
			ldm, err := ToSingleFile(ck)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if ldm[w] == nil {
					t.Errorf("no %s", w)
				}
			}
			total := 0
			for _, sd := range ck.Weights {
				total += len(sd)
			}
			// q, k and v fuse into one in_proj: two fewer names per weight and bias.
			layers := tc.cfg.Text.NumLayers
			if tc.family == FamilySDXL {
				layers = tc.cfg.Text2.NumLayers
			}
			if len(ldm) != total-4*layers {
				t.Errorf("%d single-file names for %d tensors (%d fused OpenCLIP layers)", len(ldm), total, layers)
			}
			if p := ldm[xlText2+"text_projection"]; tc.family == FamilySDXL && (p == nil || !reflect.DeepEqual(p.Shape, []int64{64, 32})) {
				t.Errorf("text_projection %v, want [64 32] (width × projection, OpenCLIP's x·P)", p)
			}
			extra := map[string]*onnxexport.Tensor{}
			if tc.family == FamilySD2 {
				// A real SD 2.x file: the last layer diffusers drops, and
				// the CLIP heads a text encoder does not use.
				last := ldmOpenCLIP + "transformer.resblocks." + strconv.Itoa(layers) + "."
				for k, v := range ldm {
					if rest, ok := strings.CutPrefix(k, ldmOpenCLIP+"transformer.resblocks.0."); ok {
						extra[last+rest] = v
					}
				}
				extra[ldmOpenCLIP+"logit_scale"] = onnxexport.NewFloat32([]int64{}, []float32{4.6})
				extra[ldmOpenCLIP+"text_projection"] = onnxexport.NewFloat32([]int64{128, 128}, make([]float32, 128*128))
			}
			file := map[string]*onnxexport.Tensor{}
			for k, v := range ldm {
				file[k] = v
			}
			for k, v := range extra {
				file[k] = v
			}
			path := filepath.Join(dir, tc.name+".safetensors")
			writeSingleFile(t, path, file)
			back, err := FromSingleFile(path, SingleFileOptions{TokenizerDir: tok})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.cfg
			want.Name = "converted"
			if !reflect.DeepEqual(back.Config, want) {
				t.Errorf("config read off the file:\n%+v\nwant\n%+v", back.Config, want)
			}
			for c, sd := range ck.Weights {
				if len(back.Weights[c]) != len(sd) {
					t.Errorf("%s: %d tensors back, %d went out", c, len(back.Weights[c]), len(sd))
				}
				for k, v := range sd {
					if got := back.Weights[c][k]; got == nil || !equalTensor(got, v) {
						t.Errorf("%s %s did not come back as written", c, k)
					}
				}
			}
			if !strings.Contains(string(back.Files["scheduler/scheduler_config.json"]), `"prediction_type": "`+tc.prediction+`"`) {
				t.Errorf("scheduler config %s, want prediction_type %s", back.Files["scheduler/scheduler_config.json"], tc.prediction)
			}
			// And the way back: the same single-file tensors, less what
			// was dropped.
			again, err := ToSingleFile(back)
			if err != nil {
				t.Fatal(err)
			}
			if len(again) != len(ldm) {
				t.Errorf("%d names the second time, %d the first", len(again), len(ldm))
			}
			for k, v := range ldm {
				if got := again[k]; got == nil || !equalTensor(got, v) {
					t.Errorf("%s changed on the way back", k)
				}
			}
		})
	}
}

// TestSDXLSingleFileGenerates converts one set of random SDXL-structured
// weights twice, from a diffusers folder and from a single file, and runs
// both through the pipeline: the pictures are equal.
func TestSDXLSingleFileGenerates(t *testing.T) {
	testort.Init(t)
	dir := t.TempDir()
	ck := randomCheckpoint(t, tinySDXL())
	// The diffusers folder: safetensors per component, the configs and
	// tokenizers an export writes (diffusers' config.json format).
	ref := filepath.Join(dir, "export")
	if err := Write(ck, ref, Options{}); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "diffusers")
	for component, file := range map[string]string{"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model",
		"text_encoder": "model", "text_encoder_2": "model"} {
		os.MkdirAll(filepath.Join(folder, component), 0o755)
		writeSingleFile(t, filepath.Join(folder, component, file+".safetensors"), ck.Weights[component])
	}
	copies := map[string]string{"unet/config.json": "unet/config.json", "vae_decoder/config.json": "vae/config.json",
		"text_encoder/config.json": "text_encoder/config.json", "text_encoder_2/config.json": "text_encoder_2/config.json",
		"model_index.json": "model_index.json", "scheduler/scheduler_config.json": "scheduler/scheduler_config.json"}
	for _, tk := range []string{"tokenizer", "tokenizer_2"} {
		for _, f := range []string{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"} {
			copies[tk+"/"+f] = tk + "/" + f
		}
	}
	for from, to := range copies {
		b, err := os.ReadFile(filepath.Join(ref, from))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(folder, to)), 0o755)
		if err := os.WriteFile(filepath.Join(folder, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fromFolder, err := FromDiffusers(folder)
	if err != nil {
		t.Fatal(err)
	}
	ldm, err := ToSingleFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, "sdxl.safetensors")
	writeSingleFile(t, single, ldm)
	fromFile, err := FromSingleFile(single, SingleFileOptions{TokenizerDir: filepath.Join(folder, "tokenizer"),
		Tokenizer2Dir: filepath.Join(folder, "tokenizer_2")})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFile.Config, fromFolder.Config) {
		t.Errorf("single-file config\n%+v\ndiffusers config\n%+v", fromFile.Config, fromFolder.Config)
	}
	var pictures [2][]float32
	for i, c := range []*Checkpoint{fromFolder, fromFile} {
		out := filepath.Join(dir, "onnx"+strconv.Itoa(i))
		if err := Write(c, out, Options{}); err != nil {
			t.Fatal(err)
		}
		p, err := pipeline.Load(context.Background(), out, pipeline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Family() != pipeline.FamilySDXL {
			t.Errorf("the conversion loads as %v, want SDXL", p.Family())
		}
		g := 5.0
		res, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red cat"}, Scheduler: "euler",
			Steps: 2, Seed: 7, Guidance: &g, Width: 64, Height: 64})
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		pictures[i] = res.Images
	}
	if len(pictures[0]) == 0 || !reflect.DeepEqual(pictures[0], pictures[1]) {
		t.Errorf("the single-file conversion's picture differs from the diffusers folder's")
	}
	lo, hi := pictures[0][0], pictures[0][0]
	for _, v := range pictures[0] {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi-lo < 1e-3 {
		t.Errorf("a flat picture (%g…%g): the comparison says nothing", lo, hi)
	}
}

// TestSD2SingleFileGenerates converts a random SD 2.x-structured single
// file (with the OpenCLIP layer it drops) and runs it: the export loads as
// SD with v-prediction and draws a picture.
func TestSD2SingleFileGenerates(t *testing.T) {
	testort.Init(t)
	dir := t.TempDir()
	ck := randomCheckpoint(t, tinySD2())
	ref := filepath.Join(dir, "export")
	if err := Write(ck, ref, Options{}); err != nil {
		t.Fatal(err)
	}
	ldm, err := ToSingleFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, "sd2.safetensors")
	writeSingleFile(t, single, ldm)
	back, err := FromSingleFile(single, SingleFileOptions{TokenizerDir: filepath.Join(ref, "tokenizer")})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "onnx")
	if err := Write(back, out, Options{}); err != nil {
		t.Fatal(err)
	}
	sched, err := os.ReadFile(filepath.Join(out, "scheduler", "scheduler_config.json"))
	if err != nil || !strings.Contains(string(sched), `"v_prediction"`) {
		t.Errorf("scheduler config %s (%v), want v_prediction", sched, err)
	}
	p, err := pipeline.Load(context.Background(), out, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Family() != pipeline.FamilySD {
		t.Errorf("the conversion loads as %v, want SD", p.Family())
	}
	res, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red cat"}, Steps: 2, Seed: 7, Width: 64, Height: 64})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := res.Images[0], res.Images[0]
	for _, v := range res.Images {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi-lo < 1e-3 {
		t.Errorf("a flat picture (%g…%g)", lo, hi)
	}
}

// TestPredictionTypeRules: an SDXL file is epsilon unless it holds a
// v_pred key; SingleFileOptions.PredictionType overrides the guess.
func TestPredictionTypeRules(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(`{}`), 0o644)
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"), 0o644)
	ldm, err := ToSingleFile(randomCheckpoint(t, tinySDXL()))
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "xl.safetensors")
	writeSingleFile(t, plain, ldm)
	ldm["v_pred"] = onnxexport.NewFloat32([]int64{}, []float32{0})
	vpred := filepath.Join(dir, "xl-v.safetensors")
	writeSingleFile(t, vpred, ldm)
	for _, tc := range []struct {
		path, override, want string
	}{
		{plain, "", "epsilon"}, {vpred, "", "v_prediction"}, {plain, "v_prediction", "v_prediction"}, {vpred, "epsilon", "epsilon"},
	} {
		ck, err := FromSingleFile(tc.path, SingleFileOptions{TokenizerDir: dir, PredictionType: tc.override})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(ck.Files["scheduler/scheduler_config.json"]); !strings.Contains(got, `"prediction_type": "`+tc.want+`"`) {
			t.Errorf("%s with override %q: scheduler %s, want %s", filepath.Base(tc.path), tc.override, got, tc.want)
		}
	}
}
