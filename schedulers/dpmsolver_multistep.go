package schedulers

import (
	"fmt"
	"math"
)

// dpmSolverMultistep is DPMSolverMultistepScheduler: the multistep
// DPM-Solver (Lu et al. 2022, "DPM-Solver: A Fast ODE Solver for Diffusion
// Probabilistic Model Sampling in Around 10 Steps") and DPM-Solver++ (Lu et
// al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
// Probabilistic Models"), orders 1 to 3, with the SDE variants that add
// fresh noise each step. The history is the converted model outputs of the
// last solver_order steps.
type dpmSolverMultistep struct {
	multistepBase

	algorithm  string
	solverType string
	order      int
	learnedVar bool

	ac, trainSigmas, logSigmas, lambdas []float64

	// hist[len-1] is the newest converted output (x0 for the ++ variants,
	// epsilon for the others).
	hist           [][]float32
	lowerOrderNums int
	noise, scratch []float32
}

func newDPMSolverMultistep(cfg *Config) (Scheduler, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	s := &dpmSolverMultistep{}
	s.cfg = *cfg
	s.cfg.ClassName = ClassDPMSolverMultistep
	c := &s.cfg
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: "+format, append([]any{ClassDPMSolverMultistep, ErrInvalidConfig}, args...)...)
	}
	switch c.AlgorithmType {
	case "dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver":
		s.algorithm = c.AlgorithmType
	case "deis":
		// diffusers quietly maps DEIS configs onto DPM-Solver++.
		s.algorithm = "dpmsolver++"
	default:
		return nil, bad("unknown algorithm_type %q", c.AlgorithmType)
	}
	switch c.SolverType {
	case "midpoint", "heun":
		s.solverType = c.SolverType
	case "logrho", "bh1", "bh2":
		// UniPC and DEIS solver types carried over by from_config.
		s.solverType = "midpoint"
	default:
		return nil, bad("unknown solver_type %q", c.SolverType)
	}
	if c.SolverOrder < 1 || c.SolverOrder > 3 {
		return nil, bad("solver_order %d (supported: 1, 2, 3)", c.SolverOrder)
	}
	if s.algorithm == "sde-dpmsolver" && c.SolverOrder == 3 {
		return nil, bad("sde-dpmsolver has no third-order update; use solver_order 1 or 2")
	}
	s.order = c.SolverOrder
	switch c.FinalSigmasType {
	case "zero":
		if s.algorithm == "dpmsolver" || s.algorithm == "sde-dpmsolver" {
			return nil, bad("final_sigmas_type zero is not supported for algorithm_type %s; use sigma_min", s.algorithm)
		}
	case "sigma_min":
	default:
		return nil, bad("final_sigmas_type %q (want zero or sigma_min)", c.FinalSigmasType)
	}
	switch c.PredictionType {
	case PredictEpsilon, PredictV, PredictSample:
	case PredictFlow:
		if s.algorithm != "dpmsolver++" && s.algorithm != "sde-dpmsolver++" {
			return nil, bad("prediction_type flow_prediction needs algorithm_type dpmsolver++ or sde-dpmsolver++")
		}
	default:
		return nil, bad("unknown prediction_type %q", c.PredictionType)
	}
	if c.VarianceType != nil {
		switch *c.VarianceType {
		case "learned", "learned_range":
			s.learnedVar = true
		default:
			return nil, bad("variance_type %q (want null, learned or learned_range)", *c.VarianceType)
		}
	}
	if _, err := sigmaScheduleKind(c); err != nil {
		return nil, fmt.Errorf("%s: %w", ClassDPMSolverMultistep, err)
	}
	if err := checkSpacing(c.TimestepSpacing); err != nil {
		return nil, fmt.Errorf("%s: %w", ClassDPMSolverMultistep, err)
	}
	if c.Thresholding && (c.DynamicThresholdingRatio <= 0 || c.DynamicThresholdingRatio > 1 || c.SampleMaxValue <= 0) {
		return nil, bad("thresholding needs dynamic_thresholding_ratio in (0, 1] and a positive sample_max_value")
	}
	ac, err := alphasCumprod(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", ClassDPMSolverMultistep, ErrInvalidConfig, err)
	}
	s.ac = ac
	s.trainSigmas, s.logSigmas, s.lambdas = trainSigmaTables(ac)
	s.flow = c.UseFlowSigmas
	return s, nil
}

// checkSpacing rejects an unknown timestep_spacing.
func checkSpacing(sp TimestepSpacing) error {
	switch sp {
	case SpacingLinspace, SpacingLeading, SpacingTrailing:
		return nil
	}
	return fmt.Errorf("%w: unknown timestep_spacing %q", ErrInvalidConfig, sp)
}

