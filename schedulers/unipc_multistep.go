package schedulers

import (
	"fmt"
	"math"
	"slices"
)

// maxUniPCOrder bounds solver_order so that the small linear systems of the
// predictor and corrector live in fixed arrays.
const maxUniPCOrder = 6

// uniPCMultistep is UniPCMultistepScheduler: the unified predictor-corrector
// of Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for
// Fast Sampling of Diffusion Models". Each step first corrects the sample
// the previous step predicted (UniC, using the new model output), then
// predicts the next sample (UniP) from the history of converted outputs.
type uniPCMultistep struct {
	multistepBase

	order     int
	bh2       bool
	predictX0 bool

	ac, trainSigmas, logSigmas []float64

	hist           [][]float32
	lowerOrderNums int
	thisOrder      int
	haveLast       bool
	last, conv     []float32
	scratch        []float32
}

func newUniPCMultistep(cfg *Config) (Scheduler, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	s := &uniPCMultistep{}
	s.cfg = *cfg
	s.cfg.ClassName = ClassUniPCMultistep
	c := &s.cfg
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: "+format, append([]any{ClassUniPCMultistep, ErrInvalidConfig}, args...)...)
	}
	if c.SolverP != nil {
		return nil, bad("solver_p (an external predictor scheduler) is not supported")
	}
	switch c.SolverType {
	case "bh1":
	case "bh2", "midpoint", "heun", "logrho":
		// DPM-Solver and DEIS solver types carried over by from_config.
		s.bh2 = true
	default:
		return nil, bad("unknown solver_type %q (want bh1 or bh2)", c.SolverType)
	}
	if c.SolverOrder < 1 || c.SolverOrder > maxUniPCOrder {
		return nil, bad("solver_order %d (supported: 1 to %d)", c.SolverOrder, maxUniPCOrder)
	}
	s.order = c.SolverOrder
	s.predictX0 = c.PredictX0
	switch c.PredictionType {
	case PredictEpsilon, PredictV, PredictSample:
	case PredictFlow:
		if !c.PredictX0 {
			return nil, bad("prediction_type flow_prediction needs predict_x0")
		}
	default:
		return nil, bad("unknown prediction_type %q", c.PredictionType)
	}
	if c.FinalSigmasType != "zero" && c.FinalSigmasType != "sigma_min" {
		return nil, bad("final_sigmas_type %q (want zero or sigma_min)", c.FinalSigmasType)
	}
	if c.ShiftTerminal != nil && !c.UseFlowSigmas {
		return nil, bad("shift_terminal needs use_flow_sigmas")
	}
	if c.UseFlowSigmas && c.UseDynamicShift && c.TimeShiftType != "exponential" && c.TimeShiftType != "linear" {
		return nil, bad("time_shift_type %q (want exponential or linear)", c.TimeShiftType)
	}
	if _, err := sigmaScheduleKind(c); err != nil {
		return nil, fmt.Errorf("%s: %w", ClassUniPCMultistep, err)
	}
	if err := checkSpacing(c.TimestepSpacing); err != nil {
		return nil, fmt.Errorf("%s: %w", ClassUniPCMultistep, err)
	}
	if c.Thresholding && (c.DynamicThresholdingRatio <= 0 || c.DynamicThresholdingRatio > 1 || c.SampleMaxValue <= 0) {
		return nil, bad("thresholding needs dynamic_thresholding_ratio in (0, 1] and a positive sample_max_value")
	}
	ac, err := alphasCumprod(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", ClassUniPCMultistep, ErrInvalidConfig, err)
	}
	s.ac = ac
	s.trainSigmas, s.logSigmas, _ = trainSigmaTables(ac)
	s.flow = c.UseFlowSigmas
	return s, nil
}

