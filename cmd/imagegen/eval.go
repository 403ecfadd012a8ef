package main

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// evalCommand measures prompt adherence: it generates one image for each
// of N held-out shapes prompts and scores them with the analytic checker.
func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "measure prompt adherence (color, shape, size, position) of a shapes model on held-out prompts",
		Description: "Generates one image per held-out prompt of the shapes dataset (prompts the default model never saw)\n" +
			"and checks each with the analytic checker of package shapes: the dominant color of each shape,\n" +
			"its class from geometry, its size, and its grid cell or relation from the centroid.\n\n" +
			"Examples:\n" +
			"   imagegen eval                 # the built-in model, 100 prompts\n" +
			"   imagegen eval -n 20 --json\n" +
			"   imagegen eval --model ./my-shapes-model --save-dir eval-images",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "checkpoint folder, hf:ORG/NAME or models.yaml name (default: the built-in model)"},
			&cli.IntFlag{Name: "n", Value: 100, Usage: "number of held-out prompts"},
			&cli.StringFlag{Name: "scheduler", Aliases: []string{"s"}, Usage: "sampler (default: the model's)"},
			&cli.IntFlag{Name: "steps", Usage: "inference steps (default: the model's)"},
			&cli.Float64Flag{Name: "guidance", Aliases: []string{"g"}, Usage: "guidance scale (default: the model's)"},
			&cli.Uint64Flag{Name: "seed", Usage: "seed of the first image; image i uses seed+i"},
			&cli.IntFlag{Name: "size", Usage: "image side in pixels (default: the model's)"},
			&cli.StringFlag{Name: "save-dir", Usage: "also write every image as a PNG into `DIR`"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: runEval,
	}
}

// evalReport is eval's result.
type evalReport struct {
	Model          string  `json:"model"`
	Prompts        int     `json:"prompts"`
	Steps          int     `json:"steps"`
	Guidance       float64 `json:"guidance"`
	Scheduler      string  `json:"scheduler"`
	Size           int     `json:"size"`
	Color          float64 `json:"color"`
	Shape          float64 `json:"shape"`
	SizeAcc        float64 `json:"size_accuracy"`
	Position       float64 `json:"position"`
	Relation       float64 `json:"relation"`
	Background     float64 `json:"background"`
	AllPassed      float64 `json:"all_passed"`
	MedianSeconds  float64 `json:"median_seconds_per_image"`
	Report         string  `json:"report"`
	ModelDirectory string  `json:"model_dir"`
}

func runEval(c *cli.Context) error {
	n := c.Int("n")
	if n < 1 {
		return fmt.Errorf("eval: -n must be at least 1, got %d", n)
	}
	if c.IsSet("steps") && c.Int("steps") < 1 {
		return fmt.Errorf("eval: --steps must be at least 1, got %d", c.Int("steps"))
	}
	dir, entry, err := resolveModelOrDefault(c, c.String("model"))
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	req := pipeline.Request{Scheduler: c.String("scheduler"), Steps: c.Int("steps"), Height: c.Int("size"), Width: c.Int("size")}
	if c.IsSet("guidance") {
		g := c.Float64("guidance")
		req.Guidance = &g
	}
	name := filepath.Base(filepath.Clean(dir))
	if entry != nil {
		name = entry.Name
		applyDefaults(&req, entry.Defaults)
	}
	if err := initRuntime(c); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	pipe, err := pipeline.Load(c.Context, dir, pipeline.Options{Session: ort.Options{IntraOpThreads: c.Int("threads")}})
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer pipe.Close()
	if save := c.String("save-dir"); save != "" {
		if err := os.MkdirAll(save, 0o755); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	prompts := shapes.HeldOutPrompts(n)
	cases := make([]shapes.Case, 0, n)
	times := make([]float64, 0, n)
	var last *pipeline.Result
	for i, p := range prompts {
		r := req
		r.Prompts = []string{p}
		r.Seed = c.Uint64("seed") + uint64(i)
		start := time.Now()
		res, err := pipe.Generate(c.Context, r)
		if err != nil {
			return fmt.Errorf("eval: prompt %q: %w", p, err)
		}
		times = append(times, time.Since(start).Seconds())
		imgs, err := imageio.ToNRGBA(res.Images, []int{res.N, res.H, res.W, 3}, imageio.NHWC, imageio.Unit)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		if save := c.String("save-dir"); save != "" {
			path := filepath.Join(save, fmt.Sprintf("%03d.png", i))
			if err := imageio.WritePNG(path, imgs[0], imageio.Metadata{Parameters: p}); err != nil {
				return fmt.Errorf("eval: %w", err)
			}
		}
		cases = append(cases, shapes.Case{Image: image.Image(imgs[0]), Prompt: p})
		last = res
	}
	rep, err := shapes.Evaluate(cases)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	sort.Float64s(times)
	out := evalReport{
		Model: name, ModelDirectory: dir, Prompts: n, Steps: last.Steps, Guidance: last.Guidance, Scheduler: last.Scheduler, Size: last.W,
		Color: rep.Color.Rate(), Shape: rep.Shape.Rate(), SizeAcc: rep.Size.Rate(), Position: rep.Position.Rate(),
		Relation: rep.Relation.Rate(), Background: rep.Background.Rate(), AllPassed: rep.Passed.Rate(),
		MedianSeconds: times[len(times)/2], Report: rep.String(),
	}
	if c.Bool("json") {
		return printJSON(out)
	}
	fmt.Printf("model %s, %s %d steps, guidance %g, %dx%d\n", name, out.Scheduler, out.Steps, out.Guidance, out.Size, out.Size)
	fmt.Println(rep.String())
	fmt.Printf("median %.3f s per image\n", out.MedianSeconds)
	return nil
}
