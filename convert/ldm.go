package convert

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// The original (CompVis / Stability "LDM") single-file key layout and
// diffusers' names for the same tensors. UNet keys map block by block
// (input_blocks.I.J ↔ down_blocks.L.{resnets,attentions}.K, ...) from the
// UNet's layout; VAE keys rename encoder.down.L.block.J and reverse the
// decoder's up blocks; the text encoder's keys are transformers' own.

// Prefixes of the single-file components.
const (
	ldmUNet = "model.diffusion_model."
	ldmVAE  = "first_stage_model."
	ldmText = "cond_stage_model.transformer."
)

// unetLayout is what the block arithmetic needs of a UNet config.
type unetLayout struct {
	perBlock int
	downAttn []bool
	upAttn   []bool
}

func newUNetLayout(c onnxexport.UNetConfig) unetLayout {
	l := unetLayout{perBlock: c.LayersPerBlock}
	for _, t := range c.DownBlockTypes {
		l.downAttn = append(l.downAttn, strings.HasPrefix(t, "CrossAttn"))
	}
	for _, t := range c.UpBlockTypes {
		l.upAttn = append(l.upAttn, strings.HasPrefix(t, "CrossAttn"))
	}
	return l
}

// resnetNames pairs an LDM ResBlock's layer names with diffusers'.
var resnetNames = [][2]string{
	{"in_layers.0", "norm1"}, {"in_layers.2", "conv1"}, {"emb_layers.1", "time_emb_proj"},
	{"out_layers.0", "norm2"}, {"out_layers.3", "conv2"}, {"skip_connection", "conv_shortcut"},
}

var unetTop = [][2]string{
	{"time_embed.0", "time_embedding.linear_1"}, {"time_embed.2", "time_embedding.linear_2"},
	{"label_emb.0.0", "add_embedding.linear_1"}, {"label_emb.0.2", "add_embedding.linear_2"},
	{"input_blocks.0.0", "conv_in"}, {"out.0", "conv_norm_out"}, {"out.2", "conv_out"},
}

var (
	ldmBlock   = regexp.MustCompile(`^(input_blocks|output_blocks)\.(\d+)\.(\d+)\.(.+)$`)
	ldmMiddle  = regexp.MustCompile(`^middle_block\.(\d+)\.(.+)$`)
	diffBlock  = regexp.MustCompile(`^(down_blocks|up_blocks)\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)\.(.+)$`)
	diffMiddle = regexp.MustCompile(`^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$`)
)

func swapPrefix(rest string, pairs [][2]string, from, to int) (string, bool) {
	for _, p := range pairs {
		if tail, ok := strings.CutPrefix(rest, p[from]+"."); ok {
			return p[to] + "." + tail, true
		}
	}
	return "", false
}

// toDiffusers renames one LDM UNet key (without its prefix).
func (l unetLayout) toDiffusers(key string) (string, bool) {
	if d, ok := swapPrefix(key, unetTop, 0, 1); ok {
		return d, true
	}
	L := l.perBlock
	if m := ldmMiddle.FindStringSubmatch(key); m != nil {
		switch m[1] {
		case "0", "2":
			j := map[string]string{"0": "0", "2": "1"}[m[1]]
			return swapResnet("mid_block.resnets."+j, m[2])
		case "1":
			return "mid_block.attentions.0." + m[2], true
		}
		return "", false
	}
	m := ldmBlock.FindStringSubmatch(key)
	if m == nil || L <= 0 {
		return "", false
	}
	i, _ := strconv.Atoi(m[2])
	sub, rest := m[3], m[4]
	if m[1] == "input_blocks" {
		level, j := (i-1)/(L+1), (i-1)%(L+1)
		if i == 0 || level >= len(l.downAttn) {
			return "", false
		}
		base := "down_blocks." + strconv.Itoa(level)
		switch {
		case j == L && sub == "0":
			if tail, ok := strings.CutPrefix(rest, "op."); ok {
				return base + ".downsamplers.0.conv." + tail, true
			}
		case j < L && sub == "0":
			return swapResnet(base+".resnets."+strconv.Itoa(j), rest)
		case j < L && sub == "1" && l.downAttn[level]:
			return base + ".attentions." + strconv.Itoa(j) + "." + rest, true
		}
		return "", false
	}
	level, j := i/(L+1), i%(L+1)
	if level >= len(l.upAttn) {
		return "", false
	}
	base := "up_blocks." + strconv.Itoa(level)
	switch {
	case sub == "0":
		return swapResnet(base+".resnets."+strconv.Itoa(j), rest)
	case sub == "1" && l.upAttn[level]:
		return base + ".attentions." + strconv.Itoa(j) + "." + rest, true
	case (sub == "2" || sub == "1" && !l.upAttn[level]) && j == L && level < len(l.upAttn)-1:
		if tail, ok := strings.CutPrefix(rest, "conv."); ok {
			return base + ".upsamplers.0.conv." + tail, true
		}
	}
	return "", false
}