// SetTimesteps builds the schedule as UniPCMultistepScheduler's
// set_timesteps does and clears the history. Custom sigmas are accepted with
// use_flow_sigmas only.
func (s *uniPCMultistep) SetTimesteps(p TimestepParams) error {
	c := &s.cfg
	wrap := func(err error) error { return fmt.Errorf("%s: %w", ClassUniPCMultistep, err) }
	if err := s.reset(p); err != nil {
		return wrap(err)
	}
	if c.UseDynamicShift && p.Mu == nil {
		return wrap(fmt.Errorf("%w: use_dynamic_shifting needs mu", ErrInvalidConfig))
	}
	n := p.Steps
	custom := p.Sigmas
	if len(custom) > 0 {
		if !c.UseFlowSigmas {
			return wrap(fmt.Errorf("%w: custom sigmas need use_flow_sigmas", ErrInvalidConfig))
		}
		if n != 0 && n != len(custom) {
			return wrap(fmt.Errorf("%w: %d steps but %d sigmas", ErrInvalidSteps, n, len(custom)))
		}
		n = len(custom)
	}
	if err := checkSteps(c, n); err != nil {
		return wrap(err)
	}
	N := c.NumTrainTimesteps
	ts, err := multistepSpacing(c.TimestepSpacing, N, N, n, c.StepsOffset)
	if err != nil {
		return wrap(err)
	}
	kind, _ := sigmaScheduleKind(c)
	var sigmas []float64
	var last float64
	switch {
	case kind != "":
		base, logBase := s.trainSigmas, s.logSigmas
		if len(custom) > 0 {
			base = custom
			logBase = make([]float64, len(custom))
			for i, v := range custom {
				logBase[i] = math.Log(v)
			}
		}
		lo, hi := base[0], base[len(base)-1]
		if c.SigmaMin != nil {
			lo = *c.SigmaMin
		}
		if c.SigmaMax != nil {
			hi = *c.SigmaMax
		}
		sigmas = convertSigmas(kind, lo, hi, n)
		ts = make([]float64, n)
		switch {
		case kind == "karras" && c.UseFlowSigmas:
			for i, v := range sigmas {
				sigmas[i] = v / (v + 1)
				ts[i] = truncInt64(sigmas[i] * float64(N))
			}
		default:
			for i, v := range sigmas {
				t := sigmaToT(v, logBase)
				if kind == "karras" {
					t = math.RoundToEven(t)
				}
				ts[i] = truncInt64(t)
			}
		}
		if c.FinalSigmasType == "sigma_min" {
			last = sigmas[n-1]
		}
	case c.UseFlowSigmas:
		sigmas = make([]float64, n)
		for i := range sigmas {
			if len(custom) > 0 {
				sigmas[i] = custom[i]
			} else {
				sigmas[i] = npLinspaceAt(1, 1/float64(N), n+1, i)
			}
		}
		if err := shiftFlowSigmas(sigmas, c, c.FlowShift, p.Mu); err != nil {
			return wrap(err)
		}
		if math.Abs(sigmas[0]-1) < 1e-6 {
			// Keep the first timestep inside the training range.
			sigmas[0] -= 1e-6
		}
		ts = make([]float64, n)
		for i, v := range sigmas {
			ts[i] = truncInt64(v * float64(N))
		}
		if c.FinalSigmasType == "sigma_min" {
			last = sigmas[n-1]
		}
	default:
		sigmas = make([]float64, len(ts))
		for i, t := range ts {
			sigmas[i] = npInterpUnit(t, s.trainSigmas)
		}
		if c.FinalSigmasType == "sigma_min" {
			last = s.trainSigmas[0]
		}
	}
	s.sigmas = float32s(append(sigmas, last))
	s.timesteps = ts
	s.lowerOrderNums, s.thisOrder, s.haveLast = 0, 0, false
	return nil
}

