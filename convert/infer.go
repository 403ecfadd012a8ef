package convert

import (
	"fmt"
	"regexp"
	"strconv"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Architecture read off a single file's tensors. A single file carries no
// config, so the shapes say what they can: channels per level, resnets per
// level, where attention sits, transformer depth, context width, linear
// or 1×1-conv projections, SDXL's added-embedding width. What shapes
// cannot say follows the published configs: SD 1.x has 8 heads per level,
// SD 2.x and SDXL 64-wide heads (diffusers' attention_head_dim 5/10/20),
// 32 norm groups everywhere.

var transformerBlock = regexp.MustCompile(`^(input_blocks|output_blocks|middle_block)\.(\d+)\.1\.transformer_blocks\.(\d+)\.`)

// inferUNetConfig reads the UNet's architecture from its LDM-named
// weights. headDim > 0 sets heads per level to channels/headDim; 0 keeps
// 8 heads (SD 1.x).
func inferUNetConfig(w map[string]*onnxexport.Tensor, headDim int64) (onnxexport.UNetConfig, error) {
	shape := func(key string, rank int) ([]int64, error) {
		t := w[key]
		if t == nil || len(t.Shape) != rank {
			return nil, fmt.Errorf("%w: UNet weight %s%s is missing or not %d-D", ErrUnsupported, ldmUNet, key, rank)
		}
		return t.Shape, nil
	}
	convIn, err := shape("input_blocks.0.0.weight", 4)
	if err != nil {
		return onnxexport.UNetConfig{}, err
	}
	convOut, err := shape("out.2.weight", 4)
	if err != nil {
		return onnxexport.UNetConfig{}, err
	}
	// input_blocks: 0 is conv_in, level l holds L resnets at
	// 1+l(L+1) … l(L+1)+L and a downsampler at (l+1)(L+1), but the last.
	maxIn, firstOp := 0, -1
	for k := range w {
		m := ldmBlock.FindStringSubmatch(k)
		if m == nil || m[1] != "input_blocks" {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		maxIn = max(maxIn, i)
		if m[3] == "0" && len(m[4]) > 3 && m[4][:3] == "op." && (firstOp < 0 || i < firstOp) {
			firstOp = i
		}
	}
	L := maxIn // one level: every input block is a resnet
	if firstOp > 0 {
		L = firstOp - 1
	}
	if L < 1 {
		return onnxexport.UNetConfig{}, fmt.Errorf("%w: no UNet input blocks", ErrUnsupported)
	}
	levels := (maxIn-L)/(L+1) + 1
	c := onnxexport.UNetConfig{
		InChannels: convIn[1], OutChannels: convOut[0], SampleSize: 64, LayersPerBlock: L,
		NormGroups: 32, NormEps: 1e-5, FlipSinToCos: true,
	}
	depth := map[string]int{} // "input_blocks.I" → transformer blocks
	for k := range w {
		if m := transformerBlock.FindStringSubmatch(k); m != nil {
			n, _ := strconv.Atoi(m[3])
			depth[m[1]+"."+m[2]] = max(depth[m[1]+"."+m[2]], n+1)
		}
	}
	for l := range levels {
		first := 1 + l*(L+1)
		out, err := shape(fmt.Sprintf("input_blocks.%d.0.out_layers.3.weight", first), 4)
		if err != nil {
			return c, err
		}
		ch := out[0]
		c.BlockOutChannels = append(c.BlockOutChannels, ch)
		d := depth[fmt.Sprintf("input_blocks.%d", first)]
		if d > 0 {
			c.DownBlockTypes = append(c.DownBlockTypes, onnxexport.CrossAttnDownBlock2D)
		} else {
			c.DownBlockTypes = append(c.DownBlockTypes, onnxexport.DownBlock2D)
		}
		c.TransformerLayers = append(c.TransformerLayers, max(d, 1))
		heads := int64(8)
		if headDim > 0 {
			heads = max(ch/headDim, 1)
		}
		c.AttentionHeads = append(c.AttentionHeads, heads)
		if w[fmt.Sprintf("output_blocks.%d.1.proj_in.weight", l*(L+1))] != nil {
			c.UpBlockTypes = append(c.UpBlockTypes, onnxexport.CrossAttnUpBlock2D) // up level l, deepest first
		} else {
			c.UpBlockTypes = append(c.UpBlockTypes, onnxexport.UpBlock2D)
		}
		if d > 0 {
			k, err := shape(fmt.Sprintf("input_blocks.%d.1.transformer_blocks.0.attn2.to_k.weight", first), 2)
			if err != nil {
				return c, err
			}
			c.CrossAttentionDim = k[1]
			p := w[fmt.Sprintf("input_blocks.%d.1.proj_in.weight", first)]
			c.LinearProjection = p != nil && len(p.Shape) == 2
		}
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("convert: inferred UNet: %w", err)
	}
	return c, nil
}

// inferVAEConfig reads the AutoencoderKL's architecture from its LDM-named
// weights.
func inferVAEConfig(w map[string]*onnxexport.Tensor, scaling float64) (onnxexport.VAEConfig, error) {
	c := onnxexport.VAEConfig{NormGroups: 32, SampleSize: 512, ScalingFactor: scaling}
	in, out, post := w["encoder.conv_in.weight"], w["decoder.conv_out.weight"], w["post_quant_conv.weight"]
	if in == nil || out == nil || post == nil || len(in.Shape) != 4 || len(out.Shape) != 4 || len(post.Shape) != 4 {
		return c, fmt.Errorf("%w: VAE conv_in, conv_out or post_quant_conv missing", ErrUnsupported)
	}
	c.InChannels, c.OutChannels, c.LatentChannels = in.Shape[1], out.Shape[0], post.Shape[0]
	for l := 0; ; l++ {
		t := w[fmt.Sprintf("encoder.down.%d.block.0.conv1.weight", l)]
		if t == nil {
			break
		}
		c.BlockOutChannels = append(c.BlockOutChannels, t.Shape[0])
	}
	for w[fmt.Sprintf("encoder.down.0.block.%d.conv1.weight", c.LayersPerBlock)] != nil {
		c.LayersPerBlock++
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("convert: inferred VAE: %w", err)
	}
	return c, nil
}

// inferCLIPConfig reads a text encoder's architecture from its
// transformers-named weights; heads are 64 wide, as in every CLIP and
// OpenCLIP text tower SD uses.
func inferCLIPConfig(w map[string]*onnxexport.Tensor, act string) (onnxexport.CLIPTextConfig, error) {
	tok, pos, fc1 := w["text_model.embeddings.token_embedding.weight"], w["text_model.embeddings.position_embedding.weight"],
		w["text_model.encoder.layers.0.mlp.fc1.weight"]
	if tok == nil || pos == nil || fc1 == nil || len(tok.Shape) != 2 || len(pos.Shape) != 2 || len(fc1.Shape) != 2 {
		return onnxexport.CLIPTextConfig{}, fmt.Errorf("%w: text encoder embeddings or first layer missing", ErrUnsupported)
	}
	c := onnxexport.CLIPTextConfig{
		VocabSize: tok.Shape[0], HiddenSize: tok.Shape[1], IntermediateSize: fc1.Shape[0],
		NumHeads: max(tok.Shape[1]/64, 1), MaxPositionEmbeddings: pos.Shape[0], HiddenAct: act, LayerNormEps: 1e-5,
		BOSTokenID: tok.Shape[0] - 2, EOSTokenID: tok.Shape[0] - 1,
	}
	for w[fmt.Sprintf("text_model.encoder.layers.%d.mlp.fc1.weight", c.NumLayers)] != nil {
		c.NumLayers++
	}
	if p := w["text_projection.weight"]; p != nil && len(p.Shape) == 2 {
		c.ProjectionDim = p.Shape[0]
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("convert: inferred text encoder: %w", err)
	}
	return c, nil
}
