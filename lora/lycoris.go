package lora

import (
	"fmt"
	"strings"

	"github.com/imagegen/imagegen/safetensors"
)

// LyCORIS's LoHa and LoKr adapters, as AUTOMATIC1111's built-in Lora
// extension applies them:
//
//	LoHa: ΔW = (w1_a·w1_b) ⊙ (w2_a·w2_b), scaled by alpha/dim, dim = rows of w1_b
//	LoKr: ΔW = w1 ⊗ w2 (Kronecker product), each factor whole (lokr_w1)
//	      or low-rank (lokr_w1_a·lokr_w1_b); scaled by alpha/dim when a
//	      factor is low-rank (dim its rank, w2's if both are), else by 1.
//
// Tucker-decomposed convolutions (hada_t1/t2, lokr_t2) are not read: their
// keys stay unknown.

// Kind is the form of an adapter's update.
type Kind int

// The adapter kinds.
const (
	KindLoRA Kind = iota // Up·Down
	KindLoHa             // (Up·Down) ⊙ (Up2·Down2)
	KindLoKr             // (Up2·Down2 or Up2) ⊗ (Up·Down or Up)
)

// lycorisSuffixes are the tensor names after a module's key.
var lycorisSuffixes = []string{
	"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2",
	"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2",
}

// lycorisPart splits a key into its module key and LyCORIS tensor name.
func lycorisPart(name string) (base, part string, ok bool) {
	for _, s := range lycorisSuffixes {
		if b, found := strings.CutSuffix(name, "."+s); found {
			return b, s, true
		}
	}
	return "", "", false
}

// readLyCORIS builds a LoHa or LoKr adapter from a module's tensors
// (parts: LyCORIS name → file key). It returns nil for a module of no known
// component or an incomplete or Tucker-decomposed set, whose keys the
// caller reports as unknown.
func readLyCORIS(st *safetensors.File, base string, parts map[string]string, alphaName string) (*Adapter, error) {
	a := &Adapter{Key: base}
	for _, p := range componentPrefixes {
		if rest, ok := strings.CutPrefix(base, p.prefix); ok {
			a.Component, a.Module = p.component, strings.ReplaceAll(rest, ".", "_")
			break
		}
	}
	if a.Component == "" || parts["hada_t1"] != "" || parts["hada_t2"] != "" || parts["lokr_t2"] != "" {
		return nil, nil
	}
	read := func(part string, data *[]float32, shape *[]int64) error {
		name := parts[part]
		if name == "" {
			return nil
		}
		v, err := st.Float32(name)
		if err != nil {
			return err
		}
		info, _ := st.Info(name)
		*data, *shape = v, info.Shape
		return nil
	}
	var names [4]string
	switch {
	case parts["hada_w1_a"] != "":
		a.Kind, names = KindLoHa, [4]string{"hada_w2_a", "hada_w2_b", "hada_w1_a", "hada_w1_b"}
	case parts["lokr_w1"] != "" || parts["lokr_w1_a"] != "":
		a.Kind = KindLoKr
		names = [4]string{"lokr_w2", "lokr_w2_b", "lokr_w1", "lokr_w1_b"}
		if parts["lokr_w2"] == "" {
			names[0] = "lokr_w2_a"
		}
		if parts["lokr_w1"] == "" {
			names[2] = "lokr_w1_a"
		}
	default:
		return nil, nil
	}
	// Up·Down is LoHa's second pair and LoKr's w2; Up2·Down2 LoHa's first
	// pair and LoKr's w1.
	for i, dst := range []struct {
		data  *[]float32
		shape *[]int64
	}{{&a.Up, &a.UpShape}, {&a.Down, &a.DownShape}, {&a.Up2, &a.Up2Shape}, {&a.Down2, &a.Down2Shape}} {
		if err := read(names[i], dst.data, dst.shape); err != nil {
			return nil, err
		}
	}
	if a.Up == nil || a.Up2 == nil || a.Kind == KindLoHa && (a.Down == nil || a.Down2 == nil) {
		return nil, nil
	}
	if err := a.checkFactors(); err != nil {
		return nil, err
	}
	if alphaName != "" {
		v, err := st.Float32(alphaName)
		if err != nil {
			return nil, err
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("%s: alpha has %d values, want 1", base, len(v))
		}
		a.Alpha = v[0]
	}
	return a, nil
}