// shiftFlowSigmas applies the resolution shift to flow-matching sigmas in
// place: the time_shift of mu with use_dynamic_shifting, the static
// shift*s/(1+(shift-1)*s) otherwise, then the shift_terminal stretch.
func shiftFlowSigmas(sigmas []float64, c *Config, shift float64, mu *float64) error {
	if c.UseDynamicShift {
		if mu == nil {
			return fmt.Errorf("%w: use_dynamic_shifting needs mu", ErrInvalidConfig)
		}
		for i, t := range sigmas {
			v, err := timeShift(c.TimeShiftType, *mu, t)
			if err != nil {
				return err
			}
			sigmas[i] = v
		}
	} else {
		for i, t := range sigmas {
			sigmas[i] = shift * t / (1 + (shift-1)*t)
		}
	}
	if c.ShiftTerminal != nil && *c.ShiftTerminal != 0 {
		stretchToTerminal(sigmas, *c.ShiftTerminal)
	}
	return nil
}

// timeShift is the resolution-dependent shift of Esser et al. 2024
// ("Scaling Rectified Flow Transformers", SD3) with sigma = 1:
// e^mu / (e^mu + 1/t - 1), or mu / (mu + 1/t - 1) for the linear type.
func timeShift(kind string, mu, t float64) (float64, error) {
	switch kind {
	case "exponential", "":
		e := math.Exp(mu)
		return e / (e + (1/t - 1)), nil
	case "linear":
		return mu / (mu + (1/t - 1)), nil
	}
	return 0, fmt.Errorf("%w: time_shift_type %q (want exponential or linear)", ErrInvalidConfig, kind)
}

// stretchToTerminal rescales 1 - t so that the last value becomes terminal
// (the LTX-Video schedule), in place.
func stretchToTerminal(t []float64, terminal float64) {
	scale := (1 - t[len(t)-1]) / (1 - terminal)
	for i, v := range t {
		t[i] = 1 - (1-v)/scale
	}
}

// Step corrects the sample with the new model output (unless the corrector
// is disabled for the previous step), then predicts the next sample.
func (s *uniPCMultistep) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := s.checkStep(dst, modelOutput, sample, i, 1); err != nil {
		return err
	}
	s.ensureBuffers(len(sample))
	s.convert(s.conv, modelOutput, sample, i)

	useCorrector := i > 0 && s.haveLast && !slices.Contains(s.cfg.DisableCorrector, i-1)
	if useCorrector {
		// The corrected sample overwrites last (the previous step's input),
		// which the corrector reads element by element.
		s.correct(s.last, s.conv, i, s.thisOrder)
	} else {
		copy(s.last, sample)
	}
	// The converted output becomes the newest history entry; the buffer
	// it displaces takes the next conversion.
	oldest := rotate(s.hist)
	s.hist[len(s.hist)-1], s.conv = s.conv, oldest

	order := s.order
	if s.cfg.LowerOrderFinal {
		order = min(s.order, len(s.timesteps)-i)
	}
	s.thisOrder = min(order, s.lowerOrderNums+1)
	s.haveLast = true
	s.predict(dst, s.last, i, s.thisOrder)
	if s.lowerOrderNums < s.order {
		s.lowerOrderNums++
	}
	s.prev = i
	return nil
}

func (s *uniPCMultistep) ensureBuffers(n int) {
	if len(s.hist) != s.order {
		s.hist = make([][]float32, s.order)
	}
	for k := range s.hist {
		s.hist[k] = growTo(s.hist[k], n)
	}
	s.last = growTo(s.last, n)
	s.conv = growTo(s.conv, n)
	if s.cfg.Thresholding {
		s.scratch = growTo(s.scratch, n/s.batch)
	}
}

