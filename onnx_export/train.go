package onnxexport

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// A training step as one ONNX graph: forward pass, loss, backward pass
// (Gradients), global-norm gradient clipping, the AdamW update and an
// exponential moving average of the weights. Parameters and optimizer
// state are graph inputs and the updated values are graph outputs, so one
// session runs every step and the host only swaps buffers.

// Names of the training graph's fixed inputs and outputs. Per-parameter
// state uses prefixes on the parameter's state_dict name: the input
// "adam_m/conv_in.weight" comes back as "new/adam_m/conv_in.weight".
const (
	TrainInputLR       = "lr"        // [1] learning rate of this step
	TrainInputStep     = "step"      // [1] 1-based step number (bias correction)
	TrainOutputLoss    = "loss"      // [1]
	TrainOutputNorm    = "grad_norm" // [1] global gradient norm before clipping
	StatePrefixAdamM   = "adam_m/"
	StatePrefixAdamV   = "adam_v/"
	StatePrefixEMA     = "ema/"
	UpdatedStatePrefix = "new/"
)

// AdamWConfig holds the optimizer settings baked into a training graph.
// Zero values mean PyTorch's torch.optim.AdamW defaults (betas 0.9 and
// 0.999, eps 1e-8, weight decay 0.01); set NoWeightDecay to turn decay off.
type AdamWConfig struct {
	Beta1, Beta2  float64
	Eps           float64
	WeightDecay   float64
	NoWeightDecay bool
	// MaxGradNorm clips the global L2 norm of all gradients (as
	// torch.nn.utils.clip_grad_norm_); 0 turns clipping off.
	MaxGradNorm float64
	// EMADecay is the decay of the weight average kept next to the
	// weights; 0 keeps no average.
	EMADecay float64
}

func (c AdamWConfig) withDefaults() AdamWConfig {
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.WeightDecay == 0 && !c.NoWeightDecay {
		c.WeightDecay = 0.01
	}
	if c.NoWeightDecay {
		c.WeightDecay = 0
	}
	return c
}

// Validate reports settings outside their ranges.
func (c AdamWConfig) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Beta1 < 0 || d.Beta1 >= 1, d.Beta2 < 0 || d.Beta2 >= 1:
		return fmt.Errorf("onnxexport: adamw: %w: betas %v, %v must be in [0, 1)", ErrArgument, d.Beta1, d.Beta2)
	case d.Eps < 0, d.WeightDecay < 0, d.MaxGradNorm < 0:
		return fmt.Errorf("onnxexport: adamw: %w: eps, weight decay and max grad norm must not be negative", ErrArgument)
	case d.EMADecay < 0 || d.EMADecay >= 1:
		return fmt.Errorf("onnxexport: adamw: %w: EMA decay %v must be in [0, 1)", ErrArgument, d.EMADecay)
	}
	return nil
}

// TrainParam is one trained parameter: its name, and its initial value
// (the initializer's tensor at the time the graph was made).
type TrainParam struct {
	Name   string
	Shape  []int64
	DType  DType
	Init   *Tensor
	HasEMA bool
}

// TrainGraph is a serialized training step and the description the
// trainer needs to feed it.
type TrainGraph struct {
	Name   string
	Model  []byte       // ONNX model of one training step
	Batch  []ValueInfo  // per-batch data inputs, as the loss graph declared them
	Params []TrainParam // trained parameters, in graph input order
	Config AdamWConfig  // with defaults filled in
	// Host lists the inputs the host sets between steps (Trainer.SetHost)
	// rather than the dataset: state kept beside the graph and not
	// trained by it, such as a vector quantizer's EMA codebook.
	Host []ValueInfo
	// Aux lists the outputs the loss graph declared; the trainer fetches
	// them at every step (Trainer.Aux) for the host to read, such as the
	// encoder outputs and code indices an EMA codebook update needs.
	Aux []ValueInfo
}

