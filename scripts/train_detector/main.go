// Command train_detector trains imagegen's built-in passive detector of
// generated pictures (package detect) and measures it: average precision
// per family on clean pictures and after JPEG 75, and across families
// (trained without a family, tested on it).
//
//	go run ./scripts/train_detector -families builtin:default,builtin:vae,builtin:vqvae -n 400 -train 200 -out detect/detector.json
//
// Each family's pictures are drawn once, as `imagegen eval` draws them
// (one per held-out prompt, seeds 0..n-1; a tokenizer's reconstructions
// of held-out pictures), and cached as PNG under -cache/NAME/; a family
// whose folder holds n pictures is not drawn again. Adding a family (a
// branch's builtin:gan, a checkpoint folder) is one more -families entry.
// The first -train pictures of each family train, the rest test; real
// pictures are shapes renders: the training split for training, held-out
// seeds far from the ones eval uses for testing.
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// realTestOffset is where the real test pictures start in the held-out
// split: past eval's reconstructed originals (0..n-1) and its Fréchet
// reference set (1<<20 on).
const realTestOffset = 1 << 21

func main() {
	families := flag.String("families", "builtin:default,builtin:vae,builtin:vqvae", "comma-separated builtin:NAME or checkpoint folders whose outputs count as generated")
	n := flag.Int("n", 400, "pictures per family")
	train := flag.Int("train", 200, "pictures of each family (and real pictures per family) used for training; the rest test")
	realTest := flag.Int("real-test", 400, "real held-out pictures for testing")
	cache := flag.String("cache", "scripts/train_detector/state/pictures", "folder of the cached generated pictures")
	out := flag.String("out", "", "write the trained detector (clean + JPEG 75 training) to `FILE` (detect/detector.json)")
	quality := flag.Int("jpeg", 75, "JPEG quality of the compressed copies")
	hidden := flag.Int("hidden", 16, "tanh units of the classifier's hidden layer (0: logistic regression)")
	threads := flag.Int("threads", 1, "ONNX Runtime intra-op threads when drawing pictures")
	flag.Parse()
	if *train < 1 || *train >= *n {
		fail(fmt.Errorf("-train %d: want 1 to -n minus 1 (%d)", *train, *n-1))
	}
	cfg := config{families: strings.Split(*families, ","), n: *n, train: *train, realTest: *realTest, cache: *cache, out: *out, quality: *quality, hidden: *hidden}
	if err := run(context.Background(), cfg, ort.Options{IntraOpThreads: *threads}); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "train_detector:", err)
	os.Exit(1)
}

type config struct {
	families           []string
	n, train, realTest int
	cache, out         string
	quality, hidden    int
}

// pictureSet holds one source's train and test pictures.
type pictureSet struct {
	name        string
	train, test []image.Image
}

func run(ctx context.Context, cfg config, sess ort.Options) error {
	var gen []pictureSet
	for _, name := range cfg.families {
		dir := filepath.Join(cfg.cache, shortName(name))
		if err := draw(ctx, name, dir, cfg.n, sess); err != nil {
			return err
		}
		imgs, err := loadPictures(dir, cfg.n)
		if err != nil {
			return err
		}
		gen = append(gen, pictureSet{name: shortName(name), train: imgs[:cfg.train], test: imgs[cfg.train:]})
	}
	real, err := realPictures(cfg.train*len(cfg.families), cfg.realTest)
	if err != nil {
		return err
	}
	return measure(cfg, real, gen)
}

func shortName(name string) string {
	return filepath.Base(strings.TrimPrefix(name, builtin.Scheme))
}

// draw fills dir with n pictures of the model name unless it has them.
func draw(ctx context.Context, name, dir string, n int, sess ort.Options) error {
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%03d.png", n-1))); err == nil {
		return nil
	}
	if !ort.Initialized() {
		lib, err := ortlib.Ensure(ctx, ortlib.Options{})
		if err != nil {
			return err
		}
		if err := ort.Init(lib); err != nil {
			return err
		}
	}
	modelDir := name
	if strings.HasPrefix(name, builtin.Scheme) {
		m, err := builtin.ByName(name)
		if err != nil {
			return err
		}
		if modelDir, err = m.Dir(""); err != nil {
			return err
		}
	}
	p, err := pipeline.Load(ctx, modelDir, pipeline.Options{Session: sess})
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Fprintf(os.Stderr, "drawing %d pictures of %s into %s\n", n, name, dir)
	_, err = evaluate.Run(ctx, p, name, evaluate.Options{N: n, NoFrechet: true, SaveDir: dir, Session: sess})
	return err
}

func loadPictures(dir string, n int) ([]image.Image, error) {
	out := make([]image.Image, n)
	for i := range out {
		img, err := imageio.LoadImage(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
		if err != nil {
			return nil, err
		}
		out[i] = img
	}
	return out, nil
}

// realPictures renders train training-split and test held-out shapes
// pictures at 32x32, the built-in families' size.
func realPictures(train, test int) (pictureSet, error) {
	set := pictureSet{name: "real"}
	for i := range train + test {
		split, idx := shapes.Train, i
		if i >= train {
			split, idx = shapes.HeldOut, realTestOffset+i-train
		}
		s, err := shapes.Dataset{Split: split, Size: 32}.Sample(idx)
		if err != nil {
			return set, err
		}
		if i < train {
			set.train = append(set.train, s.Image)
		} else {
			set.test = append(set.test, s.Image)
		}
	}
	return set, nil
}
