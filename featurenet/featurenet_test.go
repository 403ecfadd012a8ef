package featurenet_test

import (
	"context"
	"errors"
	"image"
	"math"
	"testing"

	"github.com/imagegen/imagegen/featurenet"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

func openNet(t *testing.T) *featurenet.Net {
	t.Helper()
	testort.Init(t)
	net, err := featurenet.Open(ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	return net
}

func pictures(t *testing.T, split shapes.Split, size, first, n int) []image.Image {
	t.Helper()
	out := make([]image.Image, n)
	for i := range out {
		s, err := shapes.Dataset{Split: split, Size: size}.Sample(first + i)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s.Image
	}
	return out
}

func TestFeatures(t *testing.T) {
	net := openNet(t)
	ctx := context.Background()
	// More than one batch, so that batching must not change a picture's
	// features.
	imgs := pictures(t, shapes.HeldOut, featurenet.Size, 0, 70)
	all, err := net.Features(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(imgs) {
		t.Fatalf("got %d feature vectors, want %d", len(all), len(imgs))
	}
	for _, i := range []int{0, 1, 65, 69} {
		one, err := net.Features(ctx, imgs[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0]) != featurenet.Dim {
			t.Fatalf("got %d features, want %d", len(one[0]), featurenet.Dim)
		}
		for j, v := range one[0] {
			if math.IsNaN(v) || math.Abs(v-all[i][j]) > 1e-4*max(1, math.Abs(v)) {
				t.Fatalf("picture %d feature %d: got %v alone, %v in a batch", i, j, v, all[i][j])
			}
		}
	}
	if same(all[0], all[1]) {
		t.Errorf("pictures 0 and 1 have identical features")
	}
}

func same(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFeaturesDownsamples(t *testing.T) {
	net := openNet(t)
	ctx := context.Background()
	small, err := net.Features(ctx, pictures(t, shapes.HeldOut, featurenet.Size, 0, 64))
	if err != nil {
		t.Fatal(err)
	}
	large, err := net.Features(ctx, pictures(t, shapes.HeldOut, 2*featurenet.Size, 0, 64))
	if err != nil {
		t.Fatal(err)
	}
	// The same scenes drawn at 64x64 and box-averaged are close to, not
	// equal to, their 32x32 drawings: each picture's features lie nearer
	// its own 32x32 twin than the other pictures' on average.
	for i := range small {
		own := dist2(large[i], small[i])
		other := 0.0
		for j := range small {
			if j != i {
				other += dist2(large[i], small[j]) / float64(len(small)-1)
			}
		}
		if own >= other/4 {
			t.Errorf("picture %d: squared distance to its 32x32 twin %.3g, to the others %.3g on average", i, own, other)
		}
	}
}

func dist2(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
	}
	return d
}

func TestFeaturesSizeErrors(t *testing.T) {
	net := openNet(t)
	for _, r := range []image.Rectangle{
		image.Rect(0, 0, 48, 48),
		image.Rect(0, 0, 32, 64),
		image.Rect(0, 0, 16, 16),
		image.Rect(0, 0, 0, 0),
	} {
		_, err := net.Features(context.Background(), []image.Image{image.NewNRGBA(r)})
		if !errors.Is(err, featurenet.ErrImageSize) {
			t.Errorf("%v: got %v, want %v", r, err, featurenet.ErrImageSize)
		}
	}
}

// TestFrechetScale checks the distances order as the README's table says:
// real pictures are far nearer other real pictures than noise is.
func TestFrechetScale(t *testing.T) {
	net := openNet(t)
	ctx := context.Background()
	a, err := net.Features(ctx, pictures(t, shapes.HeldOut, featurenet.Size, 0, 200))
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.Features(ctx, pictures(t, shapes.HeldOut, featurenet.Size, 200, 200))
	if err != nil {
		t.Fatal(err)
	}
	gray := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for i := range gray.Pix {
		gray.Pix[i] = 128
	}
	flat := make([]image.Image, 200)
	for i := range flat {
		flat[i] = gray
	}
	c, err := net.Features(ctx, flat)
	if err != nil {
		t.Fatal(err)
	}
	realReal, err := featurenet.FrechetDistance(a, b)
	if err != nil {
		t.Fatal(err)
	}
	realFlat, err := featurenet.FrechetDistance(a, c)
	if err != nil {
		t.Fatal(err)
	}
	if realReal <= 0 || realFlat < 10*realReal {
		t.Errorf("real vs real %.4g, real vs flat gray %.4g: want the second over ten times the first", realReal, realFlat)
	}
}
