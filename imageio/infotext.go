package imageio

import (
	"strconv"
	"strings"
)

// GenerationParams describes one generated picture in the terms of
// AUTOMATIC1111's web UI, whose "parameters" text other tools (image
// browsers, civitai, ComfyUI loaders) parse.
type GenerationParams struct {
	Prompt         string
	NegativePrompt string
	Steps          int
	Sampler        string // e.g. "Euler a", "DPM++ 2M"
	ScheduleType   string // e.g. "Karras"; empty leaves the field out
	CFGScale       float64
	Seed           uint64
	Width, Height  int
	ModelHash      string // empty leaves the field out
	Model          string // empty leaves the field out
	// DenoisingStrength is written for img2img and inpainting when above 0.
	DenoisingStrength float64
	// Extra fields follow the standard ones, in order.
	Extra []Param
}

// Param is one "Key: value" field of the parameters text.
type Param struct {
	Key, Value string
}

// Infotext returns the parameters text the way AUTOMATIC1111 writes it:
//
//	<prompt>
//	Negative prompt: <negative prompt>
//	Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: m
//
// The negative prompt line is left out when empty, and a value holding a
// comma, colon or newline is written as a JSON string, as A1111's quote
// does.
func (p GenerationParams) Infotext() string {
	fields := []Param{
		{"Steps", strconv.Itoa(p.Steps)},
		{"Sampler", p.Sampler},
		{"Schedule type", p.ScheduleType},
		{"CFG scale", formatNumber(p.CFGScale)},
		{"Seed", strconv.FormatUint(p.Seed, 10)},
		{"Size", strconv.Itoa(p.Width) + "x" + strconv.Itoa(p.Height)},
		{"Model hash", p.ModelHash},
		{"Model", p.Model},
	}
	if p.DenoisingStrength > 0 {
		fields = append(fields, Param{"Denoising strength", formatNumber(p.DenoisingStrength)})
	}
	fields = append(fields, p.Extra...)

	var parts []string
	for _, f := range fields {
		if f.Value == "" {
			continue
		}
		parts = append(parts, f.Key+": "+quoteInfotext(f.Value))
	}
	var b strings.Builder
	b.WriteString(p.Prompt)
	if p.NegativePrompt != "" {
		b.WriteString("\nNegative prompt: ")
		b.WriteString(p.NegativePrompt)
	}
	b.WriteString("\n")
	b.WriteString(strings.Join(parts, ", "))
	return strings.TrimSpace(b.String())
}

// formatNumber writes 7 as "7" and 7.5 as "7.5".
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// quoteInfotext leaves v alone unless it would break the field list, and
// otherwise writes it as Python's json.dumps(v, ensure_ascii=False) does.
func quoteInfotext(v string) string {
	if !strings.ContainsAny(v, ",:\n") {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[r>>4])
				b.WriteByte("0123456789abcdef"[r&0xf])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
