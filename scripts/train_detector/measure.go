package main

import (
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"strings"

	"github.com/imagegen/imagegen/detect"
	"github.com/imagegen/imagegen/imageio"
)

// features holds one picture set's feature rows, clean and after JPEG.
type features struct {
	name                string
	train, test         [][]float64
	trainJPEG, testJPEG [][]float64
}

func featurize(set pictureSet, quality int) (features, error) {
	f := features{name: set.name}
	var err error
	if f.train, f.trainJPEG, err = rows(set.train, quality); err != nil {
		return f, err
	}
	f.test, f.testJPEG, err = rows(set.test, quality)
	return f, err
}

func rows(imgs []image.Image, quality int) (clean, compressed [][]float64, err error) {
	for _, img := range imgs {
		c, err := detect.Features(img)
		if err != nil {
			return nil, nil, err
		}
		j, err := detect.JPEG(img, quality)
		if err != nil {
			return nil, nil, err
		}
		jf, err := detect.Features(j)
		if err != nil {
			return nil, nil, err
		}
		clean, compressed = append(clean, c), append(compressed, jf)
	}
	return clean, compressed, nil
}

// trainOn fits a detector on the real training rows and those of gen,
// with the JPEG copies too when withJPEG.
func trainOn(real features, gen []features, withJPEG bool, hidden int) (*detect.Model, error) {
	var x [][]float64
	var y []bool
	add := func(r [][]float64, generated bool) {
		for _, row := range r {
			x, y = append(x, row), append(y, generated)
		}
	}
	add(real.train, false)
	if withJPEG {
		add(real.trainJPEG, false)
	}
	for _, g := range gen {
		add(g.train, true)
		if withJPEG {
			add(g.trainJPEG, true)
		}
	}
	return detect.Train(x, y, detect.TrainOptions{Hidden: hidden, Seed: 1})
}

// ap is the average precision of m on real test rows against gen rows.
func ap(m *detect.Model, real, gen [][]float64) (float64, error) {
	var scores []float64
	var pos []bool
	for k, set := range [][][]float64{real, gen} {
		for _, row := range set {
			p, err := m.Probability(row)
			if err != nil {
				return 0, err
			}
			scores, pos = append(scores, p), append(pos, k == 1)
		}
	}
	return detect.AveragePrecision(scores, pos)
}

// rate is the share of rows m scores at or above 0.5.
func rate(m *detect.Model, rows [][]float64) float64 {
	hit := 0
	for _, row := range rows {
		if p, _ := m.Probability(row); p >= 0.5 {
			hit++
		}
	}
	return float64(hit) / float64(len(rows))
}

func measure(cfg config, realSet pictureSet, genSets []pictureSet) error {
	real, err := featurize(realSet, cfg.quality)
	if err != nil {
		return err
	}
	gen := make([]features, len(genSets))
	for i, s := range genSets {
		if gen[i], err = featurize(s, cfg.quality); err != nil {
			return err
		}
	}
	fmt.Printf("Pictures: %d real training + %d real held-out test (32x32 shapes renders); per family %d training + %d test. JPEG: Go image/jpeg quality %d.\n\n",
		len(real.train), len(real.test), cfg.train, cfg.n-cfg.train, cfg.quality)

	fmt.Println("Average precision per family (test pictures of the family against the real test pictures):")
	fmt.Println()
	fmt.Println("| family | trained on clean: clean AP | JPEG AP | trained on clean + JPEG: clean AP | JPEG AP | detected at 0.5 (clean / JPEG) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	clean, err := trainOn(real, gen, false, cfg.hidden)
	if err != nil {
		return err
	}
	both, err := trainOn(real, gen, true, cfg.hidden)
	if err != nil {
		return err
	}
	for _, g := range gen {
		cells := []string{g.name}
		for _, m := range []*detect.Model{clean, both} {
			for _, pair := range [][2][][]float64{{real.test, g.test}, {real.testJPEG, g.testJPEG}} {
				a, err := ap(m, pair[0], pair[1])
				if err != nil {
					return err
				}
				cells = append(cells, fmt.Sprintf("%.3f", a))
			}
		}
		cells = append(cells, fmt.Sprintf("%.1f%% / %.1f%%", 100*rate(both, g.test), 100*rate(both, g.testJPEG)))
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	fmt.Printf("\nReal test pictures called generated at 0.5 (clean + JPEG model): clean %.1f%%, JPEG %.1f%%.\n\n",
		100*rate(both, real.test), 100*rate(both, real.testJPEG))

	if err := crossFamily(real, gen, cfg.hidden); err != nil {
		return err
	}
	if cfg.out == "" {
		return nil
	}
	var names []string
	for _, g := range gen {
		names = append(names, g.name)
	}
	bm := detect.BuiltinModel{Model: *both, Families: names, Size: 32,
		Note: fmt.Sprintf("scripts/train_detector -n %d -train %d -jpeg %d -hidden %d: %d real and %d generated training pictures, each clean and after JPEG %d",
			cfg.n, cfg.train, cfg.quality, cfg.hidden, len(real.train), cfg.train*len(gen), cfg.quality)}
	data, err := json.MarshalIndent(bm, "", " ")
	if err != nil {
		return err
	}
	err = imageio.WriteFileAtomic(cfg.out, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", cfg.out)
	return nil
}

// crossFamily prints the AP of detectors trained on one family (rows)
// tested on each family (columns), and of a detector trained on all
// families but one, tested on that one.
func crossFamily(real features, gen []features, hidden int) error {
	fmt.Println("Across families (clean + JPEG training; clean test AP, JPEG test AP in parentheses):")
	fmt.Println()
	head := "| trained on |"
	sep := "| --- |"
	for _, g := range gen {
		head += " tested on " + g.name + " |"
		sep += " --- |"
	}
	fmt.Println(head)
	fmt.Println(sep)
	row := func(label string, m func(target int) (*detect.Model, error)) error {
		cells := []string{label}
		for j, g := range gen {
			mod, err := m(j)
			if err != nil {
				return err
			}
			if mod == nil {
				cells = append(cells, "—")
				continue
			}
			a, err := ap(mod, real.test, g.test)
			if err != nil {
				return err
			}
			b, err := ap(mod, real.testJPEG, g.testJPEG)
			if err != nil {
				return err
			}
			cells = append(cells, fmt.Sprintf("%.3f (%.3f)", a, b))
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
		return nil
	}
	for i, g := range gen {
		m, err := trainOn(real, gen[i:i+1], true, hidden)
		if err != nil {
			return err
		}
		if err := row(g.name+" only", func(int) (*detect.Model, error) { return m, nil }); err != nil {
			return err
		}
	}
	if len(gen) < 2 {
		return nil
	}
	return row("all others (leave one out)", func(target int) (*detect.Model, error) {
		var others []features
		for k, g := range gen {
			if k != target {
				others = append(others, g)
			}
		}
		return trainOn(real, others, true, hidden)
	})
}