// checkFactors checks that each low-rank pair multiplies.
func (a *Adapter) checkFactors() error {
	pair := func(up, down []int64) error {
		bad := len(up) < 2 || down != nil && (len(down) < 2 || up[1] != down[0])
		for _, d := range append(append([]int64(nil), up...), down...) {
			bad = bad || d < 1
		}
		if bad {
			return fmt.Errorf("%s: %v and %v are not a low-rank pair", a.Key, up, down)
		}
		return nil
	}
	if err := pair(a.UpShape, a.DownShape); err != nil {
		return err
	}
	return pair(a.Up2Shape, a.Down2Shape)
}

// dim is the rank alpha is divided by; 0 means no division.
func (a *Adapter) dim() int {
	switch {
	case a.Kind != KindLoKr:
		return a.Rank()
	case a.Down != nil:
		return int(a.DownShape[0])
	case a.Down2 != nil:
		return int(a.Down2Shape[0])
	}
	return 0
}

// product returns up·down as a rows × (elements/rows) matrix; down nil
// means up is the whole matrix.
func product(up []float32, upShape []int64, down []float32, downShape []int64) (rows, cols int, m []float64) {
	rows = int(upShape[0])
	if down == nil {
		m = make([]float64, len(up))
		for i, v := range up {
			m[i] = float64(v)
		}
		return rows, len(up) / rows, m
	}
	rank := int(downShape[0])
	cols = len(down) / rank
	m = make([]float64, rows*cols)
	for o := range rows {
		for r := range rank {
			u := float64(up[o*rank+r])
			if u == 0 {
				continue
			}
			row := m[o*cols : (o+1)*cols]
			for i, v := range down[r*cols : (r+1)*cols] {
				row[i] += u * float64(v)
			}
		}
	}
	return rows, cols, m
}

// dense returns a LoHa or LoKr update as an out × in·kernel matrix for a
// weight of out outputs, in inputs and kernel elements per input.
func (a *Adapter) dense(out, in, kernel int) ([]float64, error) {
	if err := a.checkFactors(); err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	mismatch := fmt.Errorf("lora: %s: factors %v·%v and %v·%v do not fit a weight of %d outputs, %d inputs, kernel %d",
		a.Key, a.Up2Shape, a.Down2Shape, a.UpShape, a.DownShape, out, in, kernel)
	r2, c2, w2 := product(a.Up, a.UpShape, a.Down, a.DownShape)
	r1, c1, w1 := product(a.Up2, a.Up2Shape, a.Down2, a.Down2Shape)
	if a.Kind == KindLoHa {
		if r1 != out || r2 != out || c1 != in*kernel || c2 != in*kernel {
			return nil, mismatch
		}
		for i := range w1 {
			w1[i] *= w2[i]
		}
		return w1, nil
	}
	// LoKr: w1 [r1, c1] ⊗ w2 [r2, d·kernel] with out = r1·r2, in = c1·d.
	if r1*r2 != out || in%c1 != 0 || c2 != in/c1*kernel {
		return nil, mismatch
	}
	d := in / c1
	m := make([]float64, out*in*kernel)
	for i1 := range r1 {
		for j1 := range c1 {
			v := w1[i1*c1+j1]
			for i2 := range r2 {
				row := m[(i1*r2+i2)*in*kernel:]
				src := w2[i2*c2 : (i2+1)*c2] // [d, kernel]
				dst := row[j1*d*kernel : (j1+1)*d*kernel]
				for k, s := range src {
					dst[k] += v * s
				}
			}
		}
	}
	return m, nil
}
