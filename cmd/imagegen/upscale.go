package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/upscale"
)

// upscaleCommand runs a super-resolution ONNX export on a picture.
func upscaleCommand() *cli.Command {
	return &cli.Command{
		Name:      "upscale",
		Usage:     "enlarge a picture with a Real-ESRGAN-style ONNX upscaler (x2, x4, ...)",
		ArgsUsage: "IMAGE",
		Description: "Runs an upscaler export: one input [1, 3, H, W] of RGB in [0, 1] and one output [1, 3, s·H, s·W];\n" +
			"the integer scale s is read from the declared shapes, or from a run on a 16x16 picture when they are symbolic.\n" +
			"A fixed-size export (say 128x128 → 512x512) runs tile by tile; a dynamic one runs the whole picture unless\n" +
			"--tile N asks for tiles (to bound memory). Tiles overlap by --tile-overlap input pixels (default an eighth\n" +
			"of the tile) and are blended with feathered weights, so no seam shows; a picture smaller than a tile is\n" +
			"padded by reflection. PNG or JPEG in; pictures with alpha lose it and grey ones become RGB; the output is\n" +
			"an opaque RGB PNG that keeps the input's generation parameters, noting the upscaler.\n\n" +
			"Examples:\n" +
			"   imagegen upscale --model ./RealESRGAN_x4plus.onnx photo.png -o photo-x4.png\n" +
			"   imagegen upscale --model ./esrgan-dynamic --tile 256 big.png -o big-x4.png\n" +
			"   imagegen generate \"a red circle\" --upscale ./RealESRGAN_x4plus.onnx -o circle.png   # 128x128 → 512x512\n\n" +
			"A diffusion super-resolution stage (builtin:sr, or a folder written by scripts/train_sr) runs too: it takes\n" +
			"pictures of its input size only (builtin:sr: 32x32, builtin:default's), draws --steps denoising steps from\n" +
			"noise seeded by --seed, and reads the input noised to --noise-level (its noise-conditioning augmentation).\n" +
			"   imagegen generate \"a red circle\" --height 32 --width 32 -o small.png\n" +
			"   imagegen upscale --model builtin:sr small.png -o big.png",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Required: true, Usage: "upscaler `DIR_OR_FILE`: an .onnx file, a folder with model.onnx, onnx/model.onnx or one .onnx file, a diffusion stage's folder, or builtin:sr"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `FILE.png` (default: IMAGE-xS.png beside the input)"},
			&cli.StringFlag{Name: "device", Usage: "cpu, cuda, cuda:N or auto", Value: "cpu"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON summary on stdout"},
			&cli.Uint64Flag{Name: "seed", Usage: "seed of a diffusion stage's noise"},
			&cli.IntFlag{Name: "steps", DefaultText: "the stage's", Usage: "denoising `N` steps of a diffusion stage"},
			&cli.IntFlag{Name: "noise-level", DefaultText: "the stage's", Usage: "augmentation `LEVEL` of a diffusion stage's input (0 to the stage's maximum)"},
		}, upscaleTileFlags("tile", "tile-overlap")...),
		Action: runUpscale,
	}
}

// upscaleTileFlags are the tiling flags of upscale (--tile,
// --tile-overlap) and of generate --upscale (--upscale-tile, ...).
func upscaleTileFlags(tile, overlap string) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: tile, DefaultText: "the whole picture", Usage: "run a dynamic upscaler in tiles of `N` input pixels (fixed-size exports always use their input size)"},
		&cli.IntFlag{Name: overlap, DefaultText: "an eighth of the tile", Usage: "`N` input pixels that neighbouring upscaler tiles share"},
	}
}

func runUpscale(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("upscale: want one picture, got %d arguments", c.NArg())
	}
	in := c.Args().First()
	img, err := imageio.LoadImage(in)
	if err != nil {
		return fmt.Errorf("upscale: %w", err)
	}
	out := c.String("output")
	if out != "" && strings.ToLower(filepath.Ext(out)) != ".png" {
		return fmt.Errorf("upscale: output %s: want a .png file name", out)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	c.Context = ctx
	u, err := openUpscaler(c, c.String("model"))
	if err != nil {
		return err
	}
	defer u.Close()
	if out == "" {
		out = strings.TrimSuffix(in, filepath.Ext(in)) + fmt.Sprintf("-x%d.png", u.Scale())
	}
	o, err := upscaleRunOptions(c, "tile", "tile-overlap")
	if err != nil {
		return err
	}
	if err := stageRunOptions(c, u, &o); err != nil {
		return err
	}
	bar := tileBar(c, "upscaling")
	o.Progress = bar.update
	start := time.Now()
	res, err := u.Upscale(ctx, img, o)
	bar.finish()
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	// Keep the generation parameters of an imagegen (or AUTOMATIC1111)
	// PNG; other files have none.
	text, _ := imageio.ReadPNGText(in)
	meta := imageio.Metadata{
		Parameters: upscaledInfotext(text[imageio.ParametersKeyword], u.Scale(), c.String("model")),
		JSON:       text[imageio.JSONKeyword],
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("upscale: %w", err)
	}
	if err := imageio.WritePNG(out, res, meta); err != nil {
		return fmt.Errorf("upscale: %w", err)
	}
	if c.Bool("json") {
		b := res.Bounds()
		return printJSON(map[string]any{
			"input": in, "output": out, "model": u.Path(), "scale": u.Scale(),
			"width": b.Dx(), "height": b.Dy(), "tiles": bar.total, "seconds": elapsed.Seconds(),
		})
	}
	fmt.Println(out)
	return nil
}

