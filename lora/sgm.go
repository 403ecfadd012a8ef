package lora

import (
	"regexp"
	"strconv"
	"strings"
)

// UNetLayout is what renaming a UNet's original (SGM / LDM) module paths
// to diffusers' needs: kohya's SDXL LoRAs name modules the way Stability's
// code does (input_blocks_4_1_transformer_blocks_0_attn1_to_q), the
// exports diffusers' way (down_blocks.1/attentions.0/...).
type UNetLayout struct {
	LayersPerBlock int
	// DownAttention and UpAttention say which levels have attention
	// (CrossAttnDownBlock2D / CrossAttnUpBlock2D), in diffusers' order.
	DownAttention, UpAttention []bool
}

// NewUNetLayout reads a layout from diffusers' UNet config fields.
func NewUNetLayout(layersPerBlock int, downTypes, upTypes []string) UNetLayout {
	l := UNetLayout{LayersPerBlock: layersPerBlock}
	for _, t := range downTypes {
		l.DownAttention = append(l.DownAttention, strings.HasPrefix(t, "CrossAttn"))
	}
	for _, t := range upTypes {
		l.UpAttention = append(l.UpAttention, strings.HasPrefix(t, "CrossAttn"))
	}
	return l
}

var (
	sgmInput  = regexp.MustCompile(`^input_blocks_(\d+)_(\d+)_(.+)$`)
	sgmMiddle = regexp.MustCompile(`^middle_block_(\d+)_(.+)$`)
	sgmOutput = regexp.MustCompile(`^output_blocks_(\d+)_(\d+)_(.+)$`)
)

// resnetParts renames the layers inside an SGM ResBlock.
var resnetParts = []struct{ sgm, diffusers string }{
	{"in_layers_0", "norm1"}, {"in_layers_2", "conv1"}, {"emb_layers_1", "time_emb_proj"},
	{"out_layers_0", "norm2"}, {"out_layers_3", "conv2"}, {"skip_connection", "conv_shortcut"},
}

// topLevel renames the UNet's modules outside the blocks.
var topLevel = map[string]string{
	"time_embed_0": "time_embedding_linear_1", "time_embed_2": "time_embedding_linear_2",
	"label_emb_0_0": "add_embedding_linear_1", "label_emb_0_2": "add_embedding_linear_2",
	"input_blocks_0_0": "conv_in", "out_0": "conv_norm_out", "out_2": "conv_out",
}

// Diffusers renames an SGM module path (underscored, as kohya writes it)
// to diffusers' (underscored); ok is false for a path that is not SGM's or
// does not fit the layout.
func (l UNetLayout) Diffusers(module string) (string, bool) {
	if d, ok := topLevel[module]; ok {
		return d, true
	}
	L := l.LayersPerBlock
	if L <= 0 {
		return "", false
	}
	resnet := func(prefix, rest string) (string, bool) {
		for _, p := range resnetParts {
			if tail, ok := strings.CutPrefix(rest, p.sgm); ok {
				return prefix + "_" + p.diffusers + tail, true
			}
		}
		return "", false
	}
	if m := sgmInput.FindStringSubmatch(module); m != nil {
		i, _ := strconv.Atoi(m[1])
		sub, rest := m[2], m[3]
		if i == 0 {
			return "", false
		}
		level, j := (i-1)/(L+1), (i-1)%(L+1)
		if level >= len(l.DownAttention) {
			return "", false
		}
		base := "down_blocks_" + strconv.Itoa(level)
		switch {
		case j == L && sub == "0": // downsampler: op → conv
			if tail, ok := strings.CutPrefix(rest, "op"); ok {
				return base + "_downsamplers_0_conv" + tail, true
			}
		case j < L && sub == "0":
			return resnet(base+"_resnets_"+strconv.Itoa(j), rest)
		case j < L && sub == "1" && l.DownAttention[level]:
			return base + "_attentions_" + strconv.Itoa(j) + "_" + rest, true
		}
		return "", false
	}
	if m := sgmMiddle.FindStringSubmatch(module); m != nil {
		switch m[1] {
		case "0":
			return resnet("mid_block_resnets_0", m[2])
		case "1":
			return "mid_block_attentions_0_" + m[2], true
		case "2":
			return resnet("mid_block_resnets_1", m[2])
		}
		return "", false
	}
	if m := sgmOutput.FindStringSubmatch(module); m != nil {
		i, _ := strconv.Atoi(m[1])
		sub, rest := m[2], m[3]
		level, j := i/(L+1), i%(L+1)
		if level >= len(l.UpAttention) {
			return "", false
		}
		base := "up_blocks_" + strconv.Itoa(level)
		attn := l.UpAttention[level]
		switch {
		case sub == "0":
			return resnet(base+"_resnets_"+strconv.Itoa(j), rest)
		case sub == "1" && attn:
			return base + "_attentions_" + strconv.Itoa(j) + "_" + rest, true
		case (sub == "1" && !attn || sub == "2") && j == L && level < len(l.UpAttention)-1:
			if tail, ok := strings.CutPrefix(rest, "conv"); ok {
				return base + "_upsamplers_0_conv" + tail, true
			}
		}
		return "", false
	}
	return "", false
}
