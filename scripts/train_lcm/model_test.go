package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/latentset"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func tinyUNet() onnxexport.UNetConfig {
	return onnxexport.UNetConfig{
		InChannels: 4, OutChannels: 4, SampleSize: 8, BlockOutChannels: []int64{16, 32},
		DownBlockTypes: []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D},
		UpBlockTypes:   []string{onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D},
		LayersPerBlock: 1, AttentionHeads: []int64{2}, CrossAttentionDim: 16, NormGroups: 8, NormEps: 1e-5,
		TextTimeHeads: 2, PositionEmbedding: true,
	}
}

// TestBoundaryScalings checks LCM's boundary condition: f(x, 0) = x, and
// almost the clean estimate alone at the grid's timesteps.
func TestBoundaryScalings(t *testing.T) {
	for _, c := range []struct {
		t              float64
		skip, out, tol float64
	}{
		{0, 1, 0, 0},
		{19, 0.25 / (190*190 + 0.25), 190 / math.Sqrt(190*190+0.25), 1e-12},
		{999, 0, 1, 1e-6},
	} {
		skip, out := boundaryScalings(c.t)
		if math.Abs(skip-c.skip) > c.tol || math.Abs(out-c.out) > c.tol {
			t.Errorf("t %v: c_skip %v c_out %v, want %v %v", c.t, skip, out, c.skip, c.out)
		}
	}
}

// TestGuidanceEmbedding checks the embedding of w − 1: sines then cosines
// of (w−1)·1000 at geometric frequencies from 1 down to 1/10000.
func TestGuidanceEmbedding(t *testing.T) {
	got := make([]float32, 8)
	guidanceEmbedding(1, got)
	if want := []float32{0, 0, 0, 0, 1, 1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("w 1: %v, want %v", got, want)
	}
	guidanceEmbedding(3, got)
	for k, f := range []float64{1, math.Pow(10000, -1.0/3), math.Pow(10000, -2.0/3), 1e-4} {
		if s, c := math.Sin(2000*f), math.Cos(2000*f); math.Abs(float64(got[k])-s) > 1e-3 || math.Abs(float64(got[4+k])-c) > 1e-3 {
			t.Errorf("w 3, frequency %d: %v %v, want %v %v", k, got[k], got[4+k], s, c)
		}
	}
}

// TestDistillLossParams checks the graph's three networks: the teacher
// and the target network frozen (host inputs) under their scopes, the
// student trained under the names of the exported UNet, with the
// time_cond_proj the teacher lacks.
func TestDistillLossParams(t *testing.T) {
	teacher := tinyUNet()
	student := teacher
	student.TimeCondProjDim = 8
	b, loss, frozen := distillLoss(teacher, student, 3, 16, 2, 1e-3)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if loss == nil {
		t.Fatal("no loss")
	}
	export := onnxexport.NewUNetGraph(student, 0)
	var want []string
	for _, p := range export.Params() {
		want = append(want, p.Name)
	}
	isFrozen := map[string]bool{}
	for _, v := range frozen {
		isFrozen[v.Name()] = true
	}
	var trained, teacherN, targetN []string
	for _, p := range b.Params() {
		switch {
		case hasScope(p.Name, teacherScope):
			teacherN = append(teacherN, p.Name)
		case hasScope(p.Name, targetScope):
			targetN = append(targetN, p.Name)
		default:
			trained = append(trained, p.Name)
		}
		if isFrozen[p.Name] == (!hasScope(p.Name, teacherScope) && !hasScope(p.Name, targetScope)) {
			t.Errorf("%s: frozen %v", p.Name, isFrozen[p.Name])
		}
	}
	slices.Sort(want)
	slices.Sort(trained)
	if !slices.Equal(trained, want) {
		t.Errorf("student parameters %v, want the exported UNet's %v", trained, want)
	}
	if len(targetN) != len(want) || len(teacherN) != len(want)-1 {
		t.Errorf("%d target and %d teacher parameters, want %d and %d (no cond_proj)", len(targetN), len(teacherN), len(want), len(want)-1)
	}
	if _, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{EMADecay: 0.95}, frozen...); err != nil {
		t.Fatal(err)
	}
}

