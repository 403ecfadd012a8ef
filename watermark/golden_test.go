package watermark

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/imagegen/imagegen/imageio"
)

// The goldens in ../shared/watermark were made by invisible-watermark
// 0.2.0 itself (see its README.md): pairs NAME_orig.png / NAME_marked.png
// and, in wm_refs.json, the bits embedded and what the library's own
// decoder reads from each picture.

// goldenEnv overrides where the goldens are looked for.
const goldenEnv = "IMAGEGEN_WATERMARK_GOLDENS"

type goldenCase struct {
	Name          string  `json:"name"`
	Path          string  `json:"path"`   // "uint8" or "diffusers-float"
	Method        Method  `json:"method"` // "" means dwtDct
	H             int     `json:"h"`
	W             int     `json:"w"`
	Bits          []uint8 `json:"bits"`
	DecodedMarked []uint8 `json:"decoded_marked"`
	DecodedOrig   []uint8 `json:"decoded_orig"`

	orig, marked *image.NRGBA
}

func (c *goldenCase) method() Method {
	if c.Method == "" {
		return DwtDct
	}
	return c.Method
}

type goldenSet struct {
	cases []*goldenCase
	err   error
}

var (
	goldensMu  sync.Mutex
	goldenSets = map[string]*goldenSet{}
)

// goldenDir returns the folder holding the shared goldens' wm_refs.json,
// or "".
func goldenDir() string {
	if d := os.Getenv(goldenEnv); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "watermark")
		if _, err := os.Stat(filepath.Join(cand, "wm_refs.json")); err == nil {
			return cand
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// goldenCases returns the cases of the shared goldens, when present, and
// of testdata/, which holds more sizes and the dwtDctSvd method (see
// testdata/README.md). It logs when the shared goldens are absent.
func goldenCases(t testing.TB) []*goldenCase {
	t.Helper()
	var all []*goldenCase
	if dir := goldenDir(); dir != "" {
		all = append(all, readGoldenSet(t, dir)...)
	} else {
		t.Log("shared watermark goldens not found (expected ../shared/watermark beside the repository, or set " + goldenEnv + "); testing testdata/ only")
	}
	return append(all, readGoldenSet(t, "testdata")...)
}

// sharedGoldenCases returns only the shared goldens' cases, skipping t
// when they are absent.
func sharedGoldenCases(t testing.TB) []*goldenCase {
	t.Helper()
	dir := goldenDir()
	if dir == "" {
		t.Skip("watermark goldens not found: expected ../shared/watermark beside the repository (or set " + goldenEnv + ")")
	}
	return readGoldenSet(t, dir)
}

func readGoldenSet(t testing.TB, dir string) []*goldenCase {
	t.Helper()
	goldensMu.Lock()
	defer goldensMu.Unlock()
	set, ok := goldenSets[dir]
	if !ok {
		set = &goldenSet{}
		set.cases, set.err = readGoldens(dir)
		goldenSets[dir] = set
	}
	if set.err != nil {
		t.Fatalf("goldens in %s: %v", dir, set.err)
	}
	return set.cases
}

func readGoldens(dir string) ([]*goldenCase, error) {
	refs, err := os.ReadFile(filepath.Join(dir, "wm_refs.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Cases []*goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(refs, &doc); err != nil {
		return nil, err
	}
	pics, err := readTarPNGs(filepath.Join(dir, "wm_goldens.tar.gz"))
	if err != nil {
		return nil, err
	}
	for _, c := range doc.Cases {
		var ok1, ok2 bool
		c.orig, ok1 = pics[c.Name+"_orig.png"]
		c.marked, ok2 = pics[c.Name+"_marked.png"]
		if !ok1 || !ok2 {
			return nil, &os.PathError{Op: "find", Path: c.Name + "_{orig,marked}.png", Err: os.ErrNotExist}
		}
	}
	return doc.Cases, nil
}

// readTarPNGs decodes every PNG in a .tar.gz, keyed by base name.
func readTarPNGs(path string) (map[string]*image.NRGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	out := map[string]*image.NRGBA{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(hdr.Name, ".png") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		out[filepath.Base(hdr.Name)] = toNRGBA(img)
	}
}

// agreement counts the pixels of got whose three channels all lie within
// tol of want's, and the largest difference seen.
func agreement(got, want *image.NRGBA, tol int) (within, total, maxDiff int) {
	total = len(want.Pix) / 4
	for i := 0; i < total; i++ {
		ok := true
		for c := 0; c < 3; c++ {
			d := int(got.Pix[4*i+c]) - int(want.Pix[4*i+c])
			d = max(d, -d)
			maxDiff = max(maxDiff, d)
			if d > tol {
				ok = false
			}
		}
		if ok {
			within++
		}
	}
	return within, total, maxDiff
}

func diffBits(got, want []uint8) []int {
	var at []int
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			at = append(at, i)
		}
	}
	return at
}

