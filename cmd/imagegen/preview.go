package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/pipeline"
)

// previewFlags sets Request.Preview to write --preview-dir/preview-STEP.png
// (preview-STEP-I.png for several pictures) every --preview-every steps.
func previewFlags(c *cli.Context, req *pipeline.Request, notice func(string)) error {
	every, dir := c.Int("preview-every"), c.String("preview-dir")
	if every == 0 && dir == "" {
		return nil
	}
	if every < 0 {
		return fmt.Errorf("generate: --preview-every must be positive, got %d", every)
	}
	if dir == "" {
		return fmt.Errorf("generate: --preview-every needs --preview-dir")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generate: --preview-dir: %w", err)
	}
	req.PreviewEvery = every
	req.Preview = func(pv pipeline.Preview) {
		imgs, err := imageio.ToNRGBA(pv.Images, []int{pv.N, pv.H, pv.W, 3}, imageio.NHWC, imageio.Unit)
		if err != nil {
			notice("preview: " + err.Error())
			return
		}
		for i, img := range imgs {
			name := fmt.Sprintf("preview-%03d.png", pv.Step)
			if len(imgs) > 1 {
				name = fmt.Sprintf("preview-%03d-%d.png", pv.Step, i+1)
			}
			if err := imageio.WritePNG(filepath.Join(dir, name), img, imageio.Metadata{}); err != nil {
				notice("preview: " + err.Error())
			}
		}
	}
	return nil
}