// convert is UniPC's convert_model_output: the predicted clean sample with
// predict_x0 (thresholded when configured), the predicted noise otherwise.
func (s *uniPCMultistep) convert(m, out, sample []float32, i int) {
	sg := s.sigmas[i]
	a, st := s.alphaSigma(sg)
	af, sf, sgf := float32(a), float32(st), float32(sg)
	pt := s.cfg.PredictionType
	m, out = m[:len(sample)], out[:len(sample)]
	switch {
	case s.predictX0 && pt == PredictEpsilon:
		for j, v := range sample {
			m[j] = (v - sf*out[j]) / af
		}
	case s.predictX0 && pt == PredictV:
		for j, v := range sample {
			m[j] = af*v - sf*out[j]
		}
	case s.predictX0 && pt == PredictFlow:
		for j, v := range sample {
			m[j] = v - sgf*out[j]
		}
	case s.predictX0 || pt == PredictEpsilon: // sample prediction, or epsilon kept
		copy(m, out)
	case pt == PredictV:
		for j, v := range sample {
			m[j] = af*out[j] + sf*v
		}
	default: // sample prediction to epsilon
		for j, v := range sample {
			m[j] = (v - af*out[j]) / sf
		}
	}
	if s.predictX0 && s.cfg.Thresholding {
		thresholdSample(m, s.batch, s.cfg.DynamicThresholdingRatio, s.cfg.SampleMaxValue, s.scratch)
	}
}

// uniCoefs holds one predictor or corrector update,
// x_t = cX*x - cM*m0 - cB*(sum_k w[k]*(m_k - m0) + wT*(m_t - m0)).
type uniCoefs struct {
	cX, cM, cB float64
	w          [maxUniPCOrder]float64
	wT         float64
}

// coefs builds the UniPC update from sigmas[s0] to sigmas[t] using the
// history entries at sigma indices hidx (newest first after m0). With
// corrector, the last weight goes to the new model output.
func (s *uniPCMultistep) coefs(t, s0 int, hidx []int, order int, corrector bool) uniCoefs {
	at, st := s.alphaSigma(s.sigmas[t])
	as0, ss0 := s.alphaSigma(s.sigmas[s0])
	lt, l0 := math.Log(at)-math.Log(st), math.Log(as0)-math.Log(ss0)
	h := lt - l0
	hh := h
	if s.predictX0 {
		hh = -h
	}
	hPhi1 := math.Expm1(hh)
	bh := hh
	if s.bh2 {
		bh = math.Expm1(hh)
	}
	var k uniCoefs
	if s.predictX0 {
		k.cX, k.cM, k.cB = st/ss0, at*hPhi1, at*bh
	} else {
		k.cX, k.cM, k.cB = at/as0, st*hPhi1, st*bh
	}
	// rks: the step ratios of the history points, then 1.
	var rks, b [maxUniPCOrder]float64
	for j := 0; j < order-1; j++ {
		rks[j] = (s.lambda(hidx[j]) - l0) / h
	}
	rks[order-1] = 1
	hPhiK := hPhi1/hh - 1
	fact := 1.0
	for j := 1; j <= order; j++ {
		b[j-1] = hPhiK * fact / bh
		fact *= float64(j + 1)
		hPhiK = hPhiK/hh - 1/fact
	}
	var rhos [maxUniPCOrder]float64
	switch {
	case corrector && order == 1:
		rhos[0] = 0.5
	case corrector:
		rhos = solveVandermonde(rks[:order], b[:order])
	case order == 2:
		rhos[0] = 0.5
	case order > 2:
		rhos = solveVandermonde(rks[:order-1], b[:order-1])
	}
	for j := 0; j < order-1; j++ {
		k.w[j] = rhos[j] / rks[j]
	}
	if corrector {
		k.wT = rhos[order-1]
	}
	return k
}