// NewTrainGraph turns b, which holds a network's forward pass and loss
// (a scalar or [1] value), into a training step. b's graph inputs become
// the batch inputs, except those listed in host, which become host inputs
// (TrainGraph.Host: static shapes, no batch axis, set by the host); the
// outputs b already declares become auxiliary outputs (TrainGraph.Aux);
// its trainable initializers become state inputs and outputs. b is
// modified (the backward pass and optimizer are appended), so build
// inference graphs on a builder of their own.
func NewTrainGraph(b *Builder, loss *Value, cfg AdamWConfig, host ...*Value) (*TrainGraph, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b.err != nil {
		return nil, b.err
	}
	cfg = cfg.withDefaults()
	isHost := map[*Value]bool{}
	var frozen []*Initializer
	for _, h := range host {
		if h != nil && h.b == b && h.init != nil && h.init.Trainable {
			// A parameter given as a host value is frozen in this graph:
			// its data comes from the host at every step (the weights of
			// a network another training graph trains).
			if !isHost[h] {
				frozen = append(frozen, h.init)
			}
			isHost[h] = true
			continue
		}
		if h == nil || h.b != b || h.producer != nil || h.init != nil || !slices.Contains(b.inputs, h) {
			return nil, fmt.Errorf("onnxexport: training graph %s: %w: host value %v is not a graph input of the loss graph", b.name, ErrArgument, valueName(h))
		}
		if !h.shape.IsStatic() {
			return nil, fmt.Errorf("onnxexport: training graph %s: %w: host input %s %v needs a static shape", b.name, ErrShape, h.name, h.shape)
		}
		isHost[h] = true
	}
	var batch, hostInfo []ValueInfo
	for _, v := range b.inputs {
		vi := ValueInfo{Name: v.name, DType: v.dtype, Shape: v.shape.clone()}
		if isHost[v] {
			hostInfo = append(hostInfo, vi)
		} else {
			batch = append(batch, vi)
		}
	}
	for _, f := range frozen {
		hostInfo = append(hostInfo, ValueInfo{Name: f.Name, DType: f.Tensor.DType, Shape: Static(f.Tensor.Shape...)})
	}
	var aux []ValueInfo
	for _, v := range b.outputs {
		aux = append(aux, ValueInfo{Name: v.name, DType: v.dtype, Shape: v.shape.clone()})
	}
	params := slices.DeleteFunc(b.Params(), func(p *Initializer) bool { return isHost[p.Value] })
	if len(params) == 0 {
		return nil, fmt.Errorf("onnxexport: training graph %s: %w: the network has no parameters", b.name, ErrArgument)
	}
	if n := loss.shape.NumElements(); n != 1 {
		return nil, fmt.Errorf("onnxexport: training graph %s: %w: loss %s has shape %v, want one element", b.name, ErrShape, loss.name, loss.shape)
	}
	wrt := make([]*Value, len(params))
	for i, p := range params {
		wrt[i] = p.Value
		if !differentiable(p.Tensor.DType) {
			return nil, fmt.Errorf("onnxexport: training graph %s: %w: parameter %s is %v", b.name, ErrType, p.Name, p.Tensor.DType)
		}
	}
	grads, err := b.Gradients(loss, wrt)
	if err != nil {
		return nil, err
	}
	like := params[0].Value
	lr := b.Input(TrainInputLR, like.dtype, D(1))
	step := b.Input(TrainInputStep, like.dtype, D(1))
	norm := b.globalNorm(grads)
	if cfg.MaxGradNorm > 0 {
		// coef = min(1, max_norm / (norm + 1e-6)), as clip_grad_norm_.
		coef := b.Min(b.ScalarLike(norm, 1), b.Div(b.ScalarLike(norm, cfg.MaxGradNorm), b.Add(norm, b.ScalarLike(norm, 1e-6))))
		for i := range grads {
			grads[i] = b.Mul(grads[i], coef)
		}
	}
	// Bias corrections: the step size lr/(1-β1^t) and 1/sqrt(1-β2^t).
	bc1 := b.Sub(b.ScalarLike(step, 1), b.Pow(b.ScalarLike(step, cfg.Beta1), step))
	bc2 := b.Sub(b.ScalarLike(step, 1), b.Pow(b.ScalarLike(step, cfg.Beta2), step))
	stepSize := b.Div(lr, bc1)
	invSqrtBC2 := b.Reciprocal(b.Sqrt(bc2))
	decay := b.Sub(b.ScalarLike(lr, 1), b.Mul(lr, b.ScalarLike(lr, cfg.WeightDecay)))
	out := &TrainGraph{Name: b.name, Batch: batch, Config: cfg, Host: hostInfo, Aux: aux}
	for i, p := range params {
		g, w := grads[i], p.Value
		m := b.Input(StatePrefixAdamM+p.Name, w.dtype, w.shape...)
		v := b.Input(StatePrefixAdamV+p.Name, w.dtype, w.shape...)
		m2 := b.Add(b.Mul(m, b.ScalarLike(m, cfg.Beta1)), b.Mul(g, b.ScalarLike(g, 1-cfg.Beta1)))
		v2 := b.Add(b.Mul(v, b.ScalarLike(v, cfg.Beta2)), b.Mul(b.Mul(g, g), b.ScalarLike(g, 1-cfg.Beta2)))
		denom := b.Add(b.Mul(b.Sqrt(v2), invSqrtBC2), b.ScalarLike(v2, cfg.Eps))
		w2 := b.Sub(b.Mul(w, decay), b.Mul(stepSize, b.Div(m2, denom)))
		b.Output(UpdatedStatePrefix+p.Name, w2)
		b.Output(UpdatedStatePrefix+StatePrefixAdamM+p.Name, m2)
		b.Output(UpdatedStatePrefix+StatePrefixAdamV+p.Name, v2)
		tp := TrainParam{Name: p.Name, Shape: append([]int64{}, p.Tensor.Shape...), DType: p.Tensor.DType, Init: p.Tensor}
		if cfg.EMADecay > 0 {
			e := b.Input(StatePrefixEMA+p.Name, w.dtype, w.shape...)
			e2 := b.Add(b.Mul(e, b.ScalarLike(e, cfg.EMADecay)), b.Mul(w2, b.ScalarLike(w2, 1-cfg.EMADecay)))
			b.Output(UpdatedStatePrefix+StatePrefixEMA+p.Name, e2)
			tp.HasEMA = true
		}
		out.Params = append(out.Params, tp)
	}
	b.Output(TrainOutputLoss, b.Reshape(loss, 1))
	b.Output(TrainOutputNorm, norm)
	m, err := b.Build()
	if err != nil {
		return nil, err
	}
	paramsToInputs(m, append(params, frozen...))
	if out.Model, err = proto.Marshal(m); err != nil {
		return nil, fmt.Errorf("onnxexport: training graph %s: encode: %w", b.name, err)
	}
	return out, nil
}

