package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/modelreg"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/prompt"
)

// loraFlags collects the LoRAs of the models.yaml entry, of --lora
// FILE[:SCALE] and of the prompts' <lora:NAME:SCALE> tags (removed from the prompts, as AUTOMATIC1111 does),
// the latter found as NAME.safetensors in --lora-dir.
func loraFlags(c *cli.Context, req *pipeline.Request, entry *modelreg.Model) ([]pipeline.LoRA, error) {
	var loras []pipeline.LoRA
	var args []string
	if entry != nil {
		args = entry.LoRAPaths()
	}
	for _, arg := range append(args, c.StringSlice("lora")...) {
		l := pipeline.LoRA{Path: arg, Scale: 1}
		if i := strings.LastIndexByte(arg, ':'); i > 0 {
			if v, err := strconv.ParseFloat(arg[i+1:], 64); err == nil {
				l = pipeline.LoRA{Path: arg[:i], Scale: v}
			}
		}
		if _, err := os.Stat(l.Path); err != nil {
			return nil, fmt.Errorf("generate: --lora %s: %w", arg, err)
		}
		loras = append(loras, l)
	}
	dir := c.String("lora-dir")
	if dir == "" {
		if cache, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(cache, "imagegen", "loras")
		}
	}
	seen := map[string]bool{}
	for i, p := range req.Prompts {
		clean, tags := prompt.ExtractLoRATags(p)
		req.Prompts[i] = clean
		for _, tag := range tags {
			if seen[tag.Name] {
				continue
			}
			seen[tag.Name] = true
			path := filepath.Join(dir, tag.Name+".safetensors")
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("generate: prompt tag <lora:%s>: no %s (set --lora-dir)", tag.Name, path)
			}
			loras = append(loras, pipeline.LoRA{Path: path, Scale: tag.Weight})
		}
	}
	return loras, nil
}