func TestGoldenDecode(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			for _, pic := range []struct {
				name string
				img  *image.NRGBA
				want []uint8
			}{{"marked", c.marked, c.DecodedMarked}, {"orig", c.orig, c.DecodedOrig}} {
				got, err := Decode(pic.img, len(c.Bits), c.method())
				if err != nil {
					t.Fatal(err)
				}
				if at := diffBits(got, pic.want); len(at) > 0 {
					t.Errorf("%s: got %v, want %v (differ at %v)", pic.name, got, pic.want, at)
				}
			}
		})
	}
}

// minAgreement is the share of pixels that must lie within 1 of the
// library's marked picture in every channel.
const minAgreement = 0.999

func TestGoldenEncode(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var got *image.NRGBA
			switch c.Path {
			case "uint8":
				var err error
				if got, err = Encode(c.orig, c.Bits, c.method()); err != nil {
					t.Fatal(err)
				}
			case "diffusers-float":
				got = applySDXLToPicture(t, c.orig, c.Bits)
			default:
				t.Fatalf("unknown golden path %q", c.Path)
			}
			exact, total, maxDiff := agreement(got, c.marked, 0)
			within, _, _ := agreement(got, c.marked, 1)
			t.Logf("%s path: %d/%d pixels exact (%.4f%%), %.4f%% within ±1, largest difference %d",
				c.Path, exact, total, 100*float64(exact)/float64(total), 100*float64(within)/float64(total), maxDiff)
			if float64(within) < minAgreement*float64(total) {
				t.Errorf("only %d of %d pixels within ±1 of the library's, want %.1f%%", within, total, 100*minAgreement)
			}
		})
	}
}

// applySDXLToPicture runs ApplySDXL (with payload bits, which are
// SDXLBits in the goldens of diffusers' own use) as the SDXL pipeline would
// on a picture given as 8-bit pixels, and post-processes the result to
// bytes as diffusers' VaeImageProcessor does.
func applySDXLToPicture(t *testing.T, img *image.NRGBA, bits []uint8) *image.NRGBA {
	t.Helper()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	plane := w * h
	x := make([]float32, 3*plane)
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			x[c*plane+i] = float32(img.Pix[4*i+c])/127.5 - 1
		}
	}
	apply := func() error { return applyWatermarker(x, []int{1, 3, h, w}, bits) }
	if FormatHex(bits) == FormatHex(SDXLBits()) && len(bits) == 48 {
		apply = func() error { return ApplySDXL(x, []int{1, 3, h, w}) }
	}
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	out := image.NewNRGBA(img.Rect)
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			out.Pix[4*i+c] = imageio.ToUint8(imageio.Denormalize(x[c*plane+i]))
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// TestGoldenEncodeFloatExact feeds the float encoder the golden's own
// pixel values in [0, 255], the input the goldens were made from, and
// checks that it reproduces the library's bytes.
func TestGoldenEncodeFloatExact(t *testing.T) {
	for _, c := range goldenCases(t) {
		if c.Path != "diffusers-float" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			w, h := c.orig.Rect.Dx(), c.orig.Rect.Dy()
			n := w * h
			r, g, b := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := 0; i < n; i++ {
				r[i], g[i], b[i] = float32(c.orig.Pix[4*i]), float32(c.orig.Pix[4*i+1]), float32(c.orig.Pix[4*i+2])
			}
			rl, _ := ruleFor(DwtDct)
			encodeFloat(b, g, r, w, h, c.Bits, rl)
			got := image.NewNRGBA(c.orig.Rect)
			for i := 0; i < n; i++ {
				for k, v := range []float32{r[i], g[i], b[i]} {
					got.Pix[4*i+k] = imageio.ToUint8(imageio.Denormalize(fromPixelScale(v)))
				}
				got.Pix[4*i+3] = 255
			}
			exact, total, maxDiff := agreement(got, c.marked, 0)
			t.Logf("%d/%d pixels exact, largest difference %d", exact, total, maxDiff)
			if within, _, _ := agreement(got, c.marked, 1); float64(within) < minAgreement*float64(total) {
				t.Errorf("only %d of %d pixels within ±1", within, total)
			}
		})
	}
}
