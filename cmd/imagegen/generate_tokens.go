package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/pipeline"
)

// tokenSamplingFlags reads generate's flags for autoregressive models
// (--temperature, --top-k, --top-p, --save-steps, --save-every) into req,
// refusing values no sampler can use.
func tokenSamplingFlags(c *cli.Context, req *pipeline.Request) error {
	t, err := temperatureFlag(c, "generate")
	if err != nil {
		return err
	}
	req.Temperature = t
	if k := c.Int("top-k"); k < 0 {
		return fmt.Errorf("generate: --top-k must be 0 (all tokens) or positive, got %d", k)
	} else {
		req.TopK = k
	}
	if c.IsSet("top-p") {
		p := c.Float64("top-p")
		if !(p > 0 && p <= 1) {
			return fmt.Errorf("generate: --top-p must be in (0, 1], got %v", p)
		}
		req.TopP = &p
	}
	dir := c.String("save-steps")
	if dir == "" {
		return nil
	}
	every := c.Int("save-every")
	if every < 1 {
		return fmt.Errorf("generate: --save-every must be at least 1, got %d", every)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generate: --save-steps: %w", err)
	}
	req.PartialEvery = every
	req.Partial = func(pp pipeline.PartialPicture) {
		if err := savePartial(dir, pp); err != nil {
			fmt.Fprintln(os.Stderr, "imagegen: --save-steps:", err)
		}
	}
	return nil
}

// savePartial writes the pictures of one partial result as
// DIR/tokens-NNNN.png (DIR/tokens-NNNN-I.png for several pictures).
func savePartial(dir string, pp pipeline.PartialPicture) error {
	r := pp.Result
	imgs, err := imageio.ToNRGBA(r.Images, []int{r.N, r.H, r.W, 3}, imageio.NHWC, imageio.Unit)
	if err != nil {
		return err
	}
	for i, img := range imgs {
		name := fmt.Sprintf("tokens-%04d.png", pp.Tokens)
		if len(imgs) > 1 {
			name = fmt.Sprintf("tokens-%04d-%d.png", pp.Tokens, i+1)
		}
		if err := imageio.WritePNG(filepath.Join(dir, name), img, imageio.Metadata{}); err != nil {
			return err
		}
	}
	return nil
}