// TestDistillExamples checks the drawn examples: timesteps on the
// skipping grid, one grid step apart (clamped at 0), noise at t_{n+k}
// with √ᾱ² + √(1−ᾱ)² = 1, boundary scalings of both timesteps and the
// guidance scale in range.
func TestDistillExamples(t *testing.T) {
	set := &latentset.Set{N: 3, Per: 4, HiddenLen: 2, Hidden: 3,
		Latents: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, States: make([]float32, 4*6)}
	set.EmptyStates = set.States[18:]
	e := &distillExamples{set: set, ac: ddpmAlphasCumprod(), origSteps: 50, wMin: 2, wMax: 4}
	sizes := []int{6, 6, 4, 1, 1, 8, coefCount}
	dst := make([]onnxexport.ExampleSlot, len(sizes))
	for i, n := range sizes {
		dst[i].F32 = make([]float32, n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seen0 := false
	for range 500 {
		if err := e.Example(1, rng, dst); err != nil {
			t.Fatal(err)
		}
		tt, tp, c := int(dst[3].F32[0]), int(dst[4].F32[0]), dst[6].F32
		if (tt+1)%20 != 0 || tt < 19 || tt > 999 || tp != max(tt-20, 0) {
			t.Fatalf("timesteps %d → %d, want the 50-step grid 19..999 and one step down", tt, tp)
		}
		seen0 = seen0 || tp == 0
		if a, s := float64(c[coefA]), float64(c[coefS]); math.Abs(a*a+s*s-1) > 1e-5 || math.Abs(a*a-e.ac[tt]) > 1e-5 {
			t.Errorf("t %d: √ᾱ %v √(1−ᾱ) %v", tt, a, s)
		}
		skip, out := boundaryScalings(float64(tp))
		if math.Abs(float64(c[coefSkipPrev])-skip) > 1e-6 || math.Abs(float64(c[coefOutPrev])-out) > 1e-6 {
			t.Errorf("t_n %d: scalings %v %v, want %v %v", tp, c[coefSkipPrev], c[coefOutPrev], skip, out)
		}
		if w := c[coefW]; w < 2 || w > 4 {
			t.Errorf("w %v outside [2, 4]", w)
		}
	}
	if !seen0 {
		t.Error("500 draws never reached the grid's first step (t_n = 0)")
	}
}

// TestStudentInitFromTeacher loads the built-in model as the teacher:
// every parameter of the three networks comes from it but the student's
// cond_proj, which is zero.
func TestStudentInitFromTeacher(t *testing.T) {
	cfg, w, err := teacherUNet("../../defaultmodel/model")
	if err != nil {
		t.Fatal(err)
	}
	student := cfg
	student.TimeCondProjDim = 8
	b, _, _ := distillLoss(cfg, student, 32, 128, 1, 0)
	init, err := studentInit(b, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range b.Params() {
		got := init[p.Name]
		name := p.Name
		for _, s := range []string{teacherScope + ".", targetScope + "."} {
			name = strings.TrimPrefix(name, s)
		}
		if strings.HasPrefix(name, condProjPrefix) {
			if slices.ContainsFunc(got.Float32, func(v float32) bool { return v != 0 }) {
				t.Errorf("%s is not zero", p.Name)
			}
			continue
		}
		if !slices.Equal(got.Float32, w[name].Float32) {
			t.Errorf("%s is not the teacher's %s", p.Name, name)
		}
	}
	delete(w, "conv_in.weight")
	if _, err := studentInit(b, w); err == nil || !strings.Contains(err.Error(), "conv_in.weight") {
		t.Errorf("a teacher without conv_in.weight: %v", err)
	}
}
