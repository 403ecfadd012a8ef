package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/detect"
	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
)

// Exit statuses of imagegen detect, for scripts.
const (
	exitNotDetected = 0
	exitDetected    = 1
	exitDetectError = 2
)

// detectCommand scores pictures with the built-in passive detector or a
// public classifier export.
func detectCommand() *cli.Command {
	return &cli.Command{
		Name:      "detect",
		Usage:     "tell generated pictures from real ones (built-in frequency-feature detector, or a classifier ONNX export)",
		ArgsUsage: "IMG...",
		Description: "Prints, per picture, the probability that it is generated and the label it gets at --threshold.\n" +
			"--model builtin (the default) is imagegen's passive detector: frequency-artifact features (radial\n" +
			"power spectrum, 8x8 DCT statistics) and a logistic regression trained on 32x32 shapes renders against\n" +
			"the built-in families' outputs (scripts/train_detector); it knows nothing of other pictures.\n" +
			"--model DIR runs a public detector export: model.onnx or onnx/model*.onnx with a pixel_values (or one\n" +
			"[N,3,H,W]) input and 2 logits; config.json's id2label says which logit means generated (or pass\n" +
			"--generated-index), preprocessor_config.json how to resize and normalize (default: shorter side to\n" +
			"the input size, center crop, [0, 1]).\n" +
			"Exit status: 0 when no picture is detected as generated, 1 when some is, 2 on any error (an\n" +
			"unreadable or truncated picture, a bad model); the other pictures are still scored.\n" +
			"--json prints [{\"file\", \"score\", \"generated\", \"label\"} or {\"file\", \"error\"}, ...].\n\n" +
			"Examples:\n" +
			"   imagegen detect out.png photo.jpg\n" +
			"   imagegen detect --model ./ai-image-detector-deploy-ONNX --threshold 0.9 --json *.png",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Value: "builtin", Usage: "builtin, or a detector export `DIR` (or its .onnx file)"},
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "score at or above which a picture is labeled generated"},
			&cli.IntFlag{Name: "generated-index", Value: -1, Usage: "index of the generated class's logit (default: from config.json)"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON array"},
		},
		Action: func(c *cli.Context) error {
			if err := runDetect(c); err != nil {
				var e *exitCodeError
				if errors.As(err, &e) {
					return err
				}
				return &exitCodeError{code: exitDetectError, err: err}
			}
			return nil
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &exitCodeError{code: exitDetectError, err: fmt.Errorf("%w (see imagegen detect --help)", err)}
		},
	}
}

// detectResult is one line of detect's output.
type detectResult struct {
	File      string   `json:"file"`
	Score     *float64 `json:"score,omitempty"`
	Generated *bool    `json:"generated,omitempty"`
	Label     string   `json:"label,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func runDetect(c *cli.Context) error {
	files := c.Args().Slice()
	if len(files) == 0 {
		return fmt.Errorf("detect: no pictures given: imagegen detect IMG...")
	}
	th := c.Float64("threshold")
	if th < 0 || th > 1 {
		return fmt.Errorf("detect: --threshold %g: want a probability in [0, 1]", th)
	}
	d, err := openDetector(c)
	if err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	defer d.Close()
	genLabel, realLabel := d.Labels()
	results := make([]detectResult, 0, len(files))
	failed, detected := 0, 0
	for _, f := range files {
		r := detectResult{File: f}
		img, err := imageio.LoadImage(f)
		var score float64
		if err == nil {
			score, err = d.Score(c.Context, img)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w (the file is truncated)", err)
		}
		if err != nil {
			failed++
			r.Error = err.Error()
			results = append(results, r)
			continue
		}
		gen := score >= th
		r.Score, r.Generated, r.Label = &score, &gen, realLabel
		if gen {
			detected++
			r.Label = genLabel
		}
		results = append(results, r)
	}
	if c.Bool("json") {
		if err := printJSON(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.Error != "" {
				fmt.Fprintf(os.Stderr, "imagegen: detect %s: %s\n", r.File, oneLine(r.Error))
				continue
			}
			fmt.Printf("%s\t%.4f\t%s\n", r.File, *r.Score, r.Label)
		}
	}
	switch {
	case failed > 0:
		return &exitCodeError{code: exitDetectError, err: fmt.Errorf("detect: %d of %d pictures could not be scored", failed, len(files))}
	case detected > 0:
		return &exitCodeError{code: exitDetected}
	}
	return nil
}

func openDetector(c *cli.Context) (detect.Detector, error) {
	name := c.String("model")
	if detect.IsBuiltin(name) {
		return detect.Builtin()
	}
	if strings.HasPrefix(name, "builtin:") {
		return nil, fmt.Errorf("--model %s: no such built-in detector (the built-in one is %s, or builtin)", name, detect.BuiltinName)
	}
	if _, err := os.Stat(name); err != nil {
		return nil, fmt.Errorf("--model %s: want builtin or a detector export folder: %w", name, err)
	}
	if err := initRuntime(c); err != nil {
		return nil, err
	}
	o := detect.ONNXOptions{Session: ort.Options{IntraOpThreads: c.Int("threads")}}
	if i := c.Int("generated-index"); i >= 0 {
		o.GeneratedIndex = &i
	}
	return detect.OpenONNX(name, o)
}
