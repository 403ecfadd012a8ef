package lora

import (
	"math"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/safetensors"
)

// TestLyCORISByHand merges LoHa and LoKr files into the 3-input,
// 2-output Linear layer W = [[1,3,5],[2,4,6]] (x = [1,2,3] gives
// [22, 28]). Each file's update is ΔW = [[1,0,-1],[2,0,-2]] written
// another way, so the merged layer gives [22,28] + s·[-2,-4]:
//
//	LoHa: ([1;2]·[1 1 1]) ⊙ ([1;1]·[1 0 -1]), alpha 1, dim 1: s = scale
//	LoKr: [1;2] ⊗ [1 0 -1], both factors whole: s = scale, alpha ignored
//	LoKr: [1;2] ⊗ ([1]·[1 0 -1]), w2 low-rank, alpha 0.5, dim 1: s = scale/2
func TestLyCORISByHand(t *testing.T) {
	testort.Init(t)
	x := []float32{1, 2, 3}
	const key = "lora_unet_mid_block_attentions_0_to_q."
	tensor := func(shape []int64, data ...float32) safetensors.Tensor {
		return safetensors.Tensor{Shape: shape, Data: data}
	}
	for _, tc := range []struct {
		name  string
		file  map[string]safetensors.Tensor
		kind  Kind
		scale float64
		want  []float32
	}{
		{"loha", map[string]safetensors.Tensor{
			key + "hada_w1_a": tensor([]int64{2, 1}, 1, 2), key + "hada_w1_b": tensor([]int64{1, 3}, 1, 1, 1),
			key + "hada_w2_a": tensor([]int64{2, 1}, 1, 1), key + "hada_w2_b": tensor([]int64{1, 3}, 1, 0, -1),
			key + "alpha": tensor([]int64{}, 1),
		}, KindLoHa, 1, []float32{20, 24}},
		{"loha at 0.5", map[string]safetensors.Tensor{
			key + "hada_w1_a": tensor([]int64{2, 1}, 1, 2), key + "hada_w1_b": tensor([]int64{1, 3}, 1, 1, 1),
			key + "hada_w2_a": tensor([]int64{2, 1}, 1, 1), key + "hada_w2_b": tensor([]int64{1, 3}, 1, 0, -1),
		}, KindLoHa, 0.5, []float32{21, 26}},
		{"lokr whole", map[string]safetensors.Tensor{
			key + "lokr_w1": tensor([]int64{2, 1}, 1, 2), key + "lokr_w2": tensor([]int64{1, 3}, 1, 0, -1),
			key + "alpha": tensor([]int64{}, 8),
		}, KindLoKr, 1, []float32{20, 24}},
		{"lokr low-rank w2", map[string]safetensors.Tensor{
			key + "lokr_w1":   tensor([]int64{2, 1}, 1, 2),
			key + "lokr_w2_a": tensor([]int64{1, 1}, 1), key + "lokr_w2_b": tensor([]int64{1, 3}, 1, 0, -1),
			key + "alpha": tensor([]int64{}, 0.5),
		}, KindLoKr, 1, []float32{21, 26}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Load(writeLoRA(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Adapters) != 1 || f.Adapters[0].Kind != tc.kind || len(f.Unknown) != 0 {
				t.Fatalf("adapters %+v unknown %v", f.Adapters, f.Unknown)
			}
			m := linearModel(t)
			unmatched, err := Merge(m, "", []Scaled{{f.Adapters[0], tc.scale}})
			if err != nil || len(unmatched) != 0 {
				t.Fatalf("merge: %v, unmatched %v", err, unmatched)
			}
			if got := run(t, m, x); got[0] != tc.want[0] || got[1] != tc.want[1] {
				t.Errorf("merged model gives %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLoKrConvDelta checks a LoKr update of a 3×3 convolution (4 outputs,
// 6 inputs) against the Kronecker product written out:
// ΔW[i1·2+i2, j1·2+j2, y, x] = w1[i1,j1] · w2[i2,j2,y,x].
func TestLoKrConvDelta(t *testing.T) {
	w1 := []float32{1, -2, 0.5, 3, 0, -1} // [2,3]
	w2 := make([]float32, 2*2*9)          // [2,2,3,3]
	for i := range w2 {
		w2[i] = float32(i%5) - 2
	}
	a := Scaled{&Adapter{Key: "conv", Kind: KindLoKr, Up: w2, UpShape: []int64{2, 2, 3, 3}, Up2: w1, Up2Shape: []int64{2, 3}, Alpha: 4}, 1.5}
	w := make([]float32, 4*6*9)
	if err := addDelta(w, []int64{4, 6, 3, 3}, true, a); err != nil {
		t.Fatal(err)
	}
	for i1 := range 2 {
		for i2 := range 2 {
			for j1 := range 3 {
				for j2 := range 2 {
					for k := range 9 {
						want := 1.5 * float64(w1[i1*3+j1]) * float64(w2[(i2*2+j2)*9+k])
						got := w[((i1*2+i2)*6+j1*2+j2)*9+k]
						if math.Abs(float64(got)-want) > 1e-6 {
							t.Fatalf("ΔW[%d,%d,%d] = %g, want %g", i1*2+i2, j1*2+j2, k, got, want)
						}
					}
				}
			}
		}
	}
	if err := addDelta(w, []int64{4, 5, 3, 3}, true, a); err == nil {
		t.Error("a LoKr update that does not fit the weight merged without an error")
	}
}

// TestTuckerUnknown: Tucker-decomposed LoHa tensors are listed as unknown
// beside a LoRA pair that loads.
func TestTuckerUnknown(t *testing.T) {
	one := safetensors.Tensor{Shape: []int64{1, 1}, Data: []float32{1}}
	f, err := Load(writeLoRA(t, map[string]safetensors.Tensor{
		"lora_unet_a.lora_up.weight": one, "lora_unet_a.lora_down.weight": one,
		"lora_unet_b.hada_w1_a": one, "lora_unet_b.hada_w1_b": one, "lora_unet_b.hada_w2_a": one,
		"lora_unet_b.hada_w2_b": one, "lora_unet_b.hada_t1": one, "lora_unet_b.hada_t2": one,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Adapters) != 1 || len(f.Unknown) != 6 {
		t.Errorf("%d adapters, unknown %v; want 1 and the six hada keys", len(f.Adapters), f.Unknown)
	}
}

// FuzzLyCORISDelta: LoHa and LoKr factors of any shape either fit a
// weight or give an error, never a panic.
func FuzzLyCORISDelta(f *testing.F) {
	f.Add(true, uint8(2), uint8(1), uint8(1), uint8(3), uint8(2), uint8(3), uint8(1))
	f.Add(false, uint8(2), uint8(3), uint8(2), uint8(2), uint8(4), uint8(6), uint8(9))
	f.Add(false, uint8(0), uint8(3), uint8(2), uint8(2), uint8(4), uint8(6), uint8(1))
	f.Fuzz(func(t *testing.T, loha bool, a, b, c, d, out, in, kernel uint8) {
		fill := func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(i%3) - 1
			}
			return v
		}
		ad := &Adapter{Key: "fuzz", Kind: KindLoKr, Alpha: 1,
			Up: fill(int(c) * int(d)), UpShape: []int64{int64(c), int64(d)},
			Up2: fill(int(a) * int(b)), Up2Shape: []int64{int64(a), int64(b)}}
		if loha {
			ad.Kind = KindLoHa
			ad.Down, ad.DownShape = fill(int(d)*int(b)), []int64{int64(d), int64(b)}
			ad.Down2, ad.Down2Shape = fill(int(b)*int(b)), []int64{int64(b), int64(b)}
		}
		shape := []int64{int64(out), int64(in), int64(kernel), 1}
		w := make([]float32, int(out)*int(in)*int(kernel))
		_ = addDelta(w, shape, true, Scaled{ad, 1})
	})
}
