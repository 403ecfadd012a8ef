package prompt

import (
	"regexp"
	"strconv"
	"strings"
)

// LoRATag is an AUTOMATIC1111 <lora:NAME:WEIGHT> tag of a prompt.
type LoRATag struct {
	Name   string
	Weight float64
}

var loraTag = regexp.MustCompile(`<lora:([^:>]+)(?::([^:>]*))?(?::[^>]*)?>`)

// ExtractLoRATags removes the <lora:NAME:WEIGHT> tags from text (WEIGHT
// defaults to 1; a second weight, A1111's separate UNet multiplier, is
// ignored) and returns the remaining prompt and the tags in order. A tag
// whose weight is not a number keeps weight 1.
func ExtractLoRATags(text string) (string, []LoRATag) {
	var tags []LoRATag
	clean := loraTag.ReplaceAllStringFunc(text, func(m string) string {
		sub := loraTag.FindStringSubmatch(m)
		tag := LoRATag{Name: strings.TrimSpace(sub[1]), Weight: 1}
		if w, err := strconv.ParseFloat(strings.TrimSpace(sub[2]), 64); err == nil {
			tag.Weight = w
		}
		tags = append(tags, tag)
		return ""
	})
	return clean, tags
}
