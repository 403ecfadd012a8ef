package main

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
)

// encodeCommand and decodeCommand run an image tokenizer (the VQ-VAE
// family: pictures to codebook indices and back) or a latent codec (the
// flow family: pictures to float32 latents and back).
func encodeCommand() *cli.Command {
	return &cli.Command{
		Name:      "encode",
		Usage:     "turn pictures into VQ-VAE codes (an int64 .npy of codebook indices) or flow latents (a float32 .npy)",
		ArgsUsage: "IMAGE.png [IMAGE.png ...]",
		Description: "Encodes each picture with the model's vq_encoder into a grid of codebook indices and writes them\n" +
			"as one int64 .npy array [N, h, w] (numpy.load reads it). `imagegen decode` turns them back into pictures.\n" +
			"With a flow (builtin:flow) it writes the standard-normal latents float32 [N, 3·S·S] of the pictures,\n" +
			"conditioned on --prompt (none: the empty prompt; one for all, or one per picture); decode them with the same prompts.\n\n" +
			"Examples:\n" +
			"   imagegen encode --model builtin:vqvae shapes.png -o codes.npy\n" +
			"   imagegen encode --model builtin:flow img.png -o z.npy\n" +
			"   imagegen encode a.png b.png -o codes.npy      # builtin:vqvae is the default",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Value: "builtin:vqvae", Usage: "VQ-VAE or flow checkpoint folder or builtin:NAME"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "codes.npy", Usage: "output `FILE.npy`"},
			&cli.StringSliceFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "prompt conditioning a flow's latents (repeat for one per picture)"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
		},
		Action: runEncode,
	}
}

func decodeCommand() *cli.Command {
	return &cli.Command{
		Name:      "decode",
		Usage:     "turn VQ-VAE codes (an integer .npy of codebook indices), or VAE latents, back into pictures",
		ArgsUsage: "CODES.npy | LATENTS.npy",
		Description: "Reads an integer .npy array [N, h, w] (or [h, w] for one picture) of codebook indices and decodes it\n" +
			"with the model's vq_decoder. With several pictures and a .png output the files are numbered\n" +
			"(out-1.png, out-2.png, ...); a .npy output holds float32 [N, H, W, 3] in [0, 1].\n" +
			"With a latent decoder (builtin:vae) it reads float32 latents [N, latent_dim], as generate --save-latents\n" +
			"writes them, and decodes them with --prompt (one for all, or one per latent); a flow (builtin:flow) decodes\n" +
			"float32 latents [N, 3·S·S] as encode or generate --save-latents wrote them (no --prompt: the empty prompt).\n\n" +
			"Examples:\n" +
			"   imagegen decode --model builtin:vqvae codes.npy -o img.png\n" +
			"   imagegen decode --model builtin:vae z.npy --prompt \"a red circle\" -o img.png\n" +
			"   imagegen decode --model builtin:flow z.npy -o img.png",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Value: "builtin:vqvae", Usage: "VQ-VAE checkpoint folder or builtin:NAME"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "out.png", Usage: "output `FILE` (.png or .npy)"},
			&cli.StringSliceFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "prompt conditioning VAE latents (repeat for one per latent)"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
		},
		Action: runDecode,
	}
}

// openModel loads the --model pipeline.
func openModel(c *cli.Context, command string) (*pipeline.Pipeline, string, error) {
	dir, entry, err := resolveModel(c, c.String("model"))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", command, err)
	}
	name := filepath.Base(filepath.Clean(dir))
	if entry != nil {
		name = entry.Name
	}
	if err := initRuntime(c); err != nil {
		return nil, "", fmt.Errorf("%s: %w", command, err)
	}
	p, err := pipeline.Load(c.Context, dir, pipeline.Options{Session: ort.Options{IntraOpThreads: c.Int("threads"), Cache: graphCache(c)}})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", command, err)
	}
	return p, name, nil
}

