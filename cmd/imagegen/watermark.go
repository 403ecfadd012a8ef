package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/watermark"
)

// watermarkCommand embeds and detects invisible-watermark's marks:
//
//	imagegen watermark embed [--method dwtDct] [--bits HEX|sdxl] IN.png -o OUT.png
//	imagegen watermark detect IN.png [--bits N] [--method dwtDct] [--json]
func watermarkCommand() *cli.Command {
	return &cli.Command{
		Name:  "watermark",
		Usage: "embed or detect invisible-watermark marks (dwtDct: the mark diffusers puts on SDXL pictures)",
		Description: "Reads and writes exactly what the Python invisible-watermark 0.2.0 library does for the dwtDct and\n" +
			"dwtDctSvd methods. That library's mark is weak: it misreads some bits of its own marks on smooth\n" +
			"pictures and does not survive much JPEG compression; detect reports what it would read.",
		Subcommands: []*cli.Command{watermarkEmbedCommand(), watermarkDetectCommand()},
	}
}

func watermarkEmbedCommand() *cli.Command {
	return &cli.Command{
		Name:      "embed",
		Usage:     "mark a picture as invisible-watermark's WatermarkEncoder does",
		ArgsUsage: "IN.png",
		Description: "--bits takes hex digits (four bits each, most significant first) or sdxl, the 48-bit payload\n" +
			"diffusers embeds in SDXL outputs (b3ec907bb19e). The picture needs at least 256*256 pixels.\n" +
			"The output is an 8-bit RGB PNG, written atomically; text chunks of a PNG input are kept.\n\n" +
			"Examples:\n" +
			"   imagegen watermark embed --bits sdxl in.png -o marked.png\n" +
			"   imagegen watermark embed --method dwtDctSvd --bits c0ffee42 in.png -o marked.png",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "method", Value: string(watermark.DwtDct), Usage: "dwtDct or dwtDctSvd"},
			&cli.StringFlag{Name: "bits", Value: "sdxl", Usage: "payload: `HEX` digits, or sdxl"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `FILE.png` (required)"},
		},
		Action:       runWatermarkEmbed,
		OnUsageError: usageError("watermark embed"),
	}
}

func watermarkDetectCommand() *cli.Command {
	return &cli.Command{
		Name:      "detect",
		Usage:     "read a mark as invisible-watermark's WatermarkDecoder does",
		ArgsUsage: "IN.png",
		Description: "Prints the bits read and, for 48 bits, whether they are the SDXL payload, with the bit accuracy\n" +
			"and the p-value: the chance that an unmarked picture, whose bits are coin flips, matches as well.\n" +
			"--json prints {\"method\", \"bits\", \"match\", \"bit_accuracy\", \"p_value\"}; the last two are null\n" +
			"when --bits is not 48.\n\n" +
			"Examples:\n" +
			"   imagegen watermark detect sdxl.png\n" +
			"   imagegen watermark detect marked.png --bits 32 --json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "method", Value: string(watermark.DwtDct), Usage: "dwtDct or dwtDctSvd"},
			&cli.IntFlag{Name: "bits", Value: 48, Usage: "number of bits to read (48: the SDXL payload)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
		},
		Action:       runWatermarkDetect,
		OnUsageError: usageError("watermark detect"),
	}
}

func runWatermarkEmbed(c *cli.Context) error {
	in, err := oneInput(c)
	if err != nil || in == "" {
		return err
	}
	out := c.String("output")
	if out == "" {
		return fmt.Errorf("watermark embed: no output file: pass -o OUT.png")
	}
	if strings.ToLower(filepath.Ext(out)) != ".png" {
		return fmt.Errorf("watermark embed: output %s: want a .png file name (lossy formats erase the mark)", out)
	}
	method, err := watermark.ParseMethod(c.String("method"))
	if err != nil {
		return fmt.Errorf("watermark embed: %w", err)
	}
	bits, err := payloadBits(c.String("bits"))
	if err != nil {
		return fmt.Errorf("watermark embed: --bits: %w", err)
	}
	img, err := imageio.LoadImage(in)
	if err != nil {
		return fmt.Errorf("watermark embed: %w", err)
	}
	marked, err := watermark.Encode(img, bits, method)
	if err != nil {
		return fmt.Errorf("watermark embed %s: %w", in, err)
	}
	// Keep the generation record of a PNG input; a JPEG has none.
	var meta imageio.Metadata
	if text, err := imageio.ReadPNGText(in); err == nil {
		meta.Parameters, meta.JSON = text[imageio.ParametersKeyword], text[imageio.JSONKeyword]
	}
	if err := imageio.WritePNG(out, marked, meta); err != nil {
		return fmt.Errorf("watermark embed: %w", err)
	}
	fmt.Println(out)
	return nil
}

