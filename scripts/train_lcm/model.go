package main

import (
	"math"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Scopes of the two frozen copies of the UNet inside the training graph:
// the teacher (the built-in model's UNet, run with classifier-free
// guidance) and the target network θ⁻ (the student's weight average). The
// student itself keeps the export's parameter names.
const (
	teacherScope = "teacher"
	targetScope  = "target"
)

// lcmSigmaData and lcmTimestepScaling are the consistency boundary
// condition's constants as LCMScheduler uses them (sigma_data 0.5,
// timestep_scaling 10): c_skip(t) = σ²/((10t)²+σ²), c_out(t) = 10t/√((10t)²+σ²),
// so f(x, 0) = x and f is the clean estimate almost everywhere else.
const (
	lcmSigmaData       = 0.5
	lcmTimestepScaling = 10
)

// boundaryScalings returns c_skip and c_out at timestep t.
func boundaryScalings(t float64) (cSkip, cOut float64) {
	s := t * lcmTimestepScaling
	d := s*s + lcmSigmaData*lcmSigmaData
	return lcmSigmaData * lcmSigmaData / d, s / math.Sqrt(d)
}

// distillInputs are the per-example inputs of the distillation graph, in
// the order the dataset fills them.
var distillInputs = []string{"encoder_hidden_states", "empty_hidden_states", "sample", "timestep", "timestep_prev", "timestep_cond", "coef"}

// Columns of the "coef" input [B,coefCount,1,1]: the schedule's
// √ᾱ and √(1−ᾱ) at t_{n+k} and t_n, the boundary scalings at both, and
// the guidance scale w the teacher combines its two predictions with.
const (
	coefA = iota
	coefS
	coefAPrev
	coefSPrev
	coefSkip
	coefOut
	coefSkipPrev
	coefOutPrev
	coefW
	coefCount
)

// distillLoss builds latent consistency distillation (Luo et al. 2023,
// "Latent Consistency Models", Algorithm 1) for a v-prediction UNet as one
// graph. From z = z_{n+k} at t = t_{n+k}, the frozen teacher (scope
// "teacher", config teacher) predicts v for the caption and for the empty
// prompt, combines them with classifier-free guidance w and takes one
// DDIM step to z_n at t_n; the frozen target network (scope "target", the
// student's weight average θ⁻) maps z_n to its consistency estimate
// f_θ⁻(z_n, t_n); the student (student config, with timestep_cond = the
// embedding of w) maps z to f_θ(z, t_{n+k}), and the loss is the
// pseudo-Huber distance between the two (huberC 0: mean squared error).
// f(x, t) = c_skip(t)·x + c_out(t)·x̂0 with x̂0 = √ᾱ·x − √(1−ᾱ)·v.
func distillLoss(teacher, student onnxexport.UNetConfig, hiddenLen, hiddenDim int64, batch int64, huberC float64) (*onnxexport.Builder, *onnxexport.Value, []*onnxexport.Value) {
	b := onnxexport.NewBuilder("lcm-distill")
	l := onnxexport.NewLayers(b, 1)
	lat := student.SampleSize
	f32 := onnxexport.Float32
	bd := onnxexport.D(batch)
	cond := b.Input(distillInputs[0], f32, bd, onnxexport.D(hiddenLen), onnxexport.D(hiddenDim))
	empty := b.Input(distillInputs[1], f32, bd, onnxexport.D(hiddenLen), onnxexport.D(hiddenDim))
	z := b.Input(distillInputs[2], f32, bd, onnxexport.D(student.InChannels), onnxexport.D(lat), onnxexport.D(lat))
	t := b.Input(distillInputs[3], f32, bd)
	tPrev := b.Input(distillInputs[4], f32, bd)
	wEmb := b.Input(distillInputs[5], f32, bd, onnxexport.D(student.TimeCondProjDim))
	coef := b.Input(distillInputs[6], f32, bd, onnxexport.D(coefCount), onnxexport.D(1), onnxexport.D(1))
	cols := b.Split(coef, 1, ones(coefCount)...)

	// Teacher: one guided DDIM step z_{n+k} → z_n, no gradient.
	done := l.Scope(teacherScope)
	vBoth := l.UNet2DConditionModel(teacher, onnxexport.UNetInputs{
		Sample: b.Concat(0, z, z), Timestep: b.Concat(0, t, t), EncoderHiddenStates: b.Concat(0, cond, empty)})
	done()
	halves := b.Split(vBoth, 0, batch, batch)
	vCond, vEmpty := halves[0], halves[1]
	v := b.Add(vEmpty, b.Mul(cols[coefW], b.Sub(vCond, vEmpty)))
	x0 := b.Sub(b.Mul(cols[coefA], z), b.Mul(cols[coefS], v))
	eps := b.Add(b.Mul(cols[coefS], z), b.Mul(cols[coefA], v))
	zPrev := b.StopGradient(b.Add(b.Mul(cols[coefAPrev], x0), b.Mul(cols[coefSPrev], eps)))

	consistency := func(x, v, a, s, cSkip, cOut *onnxexport.Value) *onnxexport.Value {
		x0 := b.Sub(b.Mul(a, x), b.Mul(s, v))
		return b.Add(b.Mul(cSkip, x), b.Mul(cOut, x0))
	}
	done = l.Scope(targetScope)
	vTarget := l.UNet2DConditionModel(student, onnxexport.UNetInputs{Sample: zPrev, Timestep: tPrev, EncoderHiddenStates: cond, TimestepCond: wEmb})
	done()
	target := b.StopGradient(consistency(zPrev, vTarget, cols[coefAPrev], cols[coefSPrev], cols[coefSkipPrev], cols[coefOutPrev]))

	vStudent := l.UNet2DConditionModel(student, onnxexport.UNetInputs{Sample: z, Timestep: t, EncoderHiddenStates: cond, TimestepCond: wEmb})
	pred := consistency(z, vStudent, cols[coefA], cols[coefS], cols[coefSkip], cols[coefOut])

	d := b.Sub(pred, target)
	sq := b.Mul(d, d)
	if huberC > 0 {
		c := b.ScalarLike(sq, huberC)
		sq = b.Sub(b.Sqrt(b.Add(sq, b.Mul(c, c))), c)
	}
	loss := b.ReduceMean(sq, false, 0, 1, 2, 3)
	var frozen []*onnxexport.Value
	for _, p := range b.Params() {
		if hasScope(p.Name, teacherScope) || hasScope(p.Name, targetScope) {
			frozen = append(frozen, p.Value)
		}
	}
	return b, loss, frozen
}

func hasScope(name, scope string) bool {
	return len(name) > len(scope) && name[:len(scope)] == scope && name[len(scope)] == '.'
}

func ones(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = 1
	}
	return s
}