func swapResnet(base, rest string) (string, bool) {
	if d, ok := swapPrefix(rest, resnetNames, 0, 1); ok {
		return base + "." + d, true
	}
	return "", false
}

// toLDM renames one diffusers UNet key to the LDM layout.
func (l unetLayout) toLDM(key string) (string, bool) {
	if d, ok := swapPrefix(key, unetTop, 1, 0); ok {
		return d, true
	}
	L := l.perBlock
	resnet := func(base, rest string) (string, bool) {
		if d, ok := swapPrefix(rest, resnetNames, 1, 0); ok {
			return base + "." + d, true
		}
		return "", false
	}
	if m := diffMiddle.FindStringSubmatch(key); m != nil {
		if m[1] == "attentions" {
			return "middle_block.1." + m[3], m[2] == "0"
		}
		return resnet("middle_block."+map[string]string{"0": "0", "1": "2"}[m[2]], m[3])
	}
	m := diffBlock.FindStringSubmatch(key)
	if m == nil {
		return "", false
	}
	level, _ := strconv.Atoi(m[2])
	k, _ := strconv.Atoi(m[4])
	kind, rest := m[3], m[5]
	if m[1] == "down_blocks" {
		i := 1 + level*(L+1) + k
		switch kind {
		case "resnets":
			return resnet(fmt.Sprintf("input_blocks.%d.0", i), rest)
		case "attentions":
			return fmt.Sprintf("input_blocks.%d.1.%s", i, rest), true
		case "downsamplers":
			tail, ok := strings.CutPrefix(rest, "conv.")
			return fmt.Sprintf("input_blocks.%d.0.op.%s", 1+level*(L+1)+L, tail), ok
		}
		return "", false
	}
	i := level*(L+1) + k
	switch kind {
	case "resnets":
		return resnet(fmt.Sprintf("output_blocks.%d.0", i), rest)
	case "attentions":
		return fmt.Sprintf("output_blocks.%d.1.%s", i, rest), true
	case "upsamplers":
		sub := 1
		if l.upAttn[level] {
			sub = 2
		}
		tail, ok := strings.CutPrefix(rest, "conv.")
		return fmt.Sprintf("output_blocks.%d.%d.conv.%s", level*(L+1)+L, sub, tail), ok
	}
	return "", false
}

// VAE: encoder.down.L.block.J / decoder.up.(N-1-L).block.J, mid.block_1/2,
// mid.attn_1.{norm,q,k,v,proj_out} (1×1 convolutions in the original,
// Linear layers in diffusers), norm_out, nin_shortcut.
var vaeAttn = [][2]string{{"norm", "group_norm"}, {"q", "to_q"}, {"k", "to_k"}, {"v", "to_v"}, {"proj_out", "to_out.0"}}
var vaeResnet = [][2]string{{"norm1", "norm1"}, {"conv1", "conv1"}, {"norm2", "norm2"}, {"conv2", "conv2"}, {"nin_shortcut", "conv_shortcut"}}

var (
	ldmVAEBlock  = regexp.MustCompile(`^(encoder|decoder)\.(down|up)\.(\d+)\.(block\.(\d+)|downsample|upsample)\.(.+)$`)
	ldmVAEMid    = regexp.MustCompile(`^(encoder|decoder)\.mid\.(block_1|block_2|attn_1)\.(.+)$`)
	diffVAEBlock = regexp.MustCompile(`^(encoder|decoder)\.(down_blocks|up_blocks)\.(\d+)\.(resnets\.(\d+)|downsamplers\.0|upsamplers\.0)\.(.+)$`)
	diffVAEMid   = regexp.MustCompile(`^(encoder|decoder)\.mid_block\.(resnets\.0|resnets\.1|attentions\.0)\.(.+)$`)
)