// SetTimesteps builds the schedule as DPMSolverMultistepScheduler's
// set_timesteps does, including the lambda_min_clipped cut of the training
// range, and clears the history.
func (s *dpmSolverMultistep) SetTimesteps(p TimestepParams) error {
	c := &s.cfg
	wrap := func(err error) error { return fmt.Errorf("%s: %w", ClassDPMSolverMultistep, err) }
	if err := s.reset(p); err != nil {
		return wrap(err)
	}
	if len(p.Sigmas) > 0 {
		return wrap(fmt.Errorf("%w: custom sigmas are not supported by this scheduler", ErrInvalidConfig))
	}
	n := p.Steps
	if err := checkSteps(c, n); err != nil {
		return wrap(err)
	}
	flowShift := c.FlowShift
	if p.Mu != nil {
		if !c.UseDynamicShift || c.TimeShiftType != "exponential" {
			return wrap(fmt.Errorf("%w: mu needs use_dynamic_shifting with time_shift_type exponential", ErrInvalidConfig))
		}
		flowShift = math.Exp(*p.Mu)
	}
	N := c.NumTrainTimesteps
	// Timesteps whose lambda falls below lambda_min_clipped are cut from
	// the top of the range (diffusers' clipped_idx, for cosine schedules).
	clipped := 0
	for k := N - 1; k >= 0 && s.lambdas[k] < c.LambdaMinClipped; k-- {
		clipped++
	}
	ts, err := multistepSpacing(c.TimestepSpacing, N, N-clipped, n, c.StepsOffset)
	if err != nil {
		return wrap(err)
	}
	kind, _ := sigmaScheduleKind(c)
	roundT := c.BetaSchedule != BetaCosine
	var sigmas []float64
	switch {
	case kind == "karras":
		sigmas = sigmasKarras(s.trainSigmas[0], s.trainSigmas[N-1], n)
		ts = s.timestepsFor(sigmas, roundT)
	case c.UseLuLambdas:
		// Uniform in log sigma over the whole training range (Lu et al.'s
		// logSNR-uniform steps).
		lo, hi := s.logSigmas[0], s.logSigmas[N-1]
		sigmas = make([]float64, n)
		for i := range sigmas {
			sigmas[i] = math.Exp(hi + npLinspaceAt(0, 1, n, i)*(lo-hi))
		}
		ts = s.timestepsFor(sigmas, roundT)
	case kind != "":
		sigmas = convertSigmas(kind, s.trainSigmas[0], s.trainSigmas[N-1], n)
		ts = s.timestepsFor(sigmas, false)
	case c.UseFlowSigmas:
		sigmas = make([]float64, n)
		ts = make([]float64, n)
		for i := range sigmas {
			// Reversed, without the final zero.
			x := 1 - npLinspaceAt(1, 1/float64(N), n+1, n-i)
			sigmas[i] = flowShift * x / (1 + (flowShift-1)*x)
			ts[i] = truncInt64(sigmas[i] * float64(N))
		}
	default:
		sigmas = make([]float64, len(ts))
		for i, t := range ts {
			sigmas[i] = npInterpUnit(t, s.trainSigmas)
		}
	}
	last := 0.0
	if c.FinalSigmasType == "sigma_min" {
		last = s.trainSigmas[0]
	}
	s.sigmas = float32s(append(sigmas, last))
	s.timesteps = ts
	s.lowerOrderNums = 0
	return nil
}

// timestepsFor maps sigmas back to training timesteps, rounded or (as
// diffusers' int64 cast does) truncated.
func (s *dpmSolverMultistep) timestepsFor(sigmas []float64, round bool) []float64 {
	ts := make([]float64, len(sigmas))
	for i, sg := range sigmas {
		t := sigmaToT(sg, s.logSigmas)
		if round {
			t = math.RoundToEven(t)
		}
		ts[i] = truncInt64(t)
	}
	return ts
}

// multistepSpacing is the integer timestep spacing of the DPM-Solver and
// UniPC schedulers: n+1 points of which the last is dropped, over the first
// last of the numTrain training timesteps.
func multistepSpacing(sp TimestepSpacing, numTrain, last, n, offset int) ([]float64, error) {
	var ts []float64
	switch sp {
	case SpacingLinspace:
		lin := npLinspace(0, float64(last-1), n+1)
		ts = make([]float64, n)
		for i := range ts {
			ts[i] = math.RoundToEven(lin[n-i])
		}
	case SpacingLeading:
		ratio := last / (n + 1)
		ts = make([]float64, n)
		for i := range ts {
			ts[i] = float64((n-i)*ratio + offset)
		}
	case SpacingTrailing:
		ar := npArangeFill(float64(last), float64(numTrain)/float64(n))
		ts = make([]float64, len(ar))
		for i, v := range ar {
			ts[i] = math.RoundToEven(v) - 1
		}
	default:
		return nil, fmt.Errorf("%w: unknown timestep_spacing %q", ErrInvalidConfig, sp)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: %d steps leave no timesteps", ErrInvalidSteps, n)
	}
	return ts, nil
}