// stageRunOptions reads upscale's diffusion-stage flags into o; they are
// refused for other upscalers.
func stageRunOptions(c *cli.Context, u *upscale.Upscaler, o *upscale.RunOptions) error {
	if _, ok := u.Stage(); !ok {
		for _, f := range []string{"seed", "steps", "noise-level"} {
			if c.IsSet(f) {
				return fmt.Errorf("upscale: --%s applies to diffusion stages (builtin:sr), not to %s", f, c.String("model"))
			}
		}
		return nil
	}
	o.Seed = c.Uint64("seed")
	if c.IsSet("steps") {
		if o.Steps = c.Int("steps"); o.Steps < 1 {
			return fmt.Errorf("upscale: --steps must be at least 1, got %d", o.Steps)
		}
	}
	if c.IsSet("noise-level") {
		level := c.Int("noise-level")
		o.NoiseLevel = &level
	}
	return nil
}

// openUpscaler opens the upscaler at path (or the built-in model a
// builtin:NAME names) with the command's --device and --threads.
func openUpscaler(c *cli.Context, path string) (*upscale.Upscaler, error) {
	dev, err := ort.ParseDevice(c.String("device"))
	if err != nil {
		return nil, err
	}
	name := path
	if strings.HasPrefix(path, builtin.Scheme) {
		b, err := builtin.ByName(path)
		if err != nil {
			return nil, err
		}
		if path, err = b.Dir(""); err != nil {
			return nil, fmt.Errorf("built-in model %s: %w", b.Name, err)
		}
	}
	if err := initRuntime(c); err != nil {
		return nil, err
	}
	return upscale.Open(c.Context, path, upscale.Options{Session: ort.Options{
		Device: dev, IntraOpThreads: c.Int("threads"), Cache: graphCache(c),
	}, Name: name})
}

// upscaleRunOptions reads the tiling flags called tile and overlap.
func upscaleRunOptions(c *cli.Context, tile, overlap string) (upscale.RunOptions, error) {
	o := upscale.RunOptions{Tile: c.Int(tile), Overlap: c.Int(overlap)}
	if c.IsSet(tile) && o.Tile < 1 {
		return o, fmt.Errorf("--%s must be at least 1, got %d", tile, o.Tile)
	}
	if c.IsSet(overlap) && o.Overlap < 1 {
		return o, fmt.Errorf("--%s must be at least 1, got %d", overlap, o.Overlap)
	}
	return o, nil
}

// upscaledInfotext appends AUTOMATIC1111's extras fields for an upscale to
// a picture's parameters text (which may be empty).
func upscaledInfotext(params string, scale int, model string) string {
	fields := fmt.Sprintf("Postprocess upscale by: %d, Postprocess upscaler: %s", scale, filepath.Base(filepath.Clean(model)))
	if params == "" {
		return fields
	}
	return params + ", " + fields
}

// upscaled holds the pictures of a generate --upscale run: Images are
// float32 [N, Scale·H, Scale·W, 3] of a Result's N×H×W.
type upscaled struct {
	Images []float32
	Scale  int
	Model  string
}

// upscaleResult runs u on each picture of res.
func upscaleResult(c *cli.Context, u *upscale.Upscaler, res *pipeline.Result, o upscale.RunOptions) (*upscaled, error) {
	s := u.Scale()
	per := res.H * res.W * 3
	up := &upscaled{Images: make([]float32, 0, res.N*per*s*s), Scale: s, Model: c.String("upscale")}
	for i := 0; i < res.N; i++ {
		bar := tileBar(c, fmt.Sprintf("upscaling %d/%d", i+1, res.N))
		o.Progress = bar.update
		out, err := u.UpscaleHWC(c.Context, res.Images[i*per:(i+1)*per], res.H, res.W, o)
		bar.finish()
		if err != nil {
			return nil, err
		}
		up.Images = append(up.Images, out...)
	}
	return up, nil
}

// progressTiles draws a tiles-done bar on a terminal (nothing elsewhere or
// with --quiet) and remembers the tile count.
type progressTiles struct {
	label string
	show  bool
	bar   *progressbar.ProgressBar
	total int
}

func tileBar(c *cli.Context, label string) *progressTiles {
	return &progressTiles{label: label, show: showProgress(c)}
}

func (p *progressTiles) update(pr upscale.Progress) {
	p.total = pr.Total
	if !p.show {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(pr.Total, progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(p.label+" (tiles)"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	p.bar.Set(pr.Done)
}

func (p *progressTiles) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
