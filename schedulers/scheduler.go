package schedulers

// Noise fills dst with standard-normal float32 values drawn from the run's
// seeded generator, in the order torch.randn would produce them for a
// tensor of len(dst) elements. Stochastic samplers (Euler a, DDPM, DDIM with
// eta > 0, SDE DPM-Solver++, LCM) call it once per step with a buffer of the
// sample's size, exactly where diffusers calls randn_tensor.
type Noise interface {
	Randn(dst []float32)
}

// TimestepParams says how SetTimesteps builds the schedule.
type TimestepParams struct {
	// Steps is the number of inference steps; it must be at least 1.
	Steps int
	// Sigmas, when set, replaces the computed sigma schedule (Flux passes
	// linspace(1, 1/steps, steps)); only flow-matching schedulers accept it.
	Sigmas []float64
	// Mu is the dynamic-shifting parameter (FlowMatch with
	// use_dynamic_shifting); nil when the pipeline gives none.
	Mu *float64
	// Eta is DDIM's η, the weight of fresh noise per step (diffusers'
	// pipelines pass it to DDIMScheduler.step); 0 is deterministic DDIM.
	// Schedulers other than DDIM ignore it.
	Eta float64
	// Strength is the img2img strength in (0, 1]; 0 means 1. Only LCM's
	// schedule depends on it (diffusers passes strength to
	// LCMScheduler.set_timesteps); the others are trimmed by Img2ImgBegin.
	Strength float64
	// Batch is how many samples the flat latents given to Step hold
	// (0 means 1). Dynamic thresholding works per sample.
	Batch int
}

// Scheduler is one diffusers sampler. The pipeline loop is the diffusers one:
//
//	s.SetTimesteps(p)
//	for i, t := range s.Timesteps()[begin:] {   // begin from Img2ImgBegin
//		s.ScaleModelInput(in, latents, begin+i)
//		out := model(in, t)
//		s.Step(latents, out, latents, begin+i, noise)
//	}
//
// Indices address Timesteps(); a scheduler that needs several model
// evaluations per step (Heun) lists its timesteps repeatedly, as diffusers
// does. Step must not allocate; dst may alias sample.
type Scheduler interface {
	// Config returns the resolved configuration.
	Config() *Config
	// SetTimesteps builds the schedule and resets all multistep history.
	SetTimesteps(p TimestepParams) error
	// Timesteps returns the model timestep for each model evaluation.
	Timesteps() []float64
	// Order is the solver order diffusers reports (2 for Heun, 1 otherwise);
	// img2img trims Order()*tStart entries from the front of Timesteps.
	Order() int
	// InitNoiseSigma scales the initial standard-normal latents.
	InitNoiseSigma() float64
	// ScaleModelInput writes the model input for evaluation i into dst.
	ScaleModelInput(dst, sample []float32, i int)
	// Step computes the previous sample from the model output at
	// evaluation i and writes it to dst.
	Step(dst, modelOutput, sample []float32, i int, noise Noise) error
	// AddNoise writes original noised to timestep t into dst (img2img
	// start, legacy inpainting blend). Flow-matching schedulers implement
	// diffusers' scale_noise here.
	AddNoise(dst, original, noise []float32, t float64)
}