// vaeToDiffusers renames one LDM VAE key; levels is the number of blocks.
func vaeToDiffusers(key string, levels int) (string, bool) {
	for _, p := range [][2]string{{"norm_out.", "conv_norm_out."}} {
		for _, side := range []string{"encoder.", "decoder."} {
			if tail, ok := strings.CutPrefix(key, side+p[0]); ok {
				return side + p[1] + tail, true
			}
		}
	}
	if m := ldmVAEMid.FindStringSubmatch(key); m != nil {
		switch m[2] {
		case "attn_1":
			d, ok := swapPrefix(m[3], vaeAttn, 0, 1)
			return m[1] + ".mid_block.attentions.0." + d, ok
		default:
			j := map[string]string{"block_1": "0", "block_2": "1"}[m[2]]
			d, ok := swapPrefix(m[3], vaeResnet, 0, 1)
			return m[1] + ".mid_block.resnets." + j + "." + d, ok
		}
	}
	if m := ldmVAEBlock.FindStringSubmatch(key); m != nil {
		level, _ := strconv.Atoi(m[3])
		blocks := "down_blocks"
		if m[2] == "up" {
			level, blocks = levels-1-level, "up_blocks"
		}
		base := fmt.Sprintf("%s.%s.%d", m[1], blocks, level)
		switch {
		case m[5] != "":
			d, ok := swapPrefix(m[6], vaeResnet, 0, 1)
			return base + ".resnets." + m[5] + "." + d, ok
		case m[4] == "downsample":
			return base + ".downsamplers.0." + m[6], true
		default:
			return base + ".upsamplers.0." + m[6], true
		}
	}
	for _, same := range []string{"encoder.conv_in.", "encoder.conv_out.", "decoder.conv_in.", "decoder.conv_out.", "quant_conv.", "post_quant_conv."} {
		if strings.HasPrefix(key, same) {
			return key, true
		}
	}
	return "", false
}

// vaeToLDM is vaeToDiffusers backwards.
func vaeToLDM(key string, levels int) (string, bool) {
	for _, side := range []string{"encoder.", "decoder."} {
		if tail, ok := strings.CutPrefix(key, side+"conv_norm_out."); ok {
			return side + "norm_out." + tail, true
		}
	}
	if m := diffVAEMid.FindStringSubmatch(key); m != nil {
		if m[2] == "attentions.0" {
			d, ok := swapPrefix(m[3], vaeAttn, 1, 0)
			return m[1] + ".mid.attn_1." + d, ok
		}
		b := map[string]string{"resnets.0": "block_1", "resnets.1": "block_2"}[m[2]]
		d, ok := swapPrefix(m[3], vaeResnet, 1, 0)
		return m[1] + ".mid." + b + "." + d, ok
	}
	if m := diffVAEBlock.FindStringSubmatch(key); m != nil {
		level, _ := strconv.Atoi(m[3])
		dir := "down"
		if m[2] == "up_blocks" {
			level, dir = levels-1-level, "up"
		}
		base := fmt.Sprintf("%s.%s.%d", m[1], dir, level)
		switch {
		case m[5] != "":
			d, ok := swapPrefix(m[6], vaeResnet, 1, 0)
			return base + ".block." + m[5] + "." + d, ok
		case m[4] == "downsamplers.0":
			return base + ".downsample." + m[6], true
		default:
			return base + ".upsample." + m[6], true
		}
	}
	return vaeToDiffusers(key, levels) // the names both layouts share
}

// isVAEAttnProjection reports whether a diffusers VAE key is one of the
// mid-block attention's Linear weights, stored as 1×1 convolutions in the
// original layout.
func isVAEAttnProjection(key string) bool {
	if !strings.Contains(key, "mid_block.attentions.0.") || !strings.HasSuffix(key, ".weight") {
		return false
	}
	for _, p := range []string{"to_q.", "to_k.", "to_v.", "to_out.0."} {
		if strings.Contains(key, p) {
			return true
		}
	}
	return false
}