// Step advances one DPM-Solver step from sigmas[i] to sigmas[i+1] and
// records the converted model output for the next steps.
func (s *dpmSolverMultistep) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	factor := 1
	if s.learnedVar {
		factor = 2
	}
	if err := s.checkStep(dst, modelOutput, sample, i, factor); err != nil {
		return err
	}
	stochastic := s.algorithm == "sde-dpmsolver++" || s.algorithm == "sde-dpmsolver"
	if stochastic && noise == nil {
		return fmt.Errorf("%s: %w: %s needs a Noise source", ClassDPMSolverMultistep, ErrBadInput, s.algorithm)
	}
	n := len(s.timesteps)
	lowerFinal := i == n-1 && (s.cfg.EulerAtFinal || (s.cfg.LowerOrderFinal && n < 15) || s.cfg.FinalSigmasType == "zero")
	lowerSecond := i == n-2 && s.cfg.LowerOrderFinal && n < 15

	s.ensureBuffers(len(sample))
	m0 := rotate(s.hist)
	s.convert(m0, modelOutput, sample, i)
	var z []float32
	if stochastic {
		noise.Randn(s.noise)
		z = s.noise
	}

	order := 3
	switch {
	case s.order == 1 || s.lowerOrderNums < 1 || lowerFinal:
		order = 1
	case s.order == 2 || s.lowerOrderNums < 2 || lowerSecond:
		order = 2
	}
	s.update(dst, sample, z, i, order)
	if s.lowerOrderNums < s.order {
		s.lowerOrderNums++
	}
	s.prev = i
	return nil
}

func (s *dpmSolverMultistep) ensureBuffers(n int) {
	if len(s.hist) != s.order {
		s.hist = make([][]float32, s.order)
	}
	for k := range s.hist {
		s.hist[k] = growTo(s.hist[k], n)
	}
	if s.algorithm == "sde-dpmsolver++" || s.algorithm == "sde-dpmsolver" {
		s.noise = growTo(s.noise, n)
	}
	if s.cfg.Thresholding {
		s.scratch = growTo(s.scratch, n/s.batch)
	}
}

// convert writes diffusers' convert_model_output into m: the predicted
// clean sample for the ++ variants, the predicted noise for the others,
// with dynamic thresholding applied to the clean sample.
func (s *dpmSolverMultistep) convert(m, out, sample []float32, i int) {
	per := len(sample) / s.batch
	stride := len(out) / s.batch
	sg := s.sigmas[i]
	a, sgt := s.alphaSigma(sg)
	af, sf, sgf := float32(a), float32(sgt), float32(sg)
	plus := s.algorithm == "dpmsolver++" || s.algorithm == "sde-dpmsolver++"
	for b := range s.batch {
		x := sample[b*per : (b+1)*per]
		o := out[b*stride : b*stride+per][:len(x)]
		y := m[b*per : (b+1)*per][:len(x)]
		switch {
		case plus && s.cfg.PredictionType == PredictEpsilon:
			for j, v := range x {
				y[j] = (v - sf*o[j]) / af
			}
		case plus && s.cfg.PredictionType == PredictV:
			for j, v := range x {
				y[j] = af*v - sf*o[j]
			}
		case plus && s.cfg.PredictionType == PredictFlow:
			for j, v := range x {
				y[j] = v - sgf*o[j]
			}
		case plus: // sample
			copy(y, o)
		case s.cfg.PredictionType == PredictEpsilon:
			copy(y, o)
		case s.cfg.PredictionType == PredictV:
			for j, v := range x {
				y[j] = af*o[j] + sf*v
			}
		default: // sample
			for j, v := range x {
				y[j] = (v - af*o[j]) / sf
			}
		}
	}
	if !s.cfg.Thresholding {
		return
	}
	if plus {
		thresholdSample(m, s.batch, s.cfg.DynamicThresholdingRatio, s.cfg.SampleMaxValue, s.scratch)
		return
	}
	// The epsilon variants threshold the implied clean sample and convert
	// back.
	for j, v := range sample {
		m[j] = (v - sf*m[j]) / af
	}
	thresholdSample(m, s.batch, s.cfg.DynamicThresholdingRatio, s.cfg.SampleMaxValue, s.scratch)
	for j, v := range sample {
		m[j] = (v - af*m[j]) / sf
	}
}

// dpmCoefs are the per-step scalars of one update,
// x_t = cS*x + c0*D0 + c1*D1 + c2*D2 + cN*noise, with D0..D2 the divided
// differences of the history (see update).
type dpmCoefs struct {
	cS, c0, c1, c2, cN float64
}