// globalNorm returns sqrt(Σ‖g‖²) over all gradients, shaped [1].
func (b *Builder) globalNorm(grads []*Value) *Value {
	sq := make([]*Value, len(grads))
	for i, g := range grads {
		sq[i] = b.ReduceSum(b.Mul(g, g), true)
		sq[i] = b.Reshape(sq[i], 1)
	}
	total := sq[0]
	if len(sq) > 1 {
		total = b.Op("Sum", sq, nil, ValueType{sq[0].dtype, Static(1)})[0]
	}
	return b.Sqrt(total)
}

// paramsToInputs moves the trainable initializers of m to the graph's
// inputs (their data then comes from the trainer at every step).
func paramsToInputs(m *onnxpb.ModelProto, params []*Initializer) {
	isParam := map[string]*Initializer{}
	for _, p := range params {
		isParam[p.Name] = p
	}
	g := m.Graph
	kept := g.Initializer[:0]
	var inputs []*onnxpb.ValueInfoProto
	for _, t := range g.Initializer {
		if p, ok := isParam[t.GetName()]; ok {
			inputs = append(inputs, valueInfo(p.Value))
			continue
		}
		kept = append(kept, t)
	}
	g.Initializer = kept
	g.Input = append(g.Input, inputs...)
}

// valueName names v in an error message, nil included.
func valueName(v *Value) string {
	if v == nil {
		return "<nil>"
	}
	return v.name
}