func runEncode(c *cli.Context) error {
	if c.NArg() == 0 {
		return fmt.Errorf("encode: no pictures: pass one or more PNG or JPEG files")
	}
	out := c.String("output")
	if strings.ToLower(filepath.Ext(out)) != ".npy" {
		return fmt.Errorf("encode: output %s: want a .npy file name", out)
	}
	var imgs []image.Image
	for _, path := range c.Args().Slice() {
		img, err := imageio.LoadImage(path)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		imgs = append(imgs, img)
	}
	p, name, err := openModel(c, "encode")
	if err != nil {
		return err
	}
	defer p.Close()
	prompts := c.StringSlice("prompt")
	if p.CodebookSize() == 0 {
		return encodeLatents(c, p, name, imgs, prompts, out)
	}
	if len(prompts) > 0 {
		return fmt.Errorf("encode: a %s model encodes pictures alone; --prompt applies to flows (builtin:flow)", p.Family())
	}
	codes, err := p.EncodeImages(c.Context, imgs)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := imageio.SaveNPYInt64(out, []int{codes.N, codes.H, codes.W}, codes.Indices); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	fmt.Println(out)
	return nil
}

func runDecode(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("decode: want one .npy argument, got %d", c.NArg())
	}
	in := c.Args().First()
	out := c.String("output")
	if ext := strings.ToLower(filepath.Ext(out)); ext != ".png" && ext != ".npy" {
		return fmt.Errorf("decode: output %s: want a .png or .npy file name", out)
	}
	if _, err := os.Stat(in); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	p, name, err := openModel(c, "decode")
	if err != nil {
		return err
	}
	defer p.Close()
	prompts := c.StringSlice("prompt")
	var res *pipeline.Result
	if p.CodebookSize() > 0 {
		if len(prompts) > 0 {
			return fmt.Errorf("decode: a %s model decodes codes alone; --prompt applies to latent decoders (builtin:vae)", p.Family())
		}
		res, err = decodeCodesFile(c, p, in)
		prompts = []string{"decoded from " + filepath.Base(in)}
	} else {
		if len(prompts) == 0 && p.Family() != pipeline.FamilyFlow {
			return fmt.Errorf("decode: latents of a %s model need the prompt that conditions them: pass --prompt", p.Family())
		}
		res, err = decodeLatentsFile(c, p, in, prompts)
		if len(prompts) == 0 {
			prompts = []string{""}
		}
	}
	if err != nil {
		return err
	}
	if len(prompts) != 1 && len(prompts) != res.N {
		prompts = prompts[:1]
	}
	paths, err := writeOutputs(out, res, &pipeline.Request{Prompts: prompts}, name, nil, nil)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
	return nil
}

// decodeCodesFile decodes an integer .npy of codes [N, h, w] or [h, w].
func decodeCodesFile(c *cli.Context, p *pipeline.Pipeline, in string) (*pipeline.Result, error) {
	shape, data, err := imageio.LoadNPYInt64(in)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	codes := &pipeline.Codes{Indices: data}
	switch len(shape) {
	case 2:
		codes.N, codes.H, codes.W = 1, shape[0], shape[1]
	case 3:
		codes.N, codes.H, codes.W = shape[0], shape[1], shape[2]
	default:
		return nil, fmt.Errorf("decode: %s: array of shape %v; want codes [N, h, w] or [h, w]", in, shape)
	}
	res, err := p.DecodeCodes(c.Context, codes)
	if err != nil {
		return nil, fmt.Errorf("decode: %s: %w", in, err)
	}
	return res, nil
}

// decodeLatentsFile decodes a float32 .npy of latents (what generate
// --save-latents wrote) with their prompts.
func decodeLatentsFile(c *cli.Context, p *pipeline.Pipeline, in string, prompts []string) (*pipeline.Result, error) {
	shape, data, err := imageio.LoadNPY(in)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	res, err := p.DecodeLatents(c.Context, data, shape, prompts)
	if err != nil {
		return nil, fmt.Errorf("decode: %s: %w", in, err)
	}
	return res, nil
}

// encodeLatents writes the latents of a latent codec (a flow) as a
// float32 .npy [N, D].
func encodeLatents(c *cli.Context, p *pipeline.Pipeline, name string, imgs []image.Image, prompts []string, out string) error {
	lat, err := p.EncodeLatents(c.Context, imgs, prompts)
	if errors.Is(err, pipeline.ErrNotSupported) {
		return fmt.Errorf("encode: model %s is a %s model; encoding needs an image tokenizer (builtin:vqvae) or a flow (builtin:flow)", name, p.Family())
	}
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := imageio.SaveNPY(out, lat.Shape, lat.Values); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	fmt.Println(out)
	return nil
}