// payloadBits reads --bits of embed: hex digits, or "sdxl".
func payloadBits(s string) ([]uint8, error) {
	if strings.EqualFold(s, "sdxl") {
		return watermark.SDXLBits(), nil
	}
	return watermark.ParseHex(s)
}

// detection is detect's --json output.
type detection struct {
	Method      watermark.Method `json:"method"`
	Bits        []int            `json:"bits"`
	Match       bool             `json:"match"`
	BitAccuracy *float64         `json:"bit_accuracy"`
	PValue      *float64         `json:"p_value"`
}

func runWatermarkDetect(c *cli.Context) error {
	in, err := oneInput(c)
	if err != nil || in == "" {
		return err
	}
	method, err := watermark.ParseMethod(c.String("method"))
	if err != nil {
		return fmt.Errorf("watermark detect: %w", err)
	}
	n := c.Int("bits")
	if n < 1 || n > watermark.MaxBits {
		return fmt.Errorf("watermark detect: --bits %d: want 1 to %d", n, watermark.MaxBits)
	}
	img, err := imageio.LoadImage(in)
	if err != nil {
		return fmt.Errorf("watermark detect: %w", err)
	}
	bits, err := watermark.Decode(img, n, method)
	if err != nil {
		return fmt.Errorf("watermark detect %s: %w", in, err)
	}
	res := detection{Method: method, Bits: make([]int, n)}
	for i, b := range bits {
		res.Bits[i] = int(b)
	}
	sdxl := watermark.SDXLBits()
	var cmp watermark.Comparison
	if n == len(sdxl) {
		cmp, _ = watermark.Compare(bits, sdxl)
		res.Match = cmp.Match()
		res.BitAccuracy, res.PValue = &cmp.BitAccuracy, &cmp.PValue
	}
	if c.Bool("json") {
		return printJSON(res)
	}
	var sb strings.Builder
	for _, b := range bits {
		sb.WriteByte('0' + b)
	}
	fmt.Printf("bits: %s\n", sb.String())
	if n%4 == 0 {
		fmt.Printf("hex: %s\n", watermark.FormatHex(bits))
	}
	switch {
	case n != len(sdxl):
		fmt.Printf("sdxl: not compared (the SDXL payload has %d bits; %d read)\n", len(sdxl), n)
	case cmp.Match():
		fmt.Printf("sdxl: match (%d/%d bits, p = %.2g)\n", cmp.Matching, cmp.Bits, cmp.PValue)
	default:
		fmt.Printf("sdxl: no match (%d/%d bits agree, bit accuracy %.3f, p = %.2g)\n", cmp.Matching, cmp.Bits, cmp.BitAccuracy, cmp.PValue)
	}
	return nil
}

// oneInput returns the one picture argument of a watermark subcommand,
// applying the flags written after it. It returns "" and no error when
// --help was asked for there and has been shown.
func oneInput(c *cli.Context) (string, error) {
	name := "watermark " + c.Command.Name
	pos, help, err := trailingFlags(c)
	if err != nil {
		return "", fmt.Errorf("%s: %w (see imagegen %s --help)", name, err, name)
	}
	if help {
		return "", cli.ShowSubcommandHelp(c)
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("%s: want one IN.png argument, got %d", name, len(pos))
	}
	return pos[0], nil
}

// trailingFlags returns c's positional arguments and sets the flags
// written among or after them, which urfave/cli leaves as arguments (it
// stops parsing flags at the first positional one). The top-level
// reordering in args.go does this for the commands it names, but not for
// subcommands. help reports a -h or --help among them.
func trailingFlags(c *cli.Context) (pos []string, help bool, err error) {
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), help, nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" {
			help = true
			continue
		}
		flag := findFlag(c.Command.Flags, name)
		if flag == nil {
			return nil, false, fmt.Errorf("flag provided but not defined: %s", a)
		}
		if !hasValue {
			if _, isBool := flag.(*cli.BoolFlag); isBool {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return nil, false, fmt.Errorf("flag needs an argument: %s", a)
			}
		}
		for _, n := range flag.Names() {
			if err := c.Set(n, value); err != nil {
				return nil, false, fmt.Errorf("invalid value %q for flag %s: %w", value, a, err)
			}
		}
	}
	return pos, help, nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}
