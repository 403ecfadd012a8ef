package shapes

import (
	"fmt"
	"image/color"
	"math"
)

// Color is a named color of the dataset's palette. The zero Color,
// NoColor, means "not said" (for a background) or "none".
type Color int8

// The palette.
const (
	NoColor Color = iota
	Red
	Green
	Blue
	Yellow
	Purple
	Orange
	White
	Black
)

// Colors lists every palette color, in a fixed order.
var Colors = []Color{Red, Green, Blue, Yellow, Purple, Orange, White, Black}

var colorNames = [...]string{NoColor: "", Red: "red", Green: "green", Blue: "blue", Yellow: "yellow",
	Purple: "purple", Orange: "orange", White: "white", Black: "black"}

// colorRGB holds the exact sRGB values the renderer paints. They are
// chosen far apart in CIELAB (every pair at least 30 ΔE76 apart, checked
// by a test) so that a named color survives blur and noise.
var colorRGB = [...]color.NRGBA{
	Red:    {R: 220, G: 30, B: 30, A: 255},
	Green:  {R: 30, G: 160, B: 50, A: 255},
	Blue:   {R: 30, G: 70, B: 230, A: 255},
	Yellow: {R: 250, G: 220, B: 30, A: 255},
	Purple: {R: 140, G: 40, B: 170, A: 255},
	Orange: {R: 250, G: 140, B: 20, A: 255},
	White:  {R: 245, G: 245, B: 245, A: 255},
	Black:  {R: 20, G: 20, B: 20, A: 255},
}

func (c Color) String() string {
	if c < 0 || int(c) >= len(colorNames) {
		return fmt.Sprintf("Color(%d)", int8(c))
	}
	return colorNames[c]
}

func (c Color) valid() bool { return c >= Red && c <= Black }

// RGB returns the sRGB value the renderer paints for c, or transparent
// black for NoColor and unknown colors.
func (c Color) RGB() color.NRGBA {
	if !c.valid() {
		return color.NRGBA{}
	}
	return colorRGB[c]
}

// lab is a CIELAB color (D65 white).
type lab struct{ L, A, B float64 }

func (p lab) dist2(q lab) float64 {
	dl, da, db := p.L-q.L, p.A-q.A, p.B-q.B
	return dl*dl + da*da + db*db
}

// srgbToLinear undoes the sRGB transfer curve of a value in [0, 1].
func srgbToLinear(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

// linearTable maps an 8-bit sRGB value to linear light, so per-pixel
// conversions cost a lookup instead of a pow.
var linearTable = func() (t [256]float64) {
	for i := range t {
		t[i] = srgbToLinear(float64(i) / 255)
	}
	return t
}()

// labOf8 converts 8-bit sRGB to CIELAB.
func labOf8(r, g, b uint8) lab {
	return labOfLinear(linearTable[r], linearTable[g], linearTable[b])
}

// labOfFloat converts sRGB in [0, 255] (not rounded) to CIELAB.
func labOfFloat(r, g, b float64) lab {
	f := func(v float64) float64 { return srgbToLinear(min(max(v/255, 0), 1)) }
	return labOfLinear(f(r), f(g), f(b))
}

func labOfLinear(r, g, b float64) lab {
	// sRGB primaries to XYZ, normalised by the D65 white point.
	x := (0.4124564*r + 0.3575761*g + 0.1804375*b) / 0.95047
	y := 0.2126729*r + 0.7151522*g + 0.0721750*b
	z := (0.0193339*r + 0.1191920*g + 0.9503041*b) / 1.08883
	fx, fy, fz := labF(x), labF(y), labF(z)
	return lab{L: 116*fy - 16, A: 500 * (fx - fy), B: 200 * (fy - fz)}
}

func labF(t float64) float64 {
	const eps = 216.0 / 24389
	if t > eps {
		return math.Cbrt(t)
	}
	return (24389.0/27*t + 16) / 116
}

// paletteLab is the CIELAB value of each palette color.
var paletteLab = func() (t [len(colorRGB)]lab) {
	for _, c := range Colors {
		p := colorRGB[c]
		t[c] = labOf8(p.R, p.G, p.B)
	}
	return t
}()

// nearestColor returns the palette color closest to p in CIELAB and the
// squared distance to it.
func nearestColor(p lab) (Color, float64) {
	best, bestD := NoColor, math.Inf(1)
	for _, c := range Colors {
		if d := p.dist2(paletteLab[c]); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// NearestColor returns the palette color closest to c in CIELAB, the
// naming rule the checker uses for shape and background colors.
func NearestColor(c color.Color) Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	best, _ := nearestColor(labOf8(n.R, n.G, n.B))
	return best
}