// solveVandermonde solves sum_j r[j]^i x[j] = b[i] for i < len(r), the
// system R x = b of UniPC with R[i][j] = r[j]^i, by Gaussian elimination
// with partial pivoting.
func solveVandermonde(r, b []float64) [maxUniPCOrder]float64 {
	n := len(r)
	var m [maxUniPCOrder][maxUniPCOrder + 1]float64
	for i := range n {
		for j := range n {
			m[i][j] = math.Pow(r[j], float64(i))
		}
		m[i][n] = b[i]
	}
	for col := range n {
		p := col
		for row := col + 1; row < n; row++ {
			if math.Abs(m[row][col]) > math.Abs(m[p][col]) {
				p = row
			}
		}
		m[col], m[p] = m[p], m[col]
		for row := col + 1; row < n; row++ {
			f := m[row][col] / m[col][col]
			for j := col; j <= n; j++ {
				m[row][j] -= f * m[col][j]
			}
		}
	}
	var x [maxUniPCOrder]float64
	for i := n - 1; i >= 0; i-- {
		v := m[i][n]
		for j := i + 1; j < n; j++ {
			v -= m[i][j] * x[j]
		}
		x[i] = v / m[i][i]
	}
	return x
}

// correct applies UniC at evaluation i: it recomputes the step from
// sigmas[i-1] to sigmas[i] that produced the current sample, now with the
// model output mt at sigmas[i], and writes the corrected sample over x (the
// previous step's input).
func (s *uniPCMultistep) correct(x, mt []float32, i, order int) {
	var hidx [maxUniPCOrder]int
	for k := 1; k < order; k++ {
		hidx[k-1] = i - (k + 1)
	}
	c := s.coefs(i, i-1, hidx[:order-1], order, true)
	s.apply(x, x, mt, c, order)
}

// predict applies UniP at evaluation i from sigmas[i] to sigmas[i+1] and
// writes the next sample to dst.
func (s *uniPCMultistep) predict(dst, x []float32, i, order int) {
	var hidx [maxUniPCOrder]int
	for k := 1; k < order; k++ {
		hidx[k-1] = i - k
	}
	c := s.coefs(i+1, i, hidx[:order-1], order, false)
	s.apply(dst, x, nil, c, order)
}

// apply evaluates one update element by element. hist[len-1] is m0 and
// hist[len-1-k] the k-th older output; mt is the corrector's new output.
func (s *uniPCMultistep) apply(dst, x, mt []float32, c uniCoefs, order int) {
	n := len(s.hist)
	// Equal lengths let the compiler drop the bounds checks in the loops.
	x = x[:len(dst)]
	m0 := s.hist[n-1][:len(dst)]
	if mt != nil {
		mt = mt[:len(dst)]
	}
	cX, cM, cB := float32(c.cX), float32(c.cM), float32(c.cB)
	switch {
	case order == 1 && mt == nil:
		for j, v := range x {
			dst[j] = cX*v - cM*m0[j]
		}
	case order == 1:
		wT := float32(c.wT)
		for j, v := range x {
			dst[j] = cX*v - cM*m0[j] - cB*(wT*(mt[j]-m0[j]))
		}
	case order == 2 && mt == nil:
		m1, w1 := s.hist[n-2][:len(dst)], float32(c.w[0])
		for j, v := range x {
			dst[j] = cX*v - cM*m0[j] - cB*(w1*(m1[j]-m0[j]))
		}
	case order == 2:
		m1, w1, wT := s.hist[n-2][:len(dst)], float32(c.w[0]), float32(c.wT)
		for j, v := range x {
			dst[j] = cX*v - cM*m0[j] - cB*(w1*(m1[j]-m0[j])+wT*(mt[j]-m0[j]))
		}
	default:
		var w [maxUniPCOrder]float32
		for k := 0; k < order-1; k++ {
			w[k] = float32(c.w[k])
		}
		wT := float32(c.wT)
		for j, v := range x {
			var res float32
			for k := 0; k < order-1; k++ {
				res += w[k] * (s.hist[n-2-k][j] - m0[j])
			}
			if mt != nil {
				res += wT * (mt[j] - m0[j])
			}
			dst[j] = cX*v - cM*m0[j] - cB*res
		}
	}
}