// update writes the order-k multistep update from sigmas[i] to
// sigmas[i+1] into dst.
func (s *dpmSolverMultistep) update(dst, sample, z []float32, i, order int) {
	at, st := s.alphaSigma(s.sigmas[i+1])
	as0, ss0 := s.alphaSigma(s.sigmas[i])
	lt, l0 := math.Log(at)-math.Log(st), math.Log(as0)-math.Log(ss0)
	h := lt - l0
	var r0, r1 float64
	if order >= 2 {
		r0 = (l0 - s.lambda(i-1)) / h
	}
	if order == 3 {
		r1 = (s.lambda(i-1) - s.lambda(i-2)) / h
	}
	k := s.coefs(order, at, st, as0, ss0, h)
	cS, c0, c1, c2, cN := float32(k.cS), float32(k.c0), float32(k.c1), float32(k.c2), float32(k.cN)
	// Equal lengths let the compiler drop the bounds checks in the loops.
	dst = dst[:len(sample)]
	m0 := s.hist[len(s.hist)-1][:len(sample)]
	if z != nil {
		z = z[:len(sample)]
	}
	switch order {
	case 1:
		if z == nil {
			for j, x := range sample {
				dst[j] = cS*x + c0*m0[j]
			}
			return
		}
		for j, x := range sample {
			dst[j] = cS*x + c0*m0[j] + cN*z[j]
		}
	case 2:
		m1 := s.hist[len(s.hist)-2][:len(sample)]
		ir0 := float32(1 / r0)
		if z == nil {
			for j, x := range sample {
				d1 := ir0 * (m0[j] - m1[j])
				dst[j] = cS*x + c0*m0[j] + c1*d1
			}
			return
		}
		for j, x := range sample {
			d1 := ir0 * (m0[j] - m1[j])
			dst[j] = cS*x + c0*m0[j] + c1*d1 + cN*z[j]
		}
	default:
		m1, m2 := s.hist[len(s.hist)-2][:len(sample)], s.hist[len(s.hist)-3][:len(sample)]
		ir0, ir1 := float32(1/r0), float32(1/r1)
		w, iw := float32(r0/(r0+r1)), float32(1/(r0+r1))
		for j, x := range sample {
			d10 := ir0 * (m0[j] - m1[j])
			d11 := ir1 * (m1[j] - m2[j])
			d1 := d10 + w*(d10-d11)
			d2 := iw * (d10 - d11)
			v := cS*x + c0*m0[j] + c1*d1 + c2*d2
			if z != nil {
				v += cN * z[j]
			}
			dst[j] = v
		}
	}
}

// coefs returns the update coefficients of the configured algorithm and
// solver type at the given order; h is the step in half log-SNR.
func (s *dpmSolverMultistep) coefs(order int, at, st, as0, ss0, h float64) dpmCoefs {
	var k dpmCoefs
	switch s.algorithm {
	case "dpmsolver++":
		em := math.Exp(-h) - 1
		k.cS, k.c0 = st/ss0, -at*em
		switch {
		case order == 2 && s.solverType == "midpoint":
			k.c1 = -0.5 * at * em
		case order >= 2:
			k.c1 = at * (em/h + 1)
		}
		if order == 3 {
			k.c2 = -at * ((em+h)/(h*h) - 0.5)
		}
	case "dpmsolver":
		ep := math.Exp(h) - 1
		k.cS, k.c0 = at/as0, -st*ep
		switch {
		case order == 2 && s.solverType == "midpoint":
			k.c1 = -0.5 * st * ep
		case order >= 2:
			k.c1 = -st * (ep/h - 1)
		}
		if order == 3 {
			k.c2 = -st * ((ep-h)/(h*h) - 0.5)
		}
	case "sde-dpmsolver++":
		e2 := 1 - math.Exp(-2*h)
		k.cS, k.c0 = st/ss0*math.Exp(-h), at*e2
		switch {
		case order == 2 && s.solverType == "midpoint":
			k.c1 = 0.5 * at * e2
		case order >= 2:
			k.c1 = at * (e2/(-2*h) + 1)
		}
		if order == 3 {
			k.c2 = at * ((e2-2*h)/(4*h*h) - 0.5)
		}
		k.cN = st * math.Sqrt(e2)
	default: // sde-dpmsolver
		ep := math.Exp(h) - 1
		k.cS, k.c0 = at/as0, -2*st*ep
		switch {
		case order == 2 && s.solverType == "midpoint":
			k.c1 = -st * ep
		case order >= 2:
			k.c1 = -2 * st * (ep/h - 1)
		}
		k.cN = st * math.Sqrt(math.Exp(2*h)-1)
	}
	return k
}
