package imageio

import (
	"encoding/json"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

// TestPostprocessGolden checks Denormalize and ToUint8 against torch and
// numpy (testdata/postprocess.json from scripts/gen_imageio_golden.py),
// including exact .5 ties, which numpy rounds to even.
func TestPostprocessGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "postprocess.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Signed    []float32 `json:"signed"`
		Unit      []float32 `json:"unit"`
		Uint8     []uint8   `json:"uint8"`
		Ties      []float32 `json:"ties"`
		TiesUint8 []uint8   `json:"ties_uint8"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Signed) == 0 || len(g.Ties) == 0 {
		t.Fatal("empty golden")
	}
	for i, x := range g.Signed {
		if got := Denormalize(x); got != g.Unit[i] {
			t.Errorf("Denormalize(%v) = %v, want %v", x, got, g.Unit[i])
		}
		if got := ToUint8(Denormalize(x)); got != g.Uint8[i] {
			t.Errorf("ToUint8(Denormalize(%v)) = %d, want %d", x, got, g.Uint8[i])
		}
	}
	for i, x := range g.Ties {
		if got := ToUint8(x); got != g.TiesUint8[i] {
			t.Errorf("ToUint8(%v) = %d, want %d (tie)", x, got, g.TiesUint8[i])
		}
	}
}

func TestToUint8Edges(t *testing.T) {
	nan := float32(0)
	nan = nan / nan
	tests := []struct {
		x    float32
		want uint8
	}{{-3, 0}, {0, 0}, {1, 255}, {7, 255}, {nan, 0}, {0.5, 128}, {1.5 / 255, 2}, {2.5 / 255, 2}}
	for _, tt := range tests {
		if got := ToUint8(tt.x); got != tt.want {
			t.Errorf("ToUint8(%v) = %d, want %d", tt.x, got, tt.want)
		}
	}
}

func TestPostprocess(t *testing.T) {
	// [1, 3, 1, 2] NCHW: R plane, G plane, B plane.
	src := []float32{-1, 1, 0, 0.5, -0.5, 3}
	dst := make([]float32, len(src))
	shape, err := Postprocess(dst, src, []int{1, 3, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0.5, 0.25, 1, 0.75, 1}
	for i := range want {
		if dst[i] != want[i] {
			t.Errorf("dst[%d] = %v, want %v (all %v)", i, dst[i], want[i], dst)
		}
	}
	if len(shape) != 4 || shape[1] != 1 || shape[2] != 2 || shape[3] != 3 {
		t.Errorf("shape = %v, want [1 1 2 3]", shape)
	}
	if _, err := Postprocess(dst[:5], src, []int{1, 3, 1, 2}); !errors.Is(err, ErrShape) {
		t.Errorf("short dst: err = %v, want ErrShape", err)
	}
}

func TestToNRGBA(t *testing.T) {
	// One 1x2 image, pixel 0 = (0, 0.5, 1), pixel 1 = (1, 0.25, 0) in [0, 1].
	nchw := []float32{0, 1, 0.5, 0.25, 1, 0}
	nhwc := []float32{0, 0.5, 1, 1, 0.25, 0}
	signed := make([]float32, len(nchw))
	for i, v := range nchw {
		signed[i] = 2*v - 1
	}
	want := []color.NRGBA{{0, 128, 255, 255}, {255, 64, 0, 255}}
	tests := []struct {
		name   string
		data   []float32
		shape  []int
		layout Layout
		r      Range
	}{
		{"NCHW unit", nchw, []int{1, 3, 1, 2}, NCHW, Unit},
		{"NHWC unit", nhwc, []int{1, 1, 2, 3}, NHWC, Unit},
		{"NCHW signed", signed, []int{1, 3, 1, 2}, NCHW, Signed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := ToNRGBA(tt.data, tt.shape, tt.layout, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 1 || imgs[0].Bounds().Dx() != 2 || imgs[0].Bounds().Dy() != 1 {
				t.Fatalf("got %d images of %v", len(imgs), imgs[0].Bounds())
			}
			for x, w := range want {
				if got := imgs[0].NRGBAAt(x, 0); got != w {
					t.Errorf("pixel %d = %v, want %v", x, got, w)
				}
			}
		})
	}
	gray, err := ToNRGBA([]float32{0.2, 1}, []int{1, 1, 1, 2}, NCHW, Unit)
	if err != nil {
		t.Fatal(err)
	}
	if got := gray[0].NRGBAAt(0, 0); got != (color.NRGBA{51, 51, 51, 255}) {
		t.Errorf("grey pixel = %v", got)
	}
}

func TestToNRGBAErrors(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		shape  []int
		layout Layout
		r      Range
	}{
		{"3-D", 6, []int{3, 1, 2}, NCHW, Unit},
		{"count mismatch", 5, []int{1, 3, 1, 2}, NCHW, Unit},
		{"2 channels", 4, []int{1, 2, 1, 2}, NCHW, Unit},
		{"bad layout", 6, []int{1, 3, 1, 2}, Layout(5), Unit},
		{"bad range", 6, []int{1, 3, 1, 2}, NCHW, Range(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ToNRGBA(make([]float32, tt.n), tt.shape, tt.layout, tt.r); err == nil {
				t.Error("no error")
			}
		})
	}
}

func BenchmarkPostprocess512(b *testing.B) {
	src := make([]float32, 3*512*512)
	for i := range src {
		src[i] = float32(i%200)/100 - 1
	}
	dst := make([]float32, len(src))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Postprocess(dst, src, []int{1, 3, 512, 512}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToNRGBA512(b *testing.B) {
	src := make([]float32, 512*512*3)
	for i := range src {
		src[i] = float32(i%256) / 255
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ToNRGBA(src, []int{1, 512, 512, 3}, NHWC, Unit); err != nil {
			b.Fatal(err)
		}
	}
}
